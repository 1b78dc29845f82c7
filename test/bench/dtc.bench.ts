// dtc.order.roundtrip: from OrderManager.submit() to the acknowledging ORDER_UPDATE, against the DTC simulator on
// loopback. Baseline: a raw socket write → ack round trip on the same simulator in the same run (a TRADE_ACCOUNTS
// request written on a bare TCP socket, answer read back), i.e. the transport and server cost with no client logic.
import net from 'net';
import { report, percentile } from './harness';
import { startDtcSimulator } from '../../lib/sim/dtc';
import { DtcClient } from '../../lib/sierra/client';
import { OrderManager } from '../../lib/sierra/order-manager';
import { TestMarket, SYMBOL } from '../unit/sierra/support/harness';

const WARMUP = 200;
const SAMPLES = 2000;

async function rawRoundTrips(port: number): Promise<number[]> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let pending: (() => void) | null = null;
  let buffered = '';
  socket.on('data', (b: Buffer) => {
    buffered += b.toString('latin1');
    let i: number;
    while ((i = buffered.indexOf('\0')) >= 0) {
      const frame = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (frame.includes('"Type":401') || frame.includes('"Type":2,')) pending?.();
    }
  });
  const ask = (text: string): Promise<void> =>
    new Promise<void>((resolve) => {
      pending = resolve;
      socket.write(`${text}\0`);
    });
  await ask(JSON.stringify({ Type: 1, ProtocolVersion: 8, HeartbeatIntervalInSeconds: 30 }));
  const out: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const t0 = process.hrtime.bigint();
    await ask(JSON.stringify({ Type: 400, RequestID: i + 1 }));
    if (i >= WARMUP) out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  socket.destroy();
  return out;
}

async function main(): Promise<void> {
  const market = new TestMarket();
  const sim = await startDtcSimulator({ market, symbol: SYMBOL, encoding: 'json' });
  const client = new DtcClient({ port: sim.port, encoding: 'json', tradingEnabled: true, heartbeatSec: 30 });
  const manager = new OrderManager(client, { symbols: [SYMBOL] });
  await client.connect();
  await manager.whenReady();

  const orderMs: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    // Resting limits far from the market: acknowledged, never filled; cancelled in batches to keep the book small.
    const t0 = process.hrtime.bigint();
    await manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5000 });
    if (i >= WARMUP) orderMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (i % 100 === 99) await manager.cancelAll();
  }
  const rawMs = await rawRoundTrips(sim.port);
  orderMs.sort((a, b) => a - b);
  rawMs.sort((a, b) => a - b);
  const p50 = percentile(orderMs, 50);
  const p99 = percentile(orderMs, 99);
  report({ id: 'dtc.order.roundtrip', value: p50, unit: 'ms', baseline: percentile(rawMs, 50), goal: 'p50 submit → acknowledged ORDER_UPDATE on loopback; baseline = raw socket write → ack p50', note: `${SAMPLES} orders` });
  report({ id: 'dtc.order.roundtrip.p99', value: p99, unit: 'ms', baseline: percentile(rawMs, 99), goal: 'p99 submit → acknowledged ORDER_UPDATE; baseline = raw socket write → ack p99', note: `${SAMPLES} orders` });
  manager.dispose();
  await client.close();
  await sim.close();
}

void main();
