// IbkrStream against a scripted WebSocket peer: each test plays exactly the IBKR frames it needs (ibkr-web-api.md,
// section 4), including the ones the simulator never sends (silence with the socket up, invalid UTF-8, a session
// that never comes). The end-to-end behaviour against the IBKR simulator is in stream-sim.test.ts.
import { strict as assert } from 'assert';
import type { IncomingHttpHeaders } from 'http';
import { WebSocketServer, type WebSocket } from 'ws';
import { IbkrStream, type StreamGap, type StreamState, type StreamTarget } from '../../../lib/ibkr/stream';
import { testTimeLeft } from '../../support/budget';
import { FakeScheduler, flush } from './loopback';

const FAST = { heartbeatTimeoutMs: 400, ticIntervalMs: 100, marketDataRenewMs: 10 * 60_000, sessionWaitMs: 600 };
const BACKOFF = { initialMs: 20, maxMs: 80 };

interface Peer {
  ws: WebSocket;
  headers: IncomingHttpHeaders;
  received: string[];
}

/** A WebSocket server on loopback that records what the client sends and sends what the test scripts. */
class ScriptedPeer {
  readonly peers: Peer[] = [];
  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(onConnect: (peer: Peer) => void = greet): Promise<ScriptedPeer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/api/ws' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const address = wss.address();
    if (!address || typeof address === 'string') throw new Error('unexpected address');
    const scripted = new ScriptedPeer(wss, `ws://127.0.0.1:${address.port}/v1/api/ws`);
    wss.on('connection', (ws, request) => {
      const peer: Peer = { ws, headers: request.headers, received: [] };
      ws.on('message', (data) => peer.received.push(String(data)));
      scripted.peers.push(peer);
      onConnect(peer);
    });
    return scripted;
  }

  get latest(): Peer {
    const peer = this.peers.at(-1);
    if (!peer) throw new Error('no client connected yet');
    return peer;
  }

  send(frame: object | string | Buffer): void {
    // A Buffer goes out as a text frame too, so a test can put raw (even invalid UTF-8) bytes in one.
    const data = typeof frame === 'object' && !Buffer.isBuffer(frame) ? JSON.stringify(frame) : frame;
    this.latest.ws.send(data, { binary: false });
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** What IBKR sends on connect: the greeting and the authenticated status. */
function greet(peer: Peer): void {
  peer.ws.send(JSON.stringify({ topic: 'system', success: 'trader1' }));
  peer.ws.send(JSON.stringify({ topic: 'sts', args: { authenticated: true } }));
}

// Waits for an outcome, bounded by what is left of the running test's own timeout (a loaded machine is slow, not wrong).
async function waitUntil(condition: () => boolean, what: string, timeoutMs = testTimeLeft()): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// The stream's timers (heartbeat watchdog, tic, smd renewal, session wait, reconnect backoff) and its clock run on a
// virtual scheduler that moves only when a test advances it: the socket and the peer are real, and a slow machine
// cannot make a watchdog fire that the test did not ask for.
describe('IBKR stream (one WebSocket, scripted peer)', () => {
  let peer: ScriptedPeer;
  let stream: IbkrStream | undefined;
  let sessions = 0;
  let clock: FakeScheduler;

  function target(url = peer.url): () => Promise<StreamTarget> {
    return async () => {
      sessions++;
      return { url, headers: { Cookie: `api={"session":"sess-${sessions}"}`, 'User-Agent': 'test' } };
    };
  }

  function open(extra: Partial<ConstructorParameters<typeof IbkrStream>[0]> = {}): IbkrStream {
    stream = new IbkrStream({ target: target(), timing: FAST, backoff: BACKOFF, random: () => 0.5, scheduler: clock, now: () => clock.now, ...extra });
    return stream;
  }

  beforeEach(() => {
    sessions = 0;
    clock = new FakeScheduler();
  });

  afterEach(async () => {
    await stream?.close();
    stream = undefined;
    await peer?.close();
  });

  it('authenticates with the session cookie and the session message, then subscribes once it is open', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    s.subscribeMarketData(495512557, ['31', 'bid', '86'], () => undefined);
    await waitUntil(() => s.state === 'open' && peer.latest.received.length >= 2, 'open and subscribed');
    assert.equal(peer.latest.headers.cookie, 'api={"session":"sess-1"}');
    assert.deepEqual(peer.latest.received.slice(0, 2), ['{"session":"sess-1"}', 'smd+495512557+{"fields":["31","84","86"]}']);
  });

  it('delivers changed fields to every listener of a contract, and a late listener starts from the full picture', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    const first: Array<Record<string, unknown>> = [];
    s.subscribeMarketData(1, ['31', '84'], (m) => first.push({ ...m }));
    await waitUntil(() => s.state === 'open', 'open');
    peer.send({ topic: 'smd+1', '31': '5000.25', '84': '5000.00', conid: 1 });
    peer.send({ topic: 'smd+1', '84': '5000.25', conid: 1 });
    await waitUntil(() => first.length === 2, 'two updates');
    const second: Array<Record<string, unknown>> = [];
    s.subscribeMarketData(1, ['31'], (m) => second.push({ ...m }));
    await waitUntil(() => second.length === 1, 'replay');
    assert.equal(second[0]?.['31'], '5000.25');
    assert.equal(second[0]?.['84'], '5000.25');
    assert.equal(peer.latest.received.filter((c) => c.startsWith('smd+1+')).length, 1, 'no second smd for the same fields');
  });

  it('sends umd only when the last listener of a contract unsubscribes', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    const a = s.subscribeMarketData(7, ['31'], () => undefined);
    const b = s.subscribeMarketData(7, ['31'], () => undefined);
    await waitUntil(() => s.state === 'open', 'open');
    a.unsubscribe();
    a.unsubscribe();
    // Anything these sent is on the socket before the next command.
    const orders = s.subscribeOrders(() => undefined);
    await waitUntil(() => peer.latest.received.includes('sor+{}'), 'the next command');
    orders.unsubscribe();
    assert.ok(!peer.latest.received.includes('umd+7+{}'));
    b.unsubscribe();
    await waitUntil(() => peer.latest.received.includes('umd+7+{}'), 'umd');
    assert.deepEqual(s.subscriptionKeys(), []);
  });

  it('keeps the socket alive with tic at the configured interval', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    s.start();
    await waitUntil(() => s.state === 'open', 'open');
    const tics = (): number => peer.latest.received.filter((c) => c === 'tic').length;
    for (const n of [1, 2]) {
      await clock.advance(FAST.ticIntervalMs - 1);
      assert.equal(s.state, 'open');
      await clock.advance(1);
      await waitUntil(() => tics() === n, `tic ${n} after ${n * FAST.ticIntervalMs} ms`);
    }
    assert.equal(peer.peers.length, 1);
  });

  it('survives bytes that are not valid UTF-8 (IBKR sends some) and keeps streaming', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    const got: Array<Readonly<Record<string, unknown>>> = [];
    s.subscribeMarketData(1, ['31'], (m) => got.push(m));
    await waitUntil(() => s.state === 'open', 'open');
    peer.send(Buffer.concat([Buffer.from('{"topic":"smd+1","31":"5000.25","55":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]));
    peer.send({ topic: 'smd+1', '31': '5000.50' });
    await waitUntil(() => got.length === 2, 'both updates');
    assert.equal(peer.peers.length, 1, 'no reconnect');
  });

  it('declares the link dead when the heartbeat stops, reconnects with a fresh session and reports the gap', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    const states: StreamState[] = [];
    const gaps: StreamGap[] = [];
    s.on('state', (state) => states.push(state));
    s.on('gap', (gap) => gaps.push(gap));
    s.subscribeMarketData(1, ['31'], () => undefined);
    s.subscribeOrders(() => undefined);
    await waitUntil(() => s.state === 'open', 'open');
    // The peer says nothing more (no hb): after heartbeatTimeoutMs the stream must give up on this socket, not before.
    await clock.advance(FAST.heartbeatTimeoutMs - 1);
    assert.equal(s.state, 'open');
    await clock.advance(1);
    assert.equal(s.state, 'reconnecting');
    assert.deepEqual(clock.delays(), [10], 'the retry after a full-jitter backoff (random 0.5 × 20 ms)');
    await clock.advance(10);
    await waitUntil(() => gaps.length === 1, 'gap after reconnect');
    assert.equal(peer.peers.length, 2);
    assert.equal(sessions, 2, 'a fresh target (new session) for the new socket');
    // What the stream sent on the new socket reaches the peer's side a moment later (a loaded machine: after the gap).
    const resent = ['{"session":"sess-2"}', 'smd+1+{"fields":["31"]}', 'sor+{}'];
    await waitUntil(() => resent.every((m) => peer.latest.received.includes(m)), 'session, market data and orders on the new socket');
    assert.match(gaps[0]!.reason, /no heartbeat/);
    assert.deepEqual(gaps[0]!.subscriptions, ['smd+1', 'sor']);
    assert.equal(gaps[0]!.from, FAST.heartbeatTimeoutMs, 'the gap starts when the link was declared dead');
    assert.equal(gaps[0]!.to, FAST.heartbeatTimeoutMs + 10, 'and ends when the new socket opened');
    assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'open']);
  });

  it('stays connected as long as heartbeats arrive', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    s.start();
    await waitUntil(() => s.state === 'open', 'open');
    // Five heartbeats, each 300 ms (virtual) after the previous: 1.5 s in all, far past the 400 ms limit.
    for (let i = 0; i < 5; i++) {
      await clock.advance(300);
      peer.send({ topic: 'system', hb: clock.now });
      // Taken in: the watchdog is armed afresh (its full delay from now).
      await waitUntil(() => clock.delays().includes(FAST.heartbeatTimeoutMs), `heartbeat ${i + 1} taken in`);
    }
    assert.equal(peer.peers.length, 1);
    assert.equal(s.state, 'open');
    // Then silence: dead exactly 400 ms after the last heartbeat.
    await clock.advance(FAST.heartbeatTimeoutMs - 1);
    assert.equal(s.state, 'open');
    await clock.advance(1);
    assert.equal(s.state, 'reconnecting');
  });

  it('waits for the brokerage session, then subscribes when IBKR reports it authenticated', async () => {
    peer = await ScriptedPeer.start((p) => p.ws.send(JSON.stringify({ message: 'waiting for session' })));
    const s = open();
    s.subscribePnl(() => undefined);
    await waitUntil(() => s.state === 'waiting-session', 'waiting-session');
    assert.ok(!peer.latest.received.includes('spl+{}'), 'nothing subscribed before the session is ready');
    peer.send({ topic: 'sts', args: { authenticated: true } });
    await waitUntil(() => peer.latest.received.includes('spl+{}'), 'spl');
    assert.equal(s.state, 'open');
  });

  it('reconnects with a fresh session when the brokerage session never comes', async () => {
    peer = await ScriptedPeer.start((p) => p.ws.send(JSON.stringify({ message: 'waiting for session' })));
    // Heartbeats are not what is tested here: the watchdog is set far beyond the session wait.
    const s = open({ timing: { ...FAST, heartbeatTimeoutMs: 10 * FAST.sessionWaitMs } });
    const reasons: string[] = [];
    s.on('state', (state, reason) => reasons.push(`${state}: ${reason}`));
    s.start();
    await waitUntil(() => s.state === 'waiting-session', 'waiting-session');
    await clock.advance(FAST.sessionWaitMs - 1);
    assert.equal(s.state, 'waiting-session');
    await clock.advance(1);
    assert.equal(s.state, 'reconnecting', `a new socket after ${FAST.sessionWaitMs} ms without the session`);
    assert.match(reasons.at(-1)!, /brokerage session not ready/);
    await clock.advance(BACKOFF.maxMs);
    await waitUntil(() => peer.peers.length === 2, 'second attempt');
    assert.equal(sessions, 2, 'with a fresh session');
    assert.notEqual(s.state, 'open');
  });

  it('retries with backoff while no session can be had, then connects', async () => {
    peer = await ScriptedPeer.start();
    let calls = 0;
    const s = open({
      target: async () => {
        calls++;
        if (calls < 3) throw new Error('IBKR session not authenticated');
        return { url: peer.url, headers: {} };
      },
    });
    const reasons: string[] = [];
    s.on('state', (state, reason) => reasons.push(`${state}: ${reason}`));
    s.start();
    // Full jitter (random 0.5) on a backoff doubling from 20 ms: 10 ms, then 20 ms.
    for (const delay of [10, 20]) {
      await waitUntil(() => s.state === 'reconnecting' && clock.pending === 1, 'a retry scheduled');
      assert.deepEqual(clock.delays(), [delay]);
      await clock.advance(delay);
    }
    await waitUntil(() => s.state === 'open', 'open');
    assert.equal(calls, 3);
    assert.ok(reasons.some((r) => /^reconnecting: no IBKR session for the stream \(IBKR session not authenticated\)/.test(r)), reasons.join('\n'));
  });

  it('reports IBKR stream errors as events without dropping the socket', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    const errors: string[] = [];
    s.on('server-error', (e) => errors.push(e.message));
    s.start();
    await waitUntil(() => s.state === 'open', 'open');
    peer.send({ topic: 'error', error: 'invalid conid 99' });
    await waitUntil(() => errors.length === 1, 'server-error');
    assert.match(errors[0]!, /invalid conid 99/);
    assert.equal(s.state, 'open');
  });

  it('keeps streaming to other listeners when one listener throws', async () => {
    peer = await ScriptedPeer.start();
    const warnings: string[] = [];
    const s = open({ logger: { warn: (m) => warnings.push(m) } });
    const got: unknown[] = [];
    s.subscribeMarketData(1, ['31'], () => {
      throw new Error('node bug');
    });
    s.subscribeMarketData(1, ['31'], (m) => got.push(m));
    await waitUntil(() => s.state === 'open', 'open');
    peer.send({ topic: 'smd+1', '31': '1.00' });
    await waitUntil(() => got.length === 1, 'delivery');
    assert.match(warnings.join('\n'), /subscriber failed.*node bug/);
  });

  it('renews each smd before IBKR lets it expire', async () => {
    peer = await ScriptedPeer.start();
    const s = open({ timing: { ...FAST, marketDataRenewMs: 150 } });
    s.subscribeMarketData(3, ['31'], () => undefined);
    const smd = (): number => peer.latest.received.filter((c) => c.startsWith('smd+3+')).length;
    await waitUntil(() => s.state === 'open' && peer.peers.length > 0 && smd() === 1, 'subscribed');
    for (const n of [2, 3]) {
      await clock.advance(150);
      await waitUntil(() => smd() === n, `renewal ${n - 1}`);
    }
    assert.equal(peer.peers.length, 1);
  });

  it('closes idempotently, releases the socket, and refuses new subscriptions', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    s.start();
    await waitUntil(() => s.state === 'open', 'open');
    await Promise.all([s.close(), s.close()]);
    assert.equal(s.state, 'closed');
    await waitUntil(() => peer.latest.ws.readyState === peer.latest.ws.CLOSED, 'server side closed');
    assert.throws(() => s.subscribeOrders(() => undefined), /IBKR stream is closed/);
    assert.equal(clock.pending, 0, 'no timer left that could reconnect');
    await clock.advance(10 * FAST.heartbeatTimeoutMs);
    await flush();
    assert.equal(sessions, 1, 'no reconnect after close');
    assert.equal(peer.peers.length, 1);
  });

  it('does not resubscribe on the new socket what was unsubscribed while the link was down', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    s.subscribeMarketData(1, ['31'], () => undefined);
    const leaving = s.subscribeMarketData(2, ['31'], () => undefined);
    await waitUntil(() => s.state === 'open', 'open');
    peer.latest.ws.terminate();
    await waitUntil(() => s.state === 'reconnecting', 'reconnecting');
    leaving.unsubscribe();
    await clock.advance(BACKOFF.maxMs);
    await waitUntil(() => peer.peers.length === 2 && s.state === 'open', 'open again');
    await waitUntil(() => peer.latest.received.includes('smd+1+{"fields":["31"]}'), 'contract 1 resubscribed');
    assert.ok(!peer.latest.received.some((c) => c.startsWith('smd+2+')), 'contract 2 not resubscribed');
  });

  it('reports an unusable URL as a lost link and keeps retrying instead of crashing', async () => {
    peer = await ScriptedPeer.start();
    const s = open({ target: async () => ({ url: 'not a url', headers: {} }) });
    const reasons: string[] = [];
    s.on('state', (state, reason) => reasons.push(`${state}: ${reason}`));
    s.start();
    await waitUntil(() => reasons.filter((r) => r.startsWith('reconnecting: cannot open the IBKR WebSocket')).length >= 1, 'the failure reported');
    assert.notEqual(s.state, 'open');
  });

  it('rejects a malformed contract id or field with a message naming it', () => {
    stream = new IbkrStream({ target: async () => ({ url: 'ws://127.0.0.1:9/', headers: {} }), timing: FAST });
    assert.throws(() => stream!.subscribeMarketData('ES', ['31'], () => undefined), /"ES" is not a contract id/);
    assert.throws(() => stream!.subscribeMarketData(1, ['lastt'], () => undefined), /"lastt" is not a market-data field/);
    assert.equal(stream.state, 'idle');
  });
});
