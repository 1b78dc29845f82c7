// ibkr.chain.2000: seconds to fetch a 2,000-contract SPX chain from a cold start (discovery included) through the
// client and its limiter, against the IBKR simulator with IBKR's own limits on. The simulator runs in a child
// process (as IBKR runs elsewhere), so its pricing work does not slow the client's event loop.
// Two chains: the current month's SPXW expiries × ±100 strikes (the headline; the month lists ~1,870), and the month with the most
// expiries × ±25 strikes (ibkr.chain.2000.dense: 4× fewer discovery calls, since secdef/info answers every expiry of
// a month at once; there the simulator, which prices the whole month for each secdef/info call, is the bottleneck).
// Baseline, from the same run: the least time IBKR's limits allow for the calls the fetch made — every call passes
// the global 10 req/s limit and the snapshots also their own 10/s (fact sheet, section 5), so calls ÷ 10 s.
// Goal ≤ 1.1. The client's limiter counts each request from its send until its answer (lib/ibkr/departures.ts), so
// even a full queue leaves at 10 per (1,002 ms + the answers' time); anything above that is time the queue stood
// empty (the sequential start: search, then the month's strikes and its expiry listing; the snapshots' pre-flight
// wait at the end).
// Run: node --expose-gc --import tsx test/bench/ibkr-chain.bench.ts
import { fork, type ChildProcess } from 'node:child_process';
import { IbkrConnection } from '../../lib/ibkr';
import { OptionsChainFetcher, monthToken } from '../../lib/ibkr/options-chain';
import { startIbkrSimulator } from '../../lib/sim/ibkr';
import { createMarket } from '../../lib/sim/market';
import type { RateStats } from '../../lib/sim/ibkr/rate-limiter';
import { percentile, report } from './harness';

const TARGET = 2000;
const SIMULATOR_FLAG = '--simulator';

interface SimulatorReady {
  baseUrl: string;
  certificatePem: string | undefined;
  now: number;
  expiries: Array<{ expiry: string; tradingClass: string }>;
}

/**
 * The simulator's market starts at this moment, whatever today's date: the same chain (the same expiries listed,
 * the same strikes around the same spot) is fetched every day. Monday 2 March 2026, 10:00 New York (15:00 UTC):
 * the month's 22 SPXW expiries are all still listed.
 */
export const MARKET_START = Date.UTC(2026, 2, 2, 15, 0, 0);

/** The child: a simulator that answers 'stats' and exits on 'close'. */
async function runSimulator(): Promise<void> {
  const market = createMarket({ seed: 21, startTime: MARKET_START });
  market.start();
  const sim = await startIbkrSimulator({ seed: 21, market });
  process.on('message', (m: string) => {
    if (m === 'stats') process.send?.({ stats: sim.control.stats() });
    if (m === 'close') void sim.close().then(() => {
      market.stop();
      process.exit(0);
    });
  });
  const ready: SimulatorReady = { baseUrl: sim.baseUrl, certificatePem: sim.certificatePem, now: sim.market.now(), expiries: sim.market.spxExpiries() };
  process.send?.({ ready });
}

function ask<T>(child: ChildProcess, key: string, message?: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>): void => {
      if (!(key in m)) return;
      child.off('message', on);
      resolve(m[key] as T);
    };
    child.on('message', on);
    if (message) child.send(message);
  });
}

type MonthPick = (byMonth: Map<string, string[]>) => string[];

