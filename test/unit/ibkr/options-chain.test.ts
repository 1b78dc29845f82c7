import assert from 'node:assert/strict';
import { IbkrConnection } from '../../../lib/ibkr';
import { NotFoundError } from '../../../lib/ibkr/errors';
import { MARKET_REQUEST, OptionsChainFetcher, selectExpiries, strikesInWindow, type ChainApi, type ChainRequest, type ListedExpiry } from '../../../lib/ibkr/options-chain';
import type { SnapshotRow } from '../../../lib/ibkr/types';
import type { Scheduler } from '../../../lib/ibkr/scheduler';
import { parseAvailability } from '../../../lib/ibkr/wire';
import { startIbkrSimulator, type IbkrSimulator } from '../../../lib/sim/ibkr';

const LISTED: ListedExpiry[] = [
  { expiry: '20270105', tradingClass: 'SPXW', settlement: 'PM' },
  { expiry: '20270106', tradingClass: 'SPXW', settlement: 'PM' },
  { expiry: '20270115', tradingClass: 'SPX', settlement: 'AM' },
  { expiry: '20270115', tradingClass: 'SPXW', settlement: 'PM' },
];

function row(conid: number, values: SnapshotRow['values']): SnapshotRow {
  return { conid, updated: 0, availability: parseAvailability('RpB'), lastFlag: 'live', values, other: {} };
}

/** A tiny IBKR: one month, strikes 4900..5100 step 50, one SPXW expiry, greeks only from the `greeksFrom`-th call. */
function fakeChainApi(greeksFrom: number): ChainApi & { snapshotSizes: number[] } {
  const calls = new Map<number, number>();
  const snapshotSizes: number[] = [];
  return {
    snapshotSizes,
    secdefSearch: async () => [{ conid: 416904, symbol: 'SPX', companyName: '', description: '', sections: [{ secType: 'OPT', months: ['JAN27'], exchange: 'SMART' }] }],
    secdefStrikes: async () => ({ call: [4900, 4950, 5000, 5050, 5100], put: [4900, 4950, 5000, 5050, 5100] }),
    secdefInfo: async (r) => [
      { conid: r.strike! * 10 + (r.right === 'C' ? 1 : 2), symbol: 'SPX', secType: 'OPT', right: r.right ?? null, strike: r.strike ?? null, maturityDate: '20270105', multiplier: 100, tradingClass: 'SPXW', validExchanges: [] },
    ],
    snapshot: async (conids) => {
      snapshotSizes.push(conids.length);
      if (conids[0] === 416904) return [row(416904, { last: 5010 })];
      return conids.map((c) => {
        const n = (calls.get(c) ?? 0) + 1;
        calls.set(c, n);
        return row(c, n >= greeksFrom ? { bid: 1, ask: 1.2, last: 1.1, impliedVol: 15.5, delta: 0.5, gamma: 0.01, optionOpenInterest: 10, optionVolume: 2 } : { bid: 1, ask: 1.2, last: 1.1 });
      });
    },
  };
}

/** A scheduler whose waits end at the next turn of the event loop: the fetcher's pacing in no wall-clock time. */
const IMMEDIATE: Scheduler = {
  setTimeout: (fn) => setImmediate(fn),
  clearTimeout: (handle) => clearImmediate(handle as NodeJS.Immediate),
};

const NOW = Date.UTC(2027, 0, 5, 15); // a Tuesday, 10:00 New York

