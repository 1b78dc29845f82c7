// The shipped pipeline (flows/mia-ia-pipeline.json) end to end on the simulators, dashboard stripped: bars preloaded,
// ES streamed into VWAP and delta, SPX gamma walls, Battle Navale signals, and each LONG or SHORT turned into a
// bracket that the Sierra Chart DTC simulator acknowledges and fills, with positions and P&L that add up.
//
// Battle Navale trades with the session's direction (price against VWAP weighs in every score), so a simulated
// morning gives signals of one side: the test trades two sessions, a falling one (SHORT) and a rising one (LONG).
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { AccountSnapshot, Bar, Fill, GammaPayload, OrderUpdate, Position, SignalPayload, VwapPayload } from '../../lib/contracts';
import { fixWallClockAt } from './support/fixed-market-day';
import { PIPELINE_MODULES, nodeOfType, pipelineForTest, readPipeline } from './support/pipeline-flow';

helper.init(require.resolve('node-red'));

type Msg = { topic?: string; payload: unknown };
type Probe = { on(event: 'input', cb: (msg: Msg) => void): void };

/** Two simulated hours a real minute: 1-min bars still get several stream updates each (one every 250 ms). */
const SPEED = 120;
/** The sessions below give their first filled signal within about 15 s on a quiet machine; this plus 20 s is a test's timeout. */
const SESSION_BUDGET_MS = 40_000;
/**
 * What a session keeps of its test's timeout after the wait (the last reports, then the checks). The runtime's unload
 * and stop run in afterEach, on the hook's own timeout: on a busy machine they took more than the 8 s once kept here,
 * the test timed out and the next file found the runtime still started.
 */
const MARGIN_MS = 1_500;
const ES_POINT_VALUE = 50;

interface Seen {
  history: Bar[][];
  vwap: VwapPayload[];
  bars: Bar[];
  gamma: GammaPayload[];
  signals: SignalPayload[];
  updates: OrderUpdate[];
  fills: Fill[];
  positions: Position[];
  accounts: AccountSnapshot[];
}

const shipped = readPipeline();
const id = (type: string): string => nodeOfType(shipped, type).id;
/** The switch that keeps signals of preloaded bars away from the order node. */
const signalGate = shipped.find((n) => n.type === 'switch' && (n.wires ?? []).flat().includes(id('sierra-order')));

/**
 * Runs the shipped flow on the session that starts at 10:00 New York of `day` until a `side` signal's entry has
 * filled and the gamma levels are in (or `deadline` has come: the test's own timeout less a margin, so a busy
 * machine uses the whole budget), and returns everything the stages produced.
 */
async function tradeSession(day: string, side: 'LONG' | 'SHORT', deadline: number): Promise<Seen> {
  // The markets start at "the latest weekday 10:00 New York" before the wall clock: read it as 10:00:01 of `day`.
  const restoreClock = fixWallClockAt(Date.parse(`${day}T15:00:01Z`));
  teardown = async () => {
    try {
      await helper.unload();
      await helper.stopServer();
    } finally {
      restoreClock();
    }
  };
  await helper.startServer();
  await helper.load(
    PIPELINE_MODULES,
    pipelineForTest({
      speed: SPEED,
      // The IBKR simulator's certificate would be dated by the shifted clock; plain HTTP keeps it out of the way.
      simTls: false,
      // A small chain, so the gamma levels arrive within the session's budget: discovery asks one secdef/info per
      // strike and right at 10 requests/s, and the shipped market scope's first discovery takes minutes. The scope
      // itself is tested on real chains (chain-scope.test.ts); here the walls only need strikes on both sides.
      chain: { classes: 'both', expiryMode: 'next', nextCount: 2, windowMode: 'strikes', windowStrikes: 5 },
      probes: {
        p_hist: [`${id('ibkr-history')}:0`],
        p_vwap: [`${id('mia-vwap-delta')}:0`],
        p_bar: [`${id('mia-vwap-delta')}:1`],
        p_gamma: [`${id('mia-gamma-walls')}:0`],
        p_signal: [`${signalGate!.id}:0`],
        p_update: [`${id('sierra-order')}:0`],
        p_fill: [`${id('sierra-order')}:1`],
        p_position: [`${id('sierra-order')}:2`],
        p_account: [`${id('sierra-order')}:3`],
      },
    }),
  );
  const seen: Seen = { history: [], vwap: [], bars: [], gamma: [], signals: [], updates: [], fills: [], positions: [], accounts: [] };
  // Only the topic a probe is about: the account output also carries sierra-order's DTC metrics (topic 'metrics').
  const watch = <T>(probe: string, into: T[], topic?: string): void =>
    (helper.getNode(probe) as unknown as Probe).on('input', (m) => {
      if (topic === undefined || m.topic === topic) into.push(m.payload as T);
    });
  watch('p_hist', seen.history);
  watch('p_vwap', seen.vwap);
  watch('p_bar', seen.bars);
  watch('p_gamma', seen.gamma);
  watch('p_signal', seen.signals);
  watch('p_update', seen.updates);
  watch('p_fill', seen.fills);
  watch('p_position', seen.positions);
  watch('p_account', seen.accounts, 'account');
  const entrySide = side === 'LONG' ? 'buy' : 'sell';
  while (Date.now() < deadline) {
    const traded = seen.signals.some((s) => s.signal === side) && seen.fills.some((f) => f.side === entrySide);
    if (traded && seen.gamma.length > 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 500)); // the position and account reports that follow the last fill
  return seen;
}

