// The real CBOE SPX chains of ../shared/data/cboe (see its README), read into our `chain` contract. The data is not
// copied into the repository: tests that need it skip with one line when the folder is absent.
import fs from 'node:fs';
import path from 'node:path';
import { NEW_YORK, zonedTime } from '../../lib/clock';
import type { Chain, OptionQuote } from '../../lib/contracts';

const REPO = path.resolve(__dirname, '..', '..');
/** ../shared/data/cboe next to the repository (a git worktree under wt/<name> looks one level further up). */
export const CBOE_DIR =
  [path.resolve(REPO, '..', 'shared', 'data', 'cboe'), path.resolve(REPO, '..', '..', 'shared', 'data', 'cboe')].find((d) => fs.existsSync(d)) ??
  path.resolve(REPO, '..', 'shared', 'data', 'cboe');

export function cboeAvailable(file: string): boolean {
  return fs.existsSync(path.join(CBOE_DIR, file));
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const SHORT_MONTHS = MONTHS.map((m) => m.slice(0, 3));

/**
 * "Date: July 12, 2022, 11:55 AM EDT", "Date: January 7, 2024 at 10:52 AM EST" or "Date: February 5 2022, 8:09 PM EST"
 * (CBOE has printed all three) → epoch ms (New York time).
 */
function snapshotTime(line: string): number {
  const m = /Date: (\w+) (\d+),? (\d{4})(?:,| at) (\d+):(\d+) (AM|PM)/.exec(line);
  if (!m) throw new Error(`CBOE chain: no snapshot date in ${JSON.stringify(line)}`);
  const month = MONTHS.indexOf(m[1]) + 1;
  const hour = (Number(m[4]) % 12) + (m[6] === 'PM' ? 12 : 0);
  return zonedTime(NEW_YORK, Number(m[3]), month, Number(m[2]), hour, Number(m[5]));
}

/** "Fri Jul 15 2022" → "20220715". */
function expiryOf(text: string): string {
  const m = /^\w{3} (\w{3}) (\d{2}) (\d{4})$/.exec(text.trim());
  if (!m) throw new Error(`CBOE chain: bad expiration date ${JSON.stringify(text)}`);
  return `${m[3]}${String(SHORT_MONTHS.indexOf(m[1]) + 1).padStart(2, '0')}${m[2]}`;
}

const numberOrNull = (s: string): number | null => (s.trim() === '' || !Number.isFinite(Number(s)) ? null : Number(s));

/**
 * One CBOE delayed-quotes export as a chain. Trading class from the option symbol's root (SPX = AM-settled,
 * SPXW = PM-settled); IV as a fraction; the vendor's gamma and open interest as printed.
 */
export function loadCboeChain(file: string): Chain {
  const lines = fs.readFileSync(path.join(CBOE_DIR, file), 'utf8').split(/\r?\n/);
  const header = lines.findIndex((l) => l.startsWith('Expiration Date,'));
  if (header < 2) throw new Error(`CBOE chain ${file}: no column header`);
  const spot = Number(/Last: ([\d.]+)/.exec(lines[header - 2])?.[1]);
  const t = snapshotTime(lines[header - 1]);
  const contracts: OptionQuote[] = [];
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === '') continue;
    const f = line.split(',');
    const expiry = expiryOf(f[0]);
    const strike = Number(f[11]);
    for (const [right, o] of [['C', 1], ['P', 12]] as const) {
      const root = /^(SPXW?)\d/.exec(f[o])?.[1];
      if (root === undefined) throw new Error(`CBOE chain ${file}: unknown option symbol ${JSON.stringify(f[o])}`);
      contracts.push({
        conid: contracts.length + 1,
        expiry,
        settlement: root === 'SPX' ? 'AM' : 'PM',
        tradingClass: root,
        strike,
        right,
        last: numberOrNull(f[o + 1]),
        bid: numberOrNull(f[o + 3]),
        ask: numberOrNull(f[o + 4]),
        volume: numberOrNull(f[o + 5]),
        iv: numberOrNull(f[o + 6]),
        delta: numberOrNull(f[o + 7]),
        gamma: numberOrNull(f[o + 8]),
        openInterest: numberOrNull(f[o + 9]),
      });
    }
  }
  return { underlying: 'SPX', spot, t, contracts };
}
