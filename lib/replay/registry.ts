// One replayed market per recording in the process, shared by the IBKR simulator (ibkr-config, replay mode) and the
// DTC simulator (sierra-config), so orders fill on the prices the flow sees. Reference-counted: the first user
// creates and starts it, the last release stops it. Keyed by the recording's absolute path.
import path from 'path';
import { RecordedMarket, type RecordedMarketOptions } from './recorded-market';
import { readRecording } from './recording';

interface Entry {
  market: RecordedMarket;
  users: number;
}

const markets = new Map<string, Entry>();

export interface ReplayLease {
  market: RecordedMarket;
  key: string;
  release(): void;
}

/** The replay of `file`: the running one if any (its options win), or a new one read from the file. */
export function acquireReplay(file: string, options: RecordedMarketOptions = {}): ReplayLease {
  const key = path.resolve(file);
  let entry = markets.get(key);
  if (!entry) {
    entry = { market: new RecordedMarket(readRecording(key), options), users: 0 };
    markets.set(key, entry);
    entry.market.start();
  }
  entry.users++;
  const e = entry;
  let released = false;
  return {
    market: e.market,
    key,
    release: () => {
      if (released) return;
      released = true;
      e.users--;
      if (e.users === 0) {
        e.market.stop();
        markets.delete(key);
      }
    },
  };
}

/** The running replay of `file`, if one is (sierra-config joins it rather than reading the file again). */
export function runningReplay(file: string): RecordedMarket | undefined {
  return markets.get(path.resolve(file))?.market;
}

/** The running replays (for a sierra-config that fills against "the IBKR replay" without naming a file). */
export function runningReplays(): string[] {
  return [...markets.keys()];
}
