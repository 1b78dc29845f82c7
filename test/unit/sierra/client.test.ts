import { strict as assert } from 'assert';
import { startDtcSimulator, type DtcSimulator } from '../../../lib/sim/dtc';
import { DtcClient, type DisconnectInfo, type DtcClientOptions } from '../../../lib/sierra/client';
import { DtcLogonError, TradingDisabledError } from '../../../lib/sierra/errors';
import { MessageType } from '../../../lib/sierra/protocol';
import { RecordingProxy, SYMBOL, TestMarket, nextEvent, until } from './support/harness';

describe('sierra DTC client', function () {
  this.timeout(10000);
  let sim: DtcSimulator | undefined;
  let client: DtcClient | undefined;
  let proxy: RecordingProxy | undefined;

  async function start(simOpts: Parameters<typeof startDtcSimulator>[0] extends infer O ? Partial<O> : never = {}, clientOpts: Partial<DtcClientOptions> = {}, viaProxy = false): Promise<DtcClient> {
    sim = await startDtcSimulator({ market: new TestMarket(), symbol: SYMBOL, ...simOpts });
    if (viaProxy) proxy = await RecordingProxy.start(sim.port);
    client = new DtcClient({ port: proxy ? proxy.port : sim.port, heartbeatSec: 5, reconnect: { initialDelayMs: 10, maxDelayMs: 40 }, ...clientOpts });
    return client;
  }

  afterEach(async () => {
    await client?.close();
    await proxy?.close();
    await sim?.close();
    client = sim = proxy = undefined;
  });

  it('logs on over TCP after the binary encoding handshake, with protocol 8 and no relay bit', async () => {
    const c = await start({}, { username: 'trader', password: 's3cret-pw' }, true);
    const info = await c.connect();
    assert.equal(info.tradingSupported, true);
    assert.equal(info.reconnected, false);
    const first = Buffer.concat(proxy!.written).subarray(0, 16);
    assert.equal(first.toString('hex'), '10000600080000000200000044544300');
    const logon = proxy!.messages().find((m) => m.Type === MessageType.LOGON_REQUEST)!;
    assert.equal(logon.ProtocolVersion, 8);
    assert.equal(logon.HeartbeatIntervalInSeconds, 5);
    assert.equal(((logon.Integer_1 as number) ?? 0) & 0x2, 0);
  });

  it('skips the handshake when the server encoding is fixed to JSON', async () => {
    const c = await start({ encoding: 'json' }, { encoding: 'json' }, true);
    await c.connect();
    assert.equal(Buffer.concat(proxy!.written)[0], '{'.charCodeAt(0));
  });

  it('gives up the encoding handshake after the configured time with a clear error', async () => {
    // A server that accepts TCP and never answers.
    const net = await import('net');
    const accepted = new Set<import('net').Socket>();
    const silent = net.createServer((s) => accepted.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      client = new DtcClient({ port: (silent.address() as { port: number }).port, encodingTimeoutMs: 150, reconnect: { enabled: false } });
      await assert.rejects(client.connect(), /did not answer the encoding request within 0.15 s/);
    } finally {
      await client?.close();
      for (const s of accepted) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('refuses bad credentials with ERROR_NO_RECONNECT and stops, never showing the password', async () => {
    const c = await start({ requireAuthentication: { username: 'trader', password: 'right' } }, { username: 'trader', password: 'wrong-pw-123' });
    const disconnected = nextEvent<DisconnectInfo>(c, 'disconnected');
    const err = await c.connect().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof DtcLogonError);
    assert.equal(err.reconnectAllowed, false);
    assert.match(err.message, /invalid username or password/);
    assert.ok(!err.message.includes('wrong-pw-123'));
    assert.equal((await disconnected).willReconnect, false);
    assert.equal(c.state, 'stopped');
  });

  it('reports a plain logon ERROR and keeps retrying with backoff', async () => {
    const c = await start({}, { tradeAccount: 'NotMine' });
    const retries: DisconnectInfo[] = [];
    c.on('disconnected', (d: DisconnectInfo) => retries.push(d));
    await assert.rejects(c.connect(), (e: unknown) => e instanceof DtcLogonError && e.reconnectAllowed && /unknown trade account/.test(e.message));
    await until(() => retries.length >= 3, undefined, 'three retries');
    assert.ok(retries.every((r) => r.willReconnect && r.retryInMs !== null && r.retryInMs <= 40));
  });

  it('declares the connection lost after ~2 silent heartbeat intervals and reconnects', async () => {
    const c = await start({}, { heartbeatSec: 1 });
    await c.connect();
    sim!.stopHeartbeats();
    const lost = await nextEvent<DisconnectInfo>(c, 'disconnected', () => true, 5000);
    assert.match(lost.error.message, /Nothing heard from Sierra Chart/);
    assert.equal(lost.willReconnect, true);
    sim!.resumeHeartbeats();
    const again = await nextEvent<{ reconnected: boolean }>(c, 'logon', () => true, 5000);
    assert.equal(again.reconnected, true);
  });

  it('honours LOGOFF with DoNotReconnect', async () => {
    const c = await start();
    await c.connect();
    const gone = nextEvent<DisconnectInfo>(c, 'disconnected');
    sim!.logoffAll('maintenance', true);
    const d = await gone;
    assert.equal(d.willReconnect, false);
    assert.match(d.error.message, /maintenance/);
    assert.equal(c.state, 'stopped');
  });

  it('reconnects after the server drops the connection', async () => {
    const c = await start();
    await c.connect();
    sim!.dropConnections();
    const again = await nextEvent<{ reconnected: boolean }>(c, 'logon');
    assert.equal(again.reconnected, true);
    assert.equal(c.isLoggedOn, true);
  });

  it('assembles batches by RequestID: trade accounts, empty open orders, positions, balances, fills', async () => {
    const c = await start();
    await c.connect();
    assert.deepEqual(await c.tradeAccounts(), [{ account: 'Sim1', tradingDisabled: false }]);
    assert.deepEqual(await c.openOrders('Sim1'), []);
    assert.deepEqual(await c.positions('Sim1'), []);
    assert.deepEqual(await c.historicalFills('Sim1', 1), []);
    const [balance] = await c.balances('Sim1');
    assert.equal(balance.CashBalance, 50_000);
  });

  it('turns a request reject into a clear error', async () => {
    const c = await start();
    await c.connect();
    await assert.rejects(c.historicalFills('', 1), /refused HISTORICAL_ORDER_FILLS_REQUEST: "TradeAccount is required"/);
  });

  it('reads the security definition and scales prices by DisplayPriceMultiplier both ways', async () => {
    const c = await start({ displayPriceMultiplier: 0.01 });
    await c.connect();
    const def = await c.securityDefinition(SYMBOL);
    assert.equal(def.minPriceIncrement, 0.25);
    assert.equal(def.scale.toWire(4000.5), 400050);
    assert.equal(def.scale.fromWire(400050), 4000.5);
    const unknown = await c.securityDefinition('NOPE');
    assert.equal(unknown.minPriceIncrement, 0);
  });

  it('never writes an order-entry message while trading is disabled', async () => {
    const c = await start({}, { tradingEnabled: false }, true);
    await c.connect();
    assert.throws(() => c.send({ Type: MessageType.SUBMIT_NEW_SINGLE_ORDER, Symbol: SYMBOL, ClientOrderID: 'x', Quantity: 1 }), TradingDisabledError);
    assert.throws(() => c.send({ Type: MessageType.CANCEL_ORDER, ServerOrderID: '1' }), TradingDisabledError);
    await c.tradeAccounts(); // a round trip: anything written before it has reached the proxy
    assert.ok(proxy!.messages().every((m) => (m.Type as number) < 200 || (m.Type as number) >= 300));
  });

  it('speaks DTC over WebSocket on the same port (JSON compact, no handshake)', async () => {
    const c = await start({}, { transport: 'websocket' });
    const info = await c.connect();
    assert.equal(info.tradingSupported, true);
    assert.deepEqual(await c.tradeAccounts(), [{ account: 'Sim1', tradingDisabled: false }]);
  });

  it('close() releases everything: no reconnect afterwards', async () => {
    const c = await start();
    await c.connect();
    await c.close();
    assert.equal(c.state, 'stopped');
    await until(() => sim!.sessionCount() === 0, undefined, 'server to see the logoff');
  });
});
