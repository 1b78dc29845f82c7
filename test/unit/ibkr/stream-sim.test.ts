// IbkrStream and the quote stream end to end against the IBKR simulator's real WebSocket (/v1/api/ws): session
// cookie, changed-field smd messages, trades turned into ticks, heartbeats, dropped sockets, session expiry and
// smd expiry. The stream's timers and clock, and the simulator's clock (session idleness, smd expiry), are virtual
// (FakeScheduler): they move only when a test advances them, so a busy machine cannot fire a watchdog or expire a
// stream the test did not mean to. The sockets, the simulated market and its heartbeats run in real time.
import { strict as assert } from 'assert';
import http from 'http';
import https from 'https';
import type { Tick } from '../../../lib/contracts';
import type { MarketTrade } from '../../../lib/sim/market-types';
import { startIbkrSimulator, type IbkrSimulator, type IbkrSimulatorOptions } from '../../../lib/sim/ibkr';
import type { MarketDataUpdate, StreamQuote } from '../../../lib/ibkr/market-data';
import { IbkrStream, type StreamGap, type StreamState, type StreamTarget, type StreamTiming } from '../../../lib/ibkr/stream';
import { streamQuotes } from '../../../lib/ibkr/stream-quotes';
import { testTimeLeft } from '../../support/budget';
import { FakeScheduler } from './loopback';

const TIMING: Partial<StreamTiming> = { heartbeatTimeoutMs: 500, ticIntervalMs: 200, sessionWaitMs: 2000 };
const BACKOFF = { initialMs: 20, maxMs: 100 };
const SIM: IbkrSimulatorOptions = { seed: 7, tls: false, rateLimits: false, heartbeatMs: 100, streamIntervalMs: 50, speed: 4 };
/** The simulator's clock at virtual time 0. */
const SIM_T0 = Date.UTC(2026, 2, 3, 15);

let clock = new FakeScheduler();
/** The stream of the running test, whose reconnect backoff waitUntil lets pass. */
let current: IbkrStream | undefined;

/** One REST call to the simulator, as the connection's session keeper would make it. */
function call(sim: IbkrSimulator, method: 'GET' | 'POST', path: string, body: unknown = {}): Promise<Record<string, unknown>> {
  const url = new URL(`${sim.baseUrl}${path}`);
  const text = method === 'POST' ? JSON.stringify(body) : '';
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method,
        agent: false,
        ca: sim.certificatePem,
        headers: method === 'POST' ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } : {},
      },
      (res) => {
        let data = '';
        res.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 400) reject(new Error(`${path}: HTTP ${res.statusCode} ${data}`));
          else resolve(JSON.parse(data) as Record<string, unknown>);
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * Waits (real time, the test's budget) for an outcome of real work. A stream waiting to reconnect has one timer
 * pending, its backoff: that one is let pass, so reconnects happen at once, with no other virtual time passing.
 */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = testTimeLeft()): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    const delays = clock.delays();
    if (current?.state === 'reconnecting' && delays.length === 1 && delays[0]! <= BACKOFF.maxMs) await clock.advance(delays[0]!);
    else await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lets `ms` of virtual time pass, then waits for a frame from the simulator (its heartbeat) to re-arm the watchdog. */
async function elapse(ms: number): Promise<void> {
  await clock.advance(ms);
  await waitUntil(() => clock.delays().includes(TIMING.heartbeatTimeoutMs!), `a frame from the simulator after ${clock.now} ms`);
}

/** True when `ticks`, in order, are consecutive runs of `trades` from `start`: sizes summed, priced at each run's last. */
function consumes(trades: MarketTrade[], start: number, ticks: Tick[]): boolean {
  let i = start;
  for (const tick of ticks) {
    let size = 0;
    while (size < tick.size && i < trades.length) size += trades[i++]!.size;
    if (size !== tick.size || trades[i - 1]!.price !== tick.price || trades[i - 1]!.t > tick.t) return false;
  }
  return true;
}