async function scenario(id: string, pickMonth: MonthPick): Promise<void> {
  const child = fork(__filename, [SIMULATOR_FLAG], { execArgv: ['--import', 'tsx'] });
  const ready = await ask<SimulatorReady>(child, 'ready');
  const connection = new IbkrConnection({ mode: 'simulator', baseUrl: ready.baseUrl, simulatorCertificatePem: ready.certificatePem });
  try {
    await connection.start();
    const byMonth = new Map<string, string[]>();
    for (const e of ready.expiries.filter((x) => x.tradingClass === 'SPXW')) {
      byMonth.set(monthToken(e.expiry), [...(byMonth.get(monthToken(e.expiry)) ?? []), e.expiry]);
    }
    const expiries = pickMonth(byMonth);
    // At most what the month lists: the simulator's current month holds ~1,870 contracts (reported in the note).
    const strikesEachSide = Math.round(TARGET / (expiries.length * 2 * 2));

    const before = await ask<RateStats>(child, 'stats', 'stats');
    const fetcher = new OptionsChainFetcher(connection.client);
    const started = process.hrtime.bigint();
    const { chain, stats } = await fetcher.fetch(
      { expiries: { kind: 'range', from: expiries[0]!, to: expiries.at(-1)! }, window: { kind: 'strikes', count: strikesEachSide }, classes: ['SPXW'] },
      ready.now,
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const after = await ask<RateStats>(child, 'stats', 'stats');
    const calls = (path: string): number => (after.requests[path] ?? 0) - (before.requests[path] ?? 0);
    const snapshotCalls = calls('/iserver/marketdata/snapshot');
    const discoveryCalls = calls('/iserver/secdef/search') + calls('/iserver/secdef/strikes') + calls('/iserver/secdef/info');
    const otherCalls = after.total - before.total - snapshotCalls - discoveryCalls;
    const minimumSeconds = (snapshotCalls + discoveryCalls + otherCalls) / 10;
    report({
      id,
      value: Number(seconds.toFixed(2)),
      unit: 's',
      baseline: Number(minimumSeconds.toFixed(2)),
      goal: '≤ 1.1',
      note: `${chain.contracts.length} contracts (${expiries.length} expiries × ±${strikesEachSide} strikes), ${stats.batches} batches; ${snapshotCalls} snapshot + ${discoveryCalls} discovery + ${otherCalls} other calls; ${after.rejected429 - before.rejected429} × 429; ${stats.missingGreeks} without greeks`,
    });
  } finally {
    await connection.close();
    child.send('close');
  }
}

/**
 * How long an order and a polled quote wait in the limiter while a 2,000-contract chain refresh is in progress:
 * from the moment each is asked to the moment the limiter lets it leave. The probes go through the connection's own
 * limiter with the priority their callers give them ('order' on the order path, 'quote' on the snapshot path) and
 * send nothing (the limiter counts them against IBKR's windows all the same). An order every second and a quote
 * every second half a second later, at no particular phase of the limiter's pace. Baseline, in the same run: the
 * same probes with the limiter idle, before the refresh.
 */
async function orderWaitDuringChain(): Promise<void> {
  const child = fork(__filename, [SIMULATOR_FLAG], { execArgv: ['--import', 'tsx'] });
  const ready = await ask<SimulatorReady>(child, 'ready');
  const connection = new IbkrConnection({ mode: 'simulator', baseUrl: ready.baseUrl, simulatorCertificatePem: ready.certificatePem });
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const probe = async (priority: 'order' | 'quote'): Promise<number> => {
    const path = priority === 'order' ? '/iserver/account/DU1234567/orders' : '/iserver/marketdata/snapshot';
    const asked = performance.now();
    return connection.limiter.schedule({ method: priority === 'order' ? 'POST' : 'GET', path, priority }, () => Promise.resolve(performance.now() - asked));
  };
  const p99 = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 99);
  try {
    await connection.start();
    const idle: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      idle.push(await probe('order'));
      await sleep(250);
    }
    const expiries = ready.expiries.filter((x) => x.tradingClass === 'SPXW').map((x) => x.expiry);
    const month = expiries.filter((e) => monthToken(e) === monthToken(expiries[0]!));
    const fetcher = new OptionsChainFetcher(connection.client);
    let done = false;
    const fetching = fetcher
      .fetch({ expiries: { kind: 'range', from: month[0]!, to: month.at(-1)! }, window: { kind: 'strikes', count: Math.round(TARGET / (month.length * 4)) }, classes: ['SPXW'] }, ready.now)
      .finally(() => (done = true));
    const waits = { order: [] as number[], quote: [] as number[] };
    for (let i = 0; !done; i += 1) {
      await sleep(i === 0 ? 1_037 : 500 + (i % 7) * 11);
      if (done) break;
      waits[i % 2 === 0 ? 'order' : 'quote'].push(await probe(i % 2 === 0 ? 'order' : 'quote'));
    }
    const { chain } = await fetching;
    report({
      id: 'ibkr.order_wait_during_chain.p99',
      value: Number(p99(waits.order).toFixed(1)),
      unit: 'ms (p99)',
      baseline: Number(p99(idle).toFixed(1)),
      goal: '≤ 150 ms',
      note: `${waits.order.length} orders during a ${chain.contracts.length}-contract refresh; max ${Math.max(...waits.order).toFixed(1)} ms; baseline = the same order probe, limiter idle`,
    });
    report({
      id: 'ibkr.quote_wait_during_chain.p99',
      value: Number(p99(waits.quote).toFixed(1)),
      unit: 'ms (p99)',
      baseline: Number(p99(idle).toFixed(1)),
      goal: '≤ 150 ms',
      note: `${waits.quote.length} polled quotes (snapshot, 'quote' priority: the snapshot family's own 10/s as well as the global window) during the same refresh; max ${Math.max(...waits.quote).toFixed(1)} ms; baseline = the order probe, limiter idle`,
    });
  } finally {
    await connection.close();
    child.send('close');
  }
}

async function main(): Promise<void> {
  await scenario('ibkr.chain.2000', (byMonth) => [...byMonth.values()][0]!);
  await scenario('ibkr.chain.2000.dense', (byMonth) => [...byMonth.values()].sort((a, b) => b.length - a.length)[0]!);
  await orderWaitDuringChain();
}

if (process.argv.includes(SIMULATOR_FLAG)) void runSimulator();
else void main();
