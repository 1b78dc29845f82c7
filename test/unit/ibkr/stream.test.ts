// IbkrStream against a scripted WebSocket peer: each test plays exactly the IBKR frames it needs (ibkr-web-api.md,
// section 4), including the ones the simulator never sends (silence with the socket up, invalid UTF-8, a session
// that never comes). The end-to-end behaviour against the IBKR simulator is in stream-sim.test.ts.
import { strict as assert } from 'assert';
import type { IncomingHttpHeaders } from 'http';
import { WebSocketServer, type WebSocket } from 'ws';
import { IbkrStream, type StreamGap, type StreamState, type StreamTarget } from '../../../lib/ibkr/stream';
import { testTimeLeft } from '../../support/budget';

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

describe('IBKR stream (one WebSocket, scripted peer)', () => {
  let peer: ScriptedPeer;
  let stream: IbkrStream | undefined;
  let sessions = 0;

  function target(url = peer.url): () => Promise<StreamTarget> {
    return async () => {
      sessions++;
      return { url, headers: { Cookie: `api={"session":"sess-${sessions}"}`, 'User-Agent': 'test' } };
    };
  }

  function open(extra: Partial<ConstructorParameters<typeof IbkrStream>[0]> = {}): IbkrStream {
    stream = new IbkrStream({ target: target(), timing: FAST, backoff: BACKOFF, random: () => 0.5, ...extra });
    return stream;
  }

  beforeEach(() => {
    sessions = 0;
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
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(!peer.latest.received.includes('umd+7+{}'));
    b.unsubscribe();
    await waitUntil(() => peer.latest.received.includes('umd+7+{}'), 'umd');
    assert.deepEqual(s.subscriptionKeys(), []);
  });

  it('keeps the socket alive with tic at the configured interval', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    s.start();
    await waitUntil(() => peer.peers.length === 1 && peer.latest.received.filter((c) => c === 'tic').length >= 2, 'two tics');
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
    // The peer says nothing more (no hb): after heartbeatTimeoutMs the stream must give up on this socket.
    await waitUntil(() => gaps.length === 1, 'gap after reconnect');
    assert.equal(peer.peers.length, 2);
    assert.equal(sessions, 2, 'a fresh target (new session) for the new socket');
    // What the stream sent on the new socket reaches the peer's side a moment later (a loaded machine: after the gap).
    const resent = ['{"session":"sess-2"}', 'smd+1+{"fields":["31"]}', 'sor+{}'];
    await waitUntil(() => resent.every((m) => peer.latest.received.includes(m)), 'session, market data and orders on the new socket');
    assert.match(gaps[0]!.reason, /no heartbeat/);
    assert.deepEqual(gaps[0]!.subscriptions, ['smd+1', 'sor']);
    assert.ok(gaps[0]!.to >= gaps[0]!.from + 0);
    assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'open']);
  });

  it('stays connected as long as heartbeats arrive', async () => {
    peer = await ScriptedPeer.start();
    const s = open();
    s.start();
    await waitUntil(() => s.state === 'open', 'open');
    const beat = setInterval(() => peer.send({ topic: 'system', hb: Date.now() }), 100);
    try {
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      clearInterval(beat);
    }
    assert.equal(peer.peers.length, 1);
    assert.equal(s.state, 'open');
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
    const s = open();
    s.start();
    await waitUntil(() => peer.peers.length >= 2, 'second attempt');
    assert.ok(sessions >= 2);
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
    const beat = setInterval(() => peer.peers.length && peer.send({ topic: 'system', hb: 1 }), 100);
    try {
      await waitUntil(() => peer.peers.length > 0 && peer.latest.received.filter((c) => c.startsWith('smd+3+')).length >= 3, 'two renewals');
    } finally {
      clearInterval(beat);
    }
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
    await new Promise((r) => setTimeout(r, FAST.heartbeatTimeoutMs + 100));
    assert.equal(peer.peers.length, 1, 'no reconnect after close');
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