/** Stops the runtime and restores the clock of the session that ran last (afterEach). */
let teardown: (() => Promise<void>) | undefined;

/** What every session must show, whichever side it trades. */
function checkSession(seen: Seen, side: 'LONG' | 'SHORT'): void {
  // Bars: the preload (≥ 20 bars, so the first live bar may already trade), then live 1-min bars after it.
  assert.equal(seen.history.length, 1, 'one preload');
  const preload = seen.history[0]!;
  assert.ok(preload.length >= 20, `preloaded bars: ${preload.length}`);
  const historyEnd = preload[preload.length - 1]!.t;
  assert.ok(seen.bars.some((b) => b.t > historyEnd), 'live bars after the preload');
  // VWAP inside its bands.
  const v = seen.vwap[seen.vwap.length - 1]!;
  assert.ok(v.sigma > 0 && v.bands.lower1 < v.vwap && v.vwap < v.bands.upper1, 'VWAP sits inside its ±1σ band');
  // Gamma levels mapped to ES.
  const g = seen.gamma[0];
  assert.ok(g && g.byStrike.length > 0 && Number.isFinite(g.es.callWall) && Number.isFinite(g.es.putWall), 'gamma walls in ES prices');

  // Signals: this side, none from a preloaded bar.
  assert.ok(seen.signals.some((s) => s.signal === side), `signals seen: ${[...new Set(seen.signals.map((s) => s.signal))].join(', ') || 'none'}`);
  assert.ok(seen.signals.every((s) => s.bar.t > historyEnd), 'no signal of a preloaded bar reaches the order node');

  // Each signal → an acknowledged bracket: a parent on the signal's side filled at (or better than) its limit.
  const signal = seen.signals.find((s) => s.signal === side)!;
  const entrySide = side === 'LONG' ? 'buy' : 'sell';
  const entry = seen.fills.find((f) => f.side === entrySide);
  assert.ok(entry, `the ${side} entry (${entrySide}) was filled`);
  assert.ok(side === 'LONG' ? entry.price <= signal.entry! : entry.price >= signal.entry!, `entry filled at ${entry.price}, limit ${signal.entry}`);
  for (const f of seen.fills) {
    const acked = seen.updates.some((u) => u.clientOrderId === f.clientOrderId && u.serverOrderId !== '' && u.status !== 'rejected');
    assert.ok(acked, `fill ${f.clientOrderId} belongs to an order the DTC simulator acknowledged`);
  }
  const legs = seen.updates.filter((u) => u.clientOrderId !== entry.clientOrderId && u.side !== entrySide);
  assert.ok(legs.length >= 2, 'the bracket placed its exits (target and stop) on the other side');

  // Positions and P&L agree with the fills.
  const net = seen.fills.reduce((q, f) => q + (f.side === 'buy' ? f.quantity : -f.quantity), 0);
  assert.equal(seen.positions[seen.positions.length - 1]?.quantity, net, 'position = buys − sells');
  const account = seen.accounts[seen.accounts.length - 1];
  assert.ok(account, 'an account report after the fills');
  assert.ok(Math.abs((account.realizedPnl ?? 0) - realizedPnl(seen.fills)) < 1e-6, `realized P&L ${account.realizedPnl} = the closed round trips ${realizedPnl(seen.fills)}`);
}

describe('flow: the MIA_IA pipeline on the simulators', function () {
  this.timeout(SESSION_BUDGET_MS + 20_000);
  afterEach(async () => {
    const done = teardown;
    teardown = undefined;
    await done?.();
  });

  it('has the preload gate in front of sierra-order', () => {
    assert.ok(signalGate, 'signals reach sierra-order through a switch on the preload');
  });

  const deadline = (test: Mocha.Context): number => Date.now() + test.timeout() - MARGIN_MS;

  it('on a falling morning (2026-11-18) sells: a SHORT becomes a filled bracket, position and P&L match the fills', async function () {
    checkSession(await tradeSession('2026-11-18', 'SHORT', deadline(this)), 'SHORT');
  });

  it('on a rising morning (2026-11-24) buys: a LONG becomes a filled bracket, position and P&L match the fills', async function () {
    checkSession(await tradeSession('2026-11-24', 'LONG', deadline(this)), 'LONG');
  });
});

/** FIFO realized P&L of a fill sequence, in dollars. */
function realizedPnl(fills: readonly Fill[]): number {
  const open: { side: 'buy' | 'sell'; price: number; quantity: number }[] = [];
  let pnl = 0;
  for (const f of fills) {
    let left = f.quantity;
    while (left > 0 && open.length > 0 && open[0]!.side !== f.side) {
      const lot = open[0]!;
      const q = Math.min(left, lot.quantity);
      pnl += (lot.side === 'buy' ? f.price - lot.price : lot.price - f.price) * q * ES_POINT_VALUE;
      lot.quantity -= q;
      left -= q;
      if (lot.quantity === 0) open.shift();
    }
    if (left > 0) open.push({ side: f.side, price: f.price, quantity: left });
  }
  return pnl;
}