describe('options chain', () => {
  it('selects 0DTE, the next N dates, or a date range', () => {
    assert.deepEqual(selectExpiries(LISTED, { kind: '0dte' }, '20270105').map((e) => e.expiry), ['20270105']);
    assert.deepEqual(selectExpiries(LISTED, { kind: 'next', count: 3 }, '20270105').length, 4); // 15 Jan is listed twice: AM and PM
    assert.deepEqual(selectExpiries(LISTED, { kind: 'range', from: '20270106', to: '20270110' }, '20270105').map((e) => e.expiry), ['20270106']);
    assert.deepEqual(selectExpiries(LISTED, { kind: '0dte' }, '20270109'), []);
  });

  it('keeps the strikes within ±N % or the N strikes each side of spot', () => {
    const strikes = [4800, 4900, 5000, 5100, 5200];
    assert.deepEqual(strikesInWindow(strikes, 5010, { kind: 'percent', percent: 2 }), [5000, 5100]);
    assert.deepEqual(strikesInWindow(strikes, 5010, { kind: 'percent', percent: 1 }), [5000]);
    assert.deepEqual(strikesInWindow(strikes, 5010, { kind: 'strikes', count: 1 }), [5000, 5100]);
  });

  it('asks again, a bounded number of times, for greeks that arrive after the prices', async () => {
    const late = new OptionsChainFetcher(fakeChainApi(3), { greekRetryMs: 1 });
    const { chain, stats } = await late.fetch({ expiries: { kind: '0dte' }, window: { kind: 'strikes', count: 2 }, classes: ['SPXW'] }, NOW);
    assert.equal(chain.contracts.length, 8);
    assert.equal(stats.missingGreeks, 0);
    assert.equal(chain.contracts[0]!.iv, 0.155);

    const never = new OptionsChainFetcher(fakeChainApi(Infinity), { greekRetryMs: 1, greekRetries: 2 });
    const result = await never.fetch({ expiries: { kind: '0dte' }, window: { kind: 'strikes', count: 2 }, classes: ['SPXW'] }, NOW);
    assert.equal(result.stats.missingGreeks, 8);
    assert.equal(result.stats.snapshotRequests, 3);
    assert.equal(result.chain.contracts[0]!.delta, null);
    assert.equal(result.chain.contracts[0]!.bid, 1);
  });

  it('caches discovery for the day and discovers again the next day', async () => {
    const fetcher = new OptionsChainFetcher(fakeChainApi(1));
    const request = { expiries: { kind: '0dte' }, window: { kind: 'strikes', count: 2 }, classes: ['SPXW'] } as const;
    const first = await fetcher.fetch({ ...request, classes: ['SPXW'] }, NOW);
    assert.ok(first.stats.discoveryCalls > 0);
    assert.equal((await fetcher.fetch({ ...request, classes: ['SPXW'] }, NOW + 60_000)).stats.discoveryCalls, 0);
    await assert.rejects(fetcher.fetch({ ...request, classes: ['SPXW'] }, NOW + 86_400_000), NotFoundError); // no 0DTE listed on the 6th
  });

  it('hands discovery to the limiter a few at a time, with the same chain as all at once', async () => {
    // ~400 secdef/info calls; the counts are what the limiter would have had waiting.
    const strikes = Array.from({ length: 201 }, (_, i) => 4500 + 5 * i);
    const waitingMost = { now: 0, most: 0 };
    const base = fakeChainApi(1);
    const api = (): ChainApi => ({
      ...base,
      secdefStrikes: async () => ({ call: strikes, put: strikes }),
      secdefInfo: async (r) => {
        waitingMost.now += 1;
        waitingMost.most = Math.max(waitingMost.most, waitingMost.now);
        // Answered 10 turns later: slower than 4 starts a turn, as IBKR's 10/s is slower than the hand-over.
        for (let i = 0; i < 10; i += 1) await new Promise((resolve) => setImmediate(resolve));
        waitingMost.now -= 1;
        return base.secdefInfo(r);
      },
    });
    const request: ChainRequest = { expiries: { kind: '0dte' }, window: { kind: 'strikes', count: 100 }, classes: ['SPXW'] };
    const spread = await new OptionsChainFetcher(api(), { discoveryWaiting: 16, discoveryPerTurn: 4 }).fetch(request, NOW);
    assert.ok(waitingMost.most <= 16 + 1, `at most 16 discovery calls waiting (+1 listing call): ${waitingMost.most}`);
    assert.ok(waitingMost.most >= 16, 'the allowed width is used: the limiter never runs dry');
    waitingMost.most = 0;
    const atOnce = await new OptionsChainFetcher(api(), { discoveryWaiting: 10_000, discoveryPerTurn: 10_000 }).fetch(request, NOW);
    assert.ok(waitingMost.most > 300, 'the comparison hands them over all at once');
    assert.deepEqual(spread.chain.contracts, atOnce.chain.contracts);
    assert.equal(spread.stats.discoveryCalls, atOnce.stats.discoveryCalls);
    assert.equal(spread.chain.contracts.length, 2 * strikesInWindow(strikes, 5010, request.window).length, 'every (strike, right) of the window');
  });

  it('stops handing discovery over at the first failure and reports it', async () => {
    const strikes = Array.from({ length: 101 }, (_, i) => 4750 + 5 * i);
    let asked = 0;
    const base = fakeChainApi(1);
    const fetcher = new OptionsChainFetcher(
      {
        ...base,
        secdefStrikes: async () => ({ call: strikes, put: strikes }),
        secdefInfo: async (r) => {
          asked += 1;
          await new Promise((resolve) => setImmediate(resolve));
          if (asked === 30) throw new Error('connection closed');
          return base.secdefInfo(r);
        },
      },
      { discoveryWaiting: 8, discoveryPerTurn: 8 },
    );
    await assert.rejects(fetcher.fetch({ expiries: { kind: '0dte' }, window: { kind: 'strikes', count: 50 }, classes: ['SPXW'] }, NOW), /connection closed/);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(asked < 30 + 8, `no new call after the failure (${asked} of 203)`);
  });

  it('fetches the market scope (SPX and SPXW) and says in the chain what it left out', async () => {
    const months: Record<string, Array<[string, 'SPX' | 'SPXW']>> = {
      JAN27: [['20270105', 'SPXW'], ['20270115', 'SPX'], ['20270115', 'SPXW']],
      APR27: [['20270416', 'SPX'], ['20270430', 'SPXW']],
      MAR28: [['20280317', 'SPX']],
      MAR29: [['20290316', 'SPX']],
    };
    const conids = new Map<string, number>();
    const conidOf = (key: string): number => conids.get(key) ?? (conids.set(key, 1000 + conids.size), conids.size + 999);
    const api: ChainApi = {
      ...fakeChainApi(1),
      secdefSearch: async () => [{ conid: 416904, symbol: 'SPX', companyName: '', description: '', sections: [{ secType: 'OPT', months: Object.keys(months).join(';').split(';'), exchange: 'SMART' }] }],
      secdefStrikes: async () => ({ call: [3000, 4900, 5000, 5100, 7000], put: [3000, 4900, 5000, 5100, 7000] }),
      secdefInfo: async (r) =>
        (months[r.month] ?? []).map(([expiry, tradingClass], i) => ({
          conid: conidOf(`${expiry}|${tradingClass}|${String(r.strike)}|${String(r.right)}|${i}`),
          symbol: 'SPX', secType: 'OPT', right: r.right ?? null, strike: r.strike ?? null, maturityDate: expiry, multiplier: 100, tradingClass, validExchanges: [],
        })),
    };
    const fetcher = new OptionsChainFetcher(api, { greekRetryMs: 1 });
    const { chain } = await fetcher.fetch(MARKET_REQUEST, NOW);
    assert.deepEqual([...new Set(chain.contracts.map((c) => `${c.expiry} ${c.tradingClass}`))], ['20270105 SPXW', '20270115 SPX', '20270115 SPXW', '20270416 SPX', '20280317 SPX']);
    assert.deepEqual([...new Set(chain.contracts.map((c) => c.strike))], [4900, 5000, 5100]); // ±30 % of 5010
    assert.deepEqual(chain.scope?.leftOut, ['20270430 SPXW', '20290316 SPX']);
    assert.deepEqual(chain.scope?.strikeBand, { lo: 4900, hi: 5100 });
    assert.deepEqual(chain.scope?.strikes, { taken: 3, listed: 5 });
    assert.match(chain.scope?.rule ?? '', /^SPX and SPXW: all expiries within 62 days, AM monthlies within 12 months, AM quarterlies within 24 months, strikes within ±30 % of spot$/);

    // An SPXW-only request reports the AM series it passed over.
    const spxw = await fetcher.fetch({ expiries: { kind: 'next', count: 2 }, window: { kind: 'strikes', count: 1 }, classes: ['SPXW'] }, NOW);
    assert.deepEqual(spxw.chain.scope?.expiries, ['20270105 SPXW', '20270115 SPXW']);
    assert.deepEqual(spxw.chain.scope?.leftOut, ['20270115 SPX']);
  });

  it('refuses a malformed request with what to change', async () => {
    const fetcher = new OptionsChainFetcher(fakeChainApi(1));
    await assert.rejects(fetcher.fetch({ expiries: { kind: 'next', count: 0 }, window: { kind: 'percent', percent: 2 }, classes: ['SPXW'] }, NOW), /1 to 60/);
    await assert.rejects(fetcher.fetch({ expiries: { kind: 'next', count: 1 }, window: { kind: 'percent', percent: 90 }, classes: ['SPXW'] }, NOW), /50 %/);
  });

  describe('against the simulator', () => {
    let sim: IbkrSimulator;
    let connection: IbkrConnection;
    before(async () => {
      sim = await startIbkrSimulator({ seed: 11 });
      connection = new IbkrConnection({ mode: 'simulator', baseUrl: sim.baseUrl, simulatorCertificatePem: sim.certificatePem });
      await connection.start();
    });
    after(async () => {
      await connection.close();
      await sim.close();
    });

    it('returns the chosen SPXW expiries around spot with quotes and greeks, in batches of at most 100', async () => {
      // The greeks' second ask waits on a scheduler that runs at once. Discovery asks secdef/info per strike and right
      // of a month, so more expiries and fewer strikes pass 100 contracts with a third of the requests that 3 × 20
      // strikes took: each one is paced by the real limiter and costs the simulator a chain's worth of CPU.
      const fetcher = new OptionsChainFetcher(connection.client, { scheduler: IMMEDIATE });
      const { chain, stats } = await fetcher.fetch({ expiries: { kind: 'next', count: 9 }, window: { kind: 'strikes', count: 3 }, classes: ['SPXW'] }, sim.market.now());
      const expiries = [...new Set(chain.contracts.map((c) => c.expiry))];
      assert.equal(expiries.length, 9);
      assert.ok(stats.snapshotRequests > stats.batches, 'asked again for the greeks of the first ask');
      assert.ok(chain.contracts.length > 100, 'spans several snapshot batches');
      assert.equal(stats.batches, Math.ceil(chain.contracts.length / 100));
      assert.ok(chain.contracts.every((c) => c.tradingClass === 'SPXW' && c.settlement === 'PM'));
      assert.ok(chain.contracts.every((c) => c.delta !== null && c.gamma !== null && c.iv !== null && c.iv < 3 && c.openInterest !== null));
      const truth = sim.market.spxChain(expiries);
      const sample = chain.contracts[17]!;
      const same = truth.find((o) => o.expiry === sample.expiry && o.strike === sample.strike && o.right === sample.right && o.tradingClass === 'SPXW');
      assert.ok(same && Math.abs(same.delta - (sample.delta ?? 0)) < 0.05);
      assert.ok(Math.abs(chain.spot - sim.market.spxSpot()) < 20);
      assert.equal(sim.control.stats().rejected429, 0);
    });
  });
});