describe('IBKR stream against the IBKR simulator', function () {
  this.timeout(15_000);
  let sim: IbkrSimulator;
  let stream: IbkrStream | undefined;
  let sessionsIssued: string[];
  let es: number;

  /** What IbkrConnection.websocketTarget() does: /tickle for the current session, then the cookie. */
  function tickleTarget(options: { reauthenticate: boolean }): () => Promise<StreamTarget> {
    return async () => {
      let tickle = await call(sim, 'POST', '/tickle');
      const status = (tickle.iserver as { authStatus?: { authenticated?: boolean } } | undefined)?.authStatus;
      if (options.reauthenticate && status?.authenticated === false) {
        await call(sim, 'POST', '/iserver/auth/ssodh/init', { publish: true, compete: true });
        tickle = await call(sim, 'POST', '/tickle');
      }
      const session = String(tickle.session);
      sessionsIssued.push(session);
      return { url: sim.wsUrl, headers: { Cookie: `api=${JSON.stringify({ session })}` }, certificatePem: sim.certificatePem };
    };
  }

  async function start(simOptions: IbkrSimulatorOptions = {}, timing: Partial<StreamTiming> = {}, reauthenticate = true): Promise<IbkrStream> {
    sim = await startIbkrSimulator({ ...SIM, clock: () => SIM_T0 + clock.now, ...simOptions });
    es = sim.market.esContracts()[0]!.conid;
    stream = new IbkrStream({ target: tickleTarget({ reauthenticate }), timing: { ...TIMING, ...timing }, backoff: BACKOFF, scheduler: clock, now: () => clock.now });
    current = stream;
    return stream;
  }

  beforeEach(() => {
    sessionsIssued = [];
    clock = new FakeScheduler();
    current = undefined;
  });

  afterEach(async () => {
    await stream?.close();
    stream = undefined;
    await sim?.close();
  });

  it('streams a live ES quote over TLS with the pinned simulator certificate', async () => {
    const s = await start({ tls: true });
    const quotes: StreamQuote[] = [];
    streamQuotes(s, { conid: es, symbol: 'ESZ6' }, { onUpdate: (u) => quotes.push(u.quote) });
    await waitUntil(() => quotes.some((q) => q.bid !== null && q.ask !== null && q.last !== null && q.volume !== null), 'a full quote');
    const q = quotes.at(-1)!;
    assert.ok(q.bid! < q.ask!, `bid ${q.bid} below ask ${q.ask}`);
    assert.equal(q.symbol, 'ESZ6');
    assert.equal(q.conid, es);
    assert.equal(q.delayed, false);
    assert.equal(q.lastFlag, 'live');
    assert.equal(Math.round(q.last! * 4), q.last! * 4, 'ES prices on the 0.25 grid');
  });

  it('turns a stretch of trading into ordered ticks that account for every contract traded, at the traded prices', async () => {
    const s = await start();
    const trades: MarketTrade[] = [];
    sim.market.on('trade', (t: MarketTrade) => trades.push(t));
    const updates: MarketDataUpdate[] = [];
    streamQuotes(s, { conid: es, symbol: 'ES' }, { onUpdate: (u) => updates.push(u) });
    await waitUntil(() => updates.filter((u) => u.tick).length >= 20, '20 ticks', 8000);
    const seen = updates.slice();
    await new Promise((r) => setTimeout(r, 300)); // the market publishes its trades on its own cadence

    const ticks = seen.map((u) => u.tick).filter((t): t is Tick => t !== null);
    const withVolume = seen.filter((u) => u.quote.volume !== null);
    const first = withVolume[0]!.quote;
    const last = withVolume.at(-1)!.quote;
    assert.equal(ticks.reduce((sum, t) => sum + t.size, 0), last.volume! - first.volume!, 'no volume lost or double-counted');
    for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]!.t >= ticks[i - 1]!.t, 'ticks in time order');
    assert.ok(seen.every((u) => u.unobservedVolume === 0), 'nothing unobserved on a healthy stream');

    // Each tick stands for one contiguous run of the market's trades: its size is their total and its price the
    // latest of them. Align on the market's own trade list (the first tick's run starts somewhere in it).
    const alignedFrom = trades.findIndex((_, start) => consumes(trades, start, ticks.slice(1)));
    assert.ok(alignedFrom >= 0, 'every tick matches a run of market trades in order, sizes summed, last price');
  });

  it('stays open on the server heartbeat alone', async () => {
    const s = await start();
    const states: StreamState[] = [];
    s.on('state', (state) => states.push(state));
    s.start();
    await waitUntil(() => s.state === 'open', 'open');
    // 4 × the watchdog's limit of virtual time, 400 ms at a time, each step followed by a heartbeat.
    for (let i = 0; i < 5; i++) await elapse(TIMING.heartbeatTimeoutMs! - 100);
    assert.deepEqual(states, ['connecting', 'open']);
    assert.equal(sim.control.stats().webSockets, 1);
  });

  it('after dropped sockets reconnects, resubscribes everything and reports the gap and the volume missed', async () => {
    const s = await start();
    const states: StreamState[] = [];
    const gaps: StreamGap[] = [];
    s.on('state', (state) => states.push(state));
    s.on('gap', (gap) => gaps.push(gap));
    const updates: MarketDataUpdate[] = [];
    const quoteGaps: StreamGap[] = [];
    let afterGap = -1;
    const onGap = (g: StreamGap): void => {
      quoteGaps.push(g);
      afterGap = updates.length;
    };
    streamQuotes(s, { conid: es, symbol: 'ES' }, { onUpdate: (u) => updates.push(u), onGap });
    const orderMessages: unknown[] = [];
    s.subscribeOrders((orders) => orderMessages.push(orders));
    await waitUntil(() => updates.some((u) => u.tick) && orderMessages.length === 1, 'streaming');

    sim.control.dropWebSockets();
    await waitUntil(() => gaps.length === 1, 'the gap report');
    await waitUntil(() => updates.slice(afterGap).some((u) => u.tick), 'ticks again after the reconnect', 6000);

    assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'open']);
    assert.deepEqual(gaps[0]!.subscriptions, [`smd+${es}`, 'sor']);
    assert.match(gaps[0]!.reason, /IBKR WebSocket closed/);
    assert.ok(gaps[0]!.to >= gaps[0]!.from);
    assert.equal(quoteGaps.length, 1, 'the quote stream hears of its gap');
    assert.equal(orderMessages.length, 2, 'orders resubscribed: the server sent the order list again');
    assert.equal(sessionsIssued.length, 2, 'a fresh target for the new socket');
    const firstAfter = updates[afterGap]!;
    assert.equal(firstAfter.tick, null, 'no giant tick made of the volume traded while down');
    assert.ok(firstAfter.unobservedVolume >= 0);
    assert.equal(sim.control.stats().webSockets, 1, 'one socket, never two');
  });

  it('when the session expires, reconnects with the new session once IBKR has one', async () => {
    const s = await start();
    const gaps: StreamGap[] = [];
    s.on('gap', (gap) => gaps.push(gap));
    const quotes: StreamQuote[] = [];
    s.subscribeMarketData(es, ['31', '84', '86'], () => quotes.push());
    streamQuotes(s, { conid: es, symbol: 'ES' }, { onUpdate: (u) => quotes.push(u.quote) });
    await waitUntil(() => s.state === 'open' && quotes.length > 0, 'streaming');
    const before = sim.control.sessionId;

    sim.control.expireSession();
    sim.control.login(); // the user logs in again: IBKR issues a new session id; the old cookie is refused
    assert.notEqual(sim.control.sessionId, before);
    await waitUntil(() => gaps.length === 1, 'the gap report', 6000);
    const seen = quotes.length;
    await waitUntil(() => quotes.length > seen, 'quotes again', 6000);
    assert.equal(sessionsIssued.at(-1), sim.control.sessionId, 'the new session authenticates the new socket');
  });

  it('says IBKR refused the session when the socket is offered a stale one', async () => {
    sim = await startIbkrSimulator(SIM);
    const stale = sim.control.sessionId;
    sim.control.expireSession();
    sim.control.login();
    stream = new IbkrStream({
      target: async () => ({ url: sim.wsUrl, headers: { Cookie: `api=${JSON.stringify({ session: stale })}` } }),
      timing: TIMING,
      backoff: BACKOFF,
      scheduler: clock,
      now: () => clock.now,
    });
    current = stream;
    const reasons: string[] = [];
    stream.on('state', (_state, reason) => reasons.push(reason));
    stream.start();
    await waitUntil(() => reasons.some((r) => /401.*IBKR refused the session/.test(r)), 'the refusal reported');
    assert.ok(!reasons.join('\n').includes(stale), 'the session id never appears in a message');
  });

  it('waits for the brokerage session on a live socket and resumes when it is re-authenticated', async () => {
    const s = await start({}, {}, false);
    const states: StreamState[] = [];
    s.on('state', (state) => states.push(state));
    const quotes: StreamQuote[] = [];
    streamQuotes(s, { conid: es, symbol: 'ES' }, { onUpdate: (u) => quotes.push(u.quote) });
    await waitUntil(() => s.state === 'open' && quotes.length > 0, 'streaming');

    sim.control.expireSession();
    await waitUntil(() => s.state === 'waiting-session', 'waiting-session after the reconnect');
    await call(sim, 'POST', '/iserver/auth/ssodh/init', { publish: true, compete: true }); // the session keeper's job
    await waitUntil(() => s.state === 'open', 'open again');
    const seen = quotes.length;
    await waitUntil(() => quotes.length > seen, 'quotes again');
    assert.deepEqual(states.slice(0, 2), ['connecting', 'open']);
    assert.ok(states.includes('waiting-session'));
  });

  it('renews smd before the server lets it expire, and the stream really expires without renewal', async () => {
    let subscribedAtSim = 0;
    const onMarketDataSubscribed = (): void => {
      subscribedAtSim++;
    };
    const renewed = await start({ mdStreamTtlMs: 600, onMarketDataSubscribed }, { marketDataRenewMs: 250 });
    let renewedUpdates = 0;
    renewed.subscribeMarketData(es, ['31', '7762'], () => renewedUpdates++);
    await waitUntil(() => subscribedAtSim === 1 && renewedUpdates > 0, 'streaming');
    // 2.5 × the expiry of virtual time; each renewal reaches the simulator before the next 250 ms pass.
    for (let n = 1; n <= 6; n++) {
      await elapse(250);
      await waitUntil(() => subscribedAtSim === 1 + n, `renewal ${n} at the simulator`);
    }
    const after = renewedUpdates;
    await waitUntil(() => renewedUpdates > after + 2, 'updates still flowing after 2.5 × the expiry');
    assert.equal(sim.control.stats().marketDataStreams, 1, 'the simulator still serves it');
    await renewed.close();
    await sim.close();

    clock = new FakeScheduler();
    subscribedAtSim = 0;
    const unrenewed = await start({ mdStreamTtlMs: 600, onMarketDataSubscribed }, { marketDataRenewMs: 60_000 });
    let unrenewedUpdates = 0;
    unrenewed.subscribeMarketData(es, ['31', '7762'], () => unrenewedUpdates++);
    await waitUntil(() => subscribedAtSim === 1 && unrenewedUpdates > 0, 'streaming');
    await elapse(300);
    await elapse(301);
    await waitUntil(() => sim.control.stats().marketDataStreams === 0, 'the simulator to end the stream 600 ms after the subscription');
    assert.equal(subscribedAtSim, 1, 'never renewed');
  });

  it('streams P&L (spl) without a brokerage session being needed', async () => {
    const s = await start();
    const pnl: Array<Readonly<Record<string, unknown>>> = [];
    s.subscribePnl((p) => pnl.push(p));
    await waitUntil(() => pnl.length > 0, 'a P&L message');
    assert.equal(typeof pnl[0], 'object');
  });
});
