// The chain scope rule (lib/analytics/chain-scope) picks from what the broker lists before anything is fetched; on two
// real CBOE chains (../shared/data/cboe) the scope of the node's defaults and of the shipped flow gives the whole
// chain's total GEX within 10 % and the same call and put walls.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { MARKET_SCOPE, addMonths, expiryInScope, scopeHorizon } from '../../../lib/analytics/chain-scope';
import { analyzeGamma } from '../../../lib/analytics/gamma-exposure';
import type { Chain } from '../../../lib/contracts';
import { CHAIN_NODE_DEFAULTS, chainRequestOf, cutChain, selectExpiries, validateChainRequest, type ChainNodeSettings, type ListedExpiry } from '../../../lib/ibkr/options-chain';
import { CBOE_DIR, cboeAvailable, loadCboeChain } from '../../support/cboe';

const REPO = path.resolve(__dirname, '..', '..', '..');

describe('chain scope rule', () => {
  const today = '20240108'; // a Monday
  const listed: ListedExpiry[] = [
    { expiry: '20240108', tradingClass: 'SPXW', settlement: 'PM' },
    { expiry: '20240119', tradingClass: 'SPX', settlement: 'AM' },
    { expiry: '20240119', tradingClass: 'SPXW', settlement: 'PM' },
    { expiry: '20240308', tradingClass: 'SPXW', settlement: 'PM' }, // 60 days: near
    { expiry: '20240328', tradingClass: 'SPXW', settlement: 'PM' }, // 80 days, PM quarter-end: out
    { expiry: '20240419', tradingClass: 'SPX', settlement: 'AM' }, // AM monthly within 12 months
    { expiry: '20250117', tradingClass: 'SPX', settlement: 'AM' }, // AM monthly, 12 months and 9 days: out
    { expiry: '20250321', tradingClass: 'SPX', settlement: 'AM' }, // AM quarterly within 24 months
    { expiry: '20251219', tradingClass: 'SPX', settlement: 'AM' }, // AM quarterly, 23 months
    { expiry: '20260320', tradingClass: 'SPX', settlement: 'AM' }, // AM quarterly, 26 months: out
  ];

  it('takes every expiry within 62 days, AM monthlies within 12 months, AM quarterlies within 24 months', () => {
    const taken = selectExpiries(listed, chainRequestOf({}).expiries, today).map((e) => `${e.expiry} ${e.tradingClass}`);
    assert.deepEqual(taken, ['20240108 SPXW', '20240119 SPX', '20240119 SPXW', '20240308 SPXW', '20240419 SPX', '20250321 SPX', '20251219 SPX']);
    assert.equal(expiryInScope('20240105', 'PM', today, MARKET_SCOPE), false); // already expired
    assert.equal(scopeHorizon(today, MARKET_SCOPE), '20260108'); // the fetcher lists months up to here
    assert.deepEqual([addMonths('20240131', 1), addMonths('20241130', 3), addMonths('20240229', 12)], ['20240229', '20250228', '20250228']);
  });

  it('refuses a market scope that is not whole days and months, saying which', () => {
    const market = { ...MARKET_SCOPE, kind: 'market' as const };
    assert.throws(() => validateChainRequest({ ...chainRequestOf({}), expiries: { ...market, nearDays: -1 } }), /"all expiries within" must be 0 to 400 days/);
    assert.throws(() => validateChainRequest({ ...chainRequestOf({}), expiries: { ...market, amMonths: 1.5 } }), /"AM monthlies within"/);
  });

  it('is the node default: SPX and SPXW, market expiries, ±30 % of spot; msg.expiries = "market" asks it too', () => {
    const request = chainRequestOf({});
    assert.deepEqual(request.classes, ['SPX', 'SPXW']);
    assert.deepEqual(request.window, { kind: 'percent', percent: 30 });
    assert.equal(request.expiries.kind, 'market');
    assert.deepEqual(chainRequestOf({ classes: 'SPXW', expiryMode: 'next', nextCount: 2 }, { expiries: 'market' }).expiries, request.expiries);
    assert.throws(() => chainRequestOf({}, { expiries: 'all' }), /"market"/);
    assert.throws(() => chainRequestOf({ windowPct: '' }), /strike window must be between 0 and 50 %/); // blank is refused, not defaulted
  });

  it('has the same defaults in the node dialog as in lib', () => {
    const html = fs.readFileSync(path.join(REPO, 'nodes', 'ibkr-options-chain', 'ibkr-options-chain.html'), 'utf8');
    for (const [key, value] of Object.entries(CHAIN_NODE_DEFAULTS)) {
      const m = new RegExp(`\\b${key}: \\{ value: ([^,}]+)`).exec(html);
      assert.ok(m, `${key} in the dialog's defaults`);
      assert.equal(String(JSON.parse(m[1].replace(/'/g, '"'))), String(value), key);
    }
  });
});

function shippedChainSettings(): Partial<ChainNodeSettings> {
  const flow = JSON.parse(fs.readFileSync(path.join(REPO, 'flows', 'mia-ia-pipeline.json'), 'utf8')) as Array<{ type: string } & Partial<ChainNodeSettings>>;
  const nodes = flow.filter((n) => n.type === 'ibkr-options-chain');
  assert.equal(nodes.length, 1);
  return nodes[0];
}

describe('chain scope on real CBOE chains', function () {
  for (const file of ['spx-2024-01-07.csv', 'spx-2022-07-12.csv']) {
    describe(file, function () {
      let whole: Chain;
      let reference: ReturnType<typeof analyzeGamma>['payload'];
      before(function () {
        if (!cboeAvailable(file)) {
          console.log(`      skipped: ${file} not found in ${CBOE_DIR}`);
          this.skip();
        }
        whole = loadCboeChain(file);
        reference = analyzeGamma(whole).payload;
      });

      const scopes: Array<[string, () => Partial<ChainNodeSettings>]> = [
        ['the node defaults', () => ({})],
        ['the shipped flow', shippedChainSettings],
      ];
      for (const [name, settings] of scopes) {
        it(`${name}: total GEX within 10 % of the whole chain's, the same call and put walls`, () => {
          const cut = cutChain(whole, chainRequestOf(settings()), whole.t);
          const { payload } = analyzeGamma(cut);
          const ratio = payload.totalGex / reference.totalGex;
          assert.ok(Math.abs(ratio - 1) <= 0.1, `total ${(payload.totalGex / 1e9).toFixed(2)} bn vs ${(reference.totalGex / 1e9).toFixed(2)} bn`);
          assert.deepEqual([payload.callWall, payload.putWall], [reference.callWall, reference.putWall]);
          // What the fetcher would say it left out, and what it covered of the whole chain.
          const scope = cut.scope;
          assert.ok(scope?.measured);
          assert.ok(scope.expiries.some((e) => e.endsWith(' SPX')) && scope.expiries.some((e) => e.endsWith(' SPXW')));
          assert.ok(scope.leftOut.length > 0 && scope.strikes.taken < scope.strikes.listed);
          assert.ok(scope.measured.gamma > 0.9 && scope.measured.openInterest > 0.7, JSON.stringify(scope.measured));
          // The gamma output reports that coverage and finds nothing cut.
          const coverage = payload.coverage;
          assert.deepEqual([coverage?.of, coverage?.gamma, coverage?.warnings], ['whole-chain', scope.measured.gamma, []]);
        });
      }

      it('the old shipped scope (SPXW, next 2 expiries, ±15 strikes) misses the levels: the rule is what matters', () => {
        const cut = cutChain(whole, chainRequestOf({ classes: 'SPXW', expiryMode: 'next', nextCount: 2, windowMode: 'strikes', windowStrikes: 15 }), whole.t);
        const { payload } = analyzeGamma(cut);
        assert.ok(Math.abs(payload.totalGex / reference.totalGex - 1) > 0.5);
        assert.notDeepEqual([payload.callWall, payload.putWall], [reference.callWall, reference.putWall]);
        assert.ok((cut.scope?.measured?.openInterest ?? 1) < 0.05);
        // ... and the gamma output says so.
        const codes = payload.coverage?.warnings.map((w) => w.code);
        assert.deepEqual(codes, ['no-am-series', 'narrow-strike-band', 'low-coverage']);
        assert.ok((payload.coverage?.gamma ?? 1) < 0.05);
      });

      it('a narrower band (±20 %) is flagged, and so is a scope without AM quarterlies', () => {
        const narrow = analyzeGamma(cutChain(whole, chainRequestOf({ windowPct: 20 }), whole.t)).payload;
        assert.deepEqual(narrow.coverage?.warnings.map((w) => w.code), ['narrow-strike-band']);
        const near = analyzeGamma(cutChain(whole, chainRequestOf({ expiryMode: 'next', nextCount: 12 }), whole.t)).payload;
        assert.ok(near.coverage?.warnings.some((w) => w.code === 'no-am-quarterly' || w.code === 'no-am-series'));
      });
    });
  }
});
