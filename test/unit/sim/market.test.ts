import assert from 'assert';
import { amExpiryTime, dayNumber, esSession, pmExpiryTime, tradeDateAtOrAfter } from '../../../lib/sim/calendar';
import { createMarket } from '../../../lib/sim/market';
import { RISK_FREE_RATE, SPX_DIVIDEND_YIELD, yearsToExpiry } from '../../../lib/sim/spx-chain';
import type { MarketBar, MarketTrade } from '../../../lib/sim/market-types';

// Wednesday 11 June 2025, 10:00 New York.
const START = Date.UTC(2025, 5, 11, 14, 0);
const HOUR = 3_600_000;

function barsFromTrades(trades: MarketTrade[]): MarketBar[] {
  const bars: MarketBar[] = [];
  for (const t of trades) {
    const key = Math.floor(t.t / 60_000) * 60_000;
    const last = bars[bars.length - 1];
    if (last && last.t === key) {
      last.h = Math.max(last.h, t.price);
      last.l = Math.min(last.l, t.price);
      last.c = t.price;
      last.v += t.size;
    } else bars.push({ t: key, o: t.price, h: t.price, l: t.price, c: t.price, v: t.size });
  }
  return bars;
}

const onGrid = (x: number): boolean => Math.abs(x * 4 - Math.round(x * 4)) < 1e-9;

describe('seeded market', () => {
  it('gives the same trades for the same seed, whatever order it is read in', () => {
    const a = createMarket({ seed: 11, startTime: START });
    const b = createMarket({ seed: 11, startTime: START });
    b.esBars(START - 20 * 86_400_000, START, 86_400_000); // read history first: must not change anything
    const from = START - 2 * HOUR;
    assert.deepStrictEqual(a.tradesBetween(from, START), b.tradesBetween(from, START));
    const c = createMarket({ seed: 12, startTime: START });
    assert.notDeepStrictEqual(c.tradesBetween(from, START), a.tradesBetween(from, START));
  });

  it('reads any window (pump-sized, on a trade, across minutes) as exactly the trades with from < t ≤ to, in order', () => {
    const m = createMarket({ seed: 4, startTime: START });
    const from = START - 20 * 60_000;
    const all = m.tradesBetween(from, START);
    assert.ok(all.length > 500);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.t <= all[i]!.t, 'in time order');
    const inside = (a: number, b: number): MarketTrade[] => all.filter((x) => x.t > a && x.t <= b);
    // Windows of 20 ms of market time (the pump's), windows from and to an exact trade time, and across minutes.
    const edges: [number, number][] = [];
    for (let t = from; t < START; t += 20 * 40) edges.push([t, t + 20 * 40]);
    for (let i = 0; i + 7 < all.length; i += 97) edges.push([all[i]!.t, all[i + 7]!.t], [all[i]!.t - 1, all[i]!.t]);
    edges.push([from + 30_000, from + 150_000], [START - 1, START]);
    let pieces: MarketTrade[] = [];
    for (const [a, b] of edges) {
      const got = m.tradesBetween(a, b);
      assert.deepStrictEqual(got, inside(a, b), `${a}..${b}`);
      if (b - a === 20 * 40) pieces = pieces.concat(got);
    }
    assert.deepStrictEqual(pieces, all, 'consecutive pump windows give every trade once');
  });

  it('starts at the requested price at the start time', () => {
    const m = createMarket({ seed: 3, startTime: START, startPrice: 6100 });
    const bar = m.esBars(START, START + 60_000, 60_000);
    const before = m.esBars(START - 60_000, START, 60_000);
    assert.strictEqual(before[0].c, 6100);
    assert.ok(bar.length <= 1);
  });

  it('builds 1-minute bars that equal the bars made from its trades', () => {
    const m = createMarket({ seed: 5, startTime: START });
    const from = START - 45 * 60_000;
    assert.deepStrictEqual(barsFromTrades(m.tradesBetween(from - 1, START - 1)), m.esBars(from, START, 60_000));
  });

  it('prices every trade and bar on the 0.25 grid with a one-tick market around the trade', () => {
    const m = createMarket({ seed: 8, startTime: START });
    const trades = m.tradesBetween(START - HOUR, START);
    assert.ok(trades.length > 1000);
    for (const t of trades) {
      assert.ok(onGrid(t.price) && onGrid(t.bid) && onGrid(t.ask), `off grid: ${JSON.stringify(t)}`);
      assert.strictEqual(t.ask - t.bid, 0.25);
      assert.ok(t.side === 'buy' ? t.price === t.ask : t.price === t.bid, 'aggressor trades at the touch it takes');
      assert.ok(t.size >= 1 && t.size <= 50);
    }
    for (const b of m.esBars(START - 30 * 86_400_000, START, 60_000)) assert.ok(onGrid(b.o) && onGrid(b.h) && onGrid(b.l) && onGrid(b.c));
  });

  it('trades most at the open and close of RTH, less at lunch, least overnight', () => {
    const m = createMarket({ seed: 21, startTime: START + 8 * HOUR });
    const volumes = { edges: [] as number[], lunch: [] as number[], overnight: [] as number[] };
    for (let d = 1; d <= 10; d++) {
      const s = esSession(tradeDateAtOrAfter(START - d * 86_400_000));
      const bars = m.esBars(s.open, s.close, 60_000);
      for (const b of bars) {
        const sinceOpen = (b.t - s.rthOpen) / 60_000;
        if ((sinceOpen >= 0 && sinceOpen < 30) || (sinceOpen >= 360 && sinceOpen < 390)) volumes.edges.push(b.v);
        else if (sinceOpen >= 165 && sinceOpen < 225) volumes.lunch.push(b.v);
        else if (sinceOpen < -300) volumes.overnight.push(b.v);
      }
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(volumes.edges) > 1.8 * mean(volumes.lunch), `edges ${mean(volumes.edges)} vs lunch ${mean(volumes.lunch)}`);
    assert.ok(mean(volumes.lunch) > 2 * mean(volumes.overnight), `lunch ${mean(volumes.lunch)} vs overnight ${mean(volumes.overnight)}`);
  });

  it('moves like ES: 10–25 % annualised over a year of daily bars', () => {
    const m = createMarket({ seed: 2, startTime: START });
    const daily = m.esBars(START - 365 * 86_400_000, START, 86_400_000);
    assert.ok(daily.length > 240, `${daily.length} daily bars`);
    const returns = daily.slice(1).map((b, i) => Math.log(b.c / daily[i].c));
    const vol = Math.sqrt(returns.reduce((a, r) => a + r * r, 0) / returns.length) * Math.sqrt(252);
    assert.ok(vol > 0.1 && vol < 0.25, `annualised volatility ${vol}`);
    const minuteBars = m.esBars(START - 30 * 86_400_000, START, 60_000);
    assert.ok(minuteBars.length > 20 * 1300, `${minuteBars.length} minute bars over 30 days`);
  });

  it('emits trades in real time scaled by speed and stops when told', async () => {
    const m = createMarket({ seed: 4, startTime: START, speed: 20 });
    const seen: MarketTrade[] = [];
    m.on('trade', (t: MarketTrade) => seen.push(t));
    m.start();
    await new Promise((r) => setTimeout(r, 300));
    m.stop();
    const count = seen.length;
    assert.ok(count > 10, `${count} trades`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].t >= seen[i - 1].t);
    assert.ok(m.now() - START >= 300 * 20 * 0.9);
    await new Promise((r) => setTimeout(r, 60));
    assert.strictEqual(seen.length, count);
    const q = m.esQuote();
    assert.ok(q.bid < q.ask && onGrid(q.last));
  });

  it('lists SPXW dailies, SPX AM monthlies on third Fridays, and unexpired ES quarterlies', () => {
    const m = createMarket({ seed: 1, startTime: START });
    const expiries = m.spxExpiries();
    assert.strictEqual(expiries[0].expiry, '20250611');
    assert.ok(expiries.some((e) => e.expiry === '20250620' && e.tradingClass === 'SPX'));
    assert.ok(expiries.some((e) => e.expiry === '20250620' && e.tradingClass === 'SPXW'));
    assert.ok(expiries.filter((e) => e.tradingClass === 'SPX').every((e) => new Date(`${e.expiry.slice(0, 4)}-${e.expiry.slice(4, 6)}-${e.expiry.slice(6)}`).getUTCDay() === 5));
    assert.deepStrictEqual(m.esContracts().map((c) => c.localSymbol).slice(0, 3), ['ESM5', 'ESU5', 'ESZ5']);
  });

  it("a session's bar so far (what every IBKR quote's open, high, low and volume come from) is its minute bars taken together", () => {
    const session = esSession(tradeDateAtOrAfter(START));
    const instants = [session.open + 1, session.open + 60_000, session.open + 61_234, START, START + 59_999, START + 60_000, session.close - 1];
    for (const now of instants) {
      for (const seed of [3, 11]) {
        const m = createMarket({ seed, startTime: now, speed: 0 });
        const [day] = m.esBars(session.open, now + 1, 86_400_000);
        const minutes = m.esBars(session.open, now + 1, 60_000);
        const together = {
          t: session.open,
          o: minutes[0]!.o,
          h: Math.max(...minutes.map((b) => b.h)),
          l: Math.min(...minutes.map((b) => b.l)),
          c: minutes[minutes.length - 1]!.c,
          v: minutes.reduce((v, b) => v + b.v, 0),
        };
        assert.deepStrictEqual(day, together, `seed ${seed}, ${new Date(now).toISOString()}`);
      }
    }
  });

  describe('SPX chain', () => {
    const m = createMarket({ seed: 9, startTime: START, speed: 0 });
    const expiry = m.spxExpiries()[3].expiry;
    const chain = m.spxChain([expiry]);
    const spot = m.spxSpot();
    const calls = chain.filter((o) => o.right === 'C');
    const puts = chain.filter((o) => o.right === 'P');

    it('lists strikes every 5 points around SPX = ES − basis', () => {
      assert.strictEqual(spot, m.esQuote().last - 25);
      const strikes = calls.map((o) => o.strike);
      assert.ok(strikes.every((k, i) => i === 0 || k - strikes[i - 1] === 5));
      assert.ok(strikes[0] < spot * 0.95 && strikes[strikes.length - 1] > spot * 1.05);
    });

    it('lists, unpriced, exactly the contracts of the priced chain (what /secdef/info answers), the same on a second call', () => {
      const expiries = m.spxExpiries().slice(0, 4).map((e) => e.expiry);
      const priced = m.spxChain(expiries).filter((o) => o.right === 'C').map((o) => `${o.expiry}:${o.tradingClass}:${o.strike}`);
      const listed = m.spxListing(expiries).map((o) => `${o.expiry}:${o.tradingClass}:${o.strike}`);
      assert.ok(priced.length > 100);
      assert.deepStrictEqual(listed, priced);
      assert.deepStrictEqual(m.spxListing(expiries).map((o) => `${o.expiry}:${o.tradingClass}:${o.strike}`), priced);
    });

    it('answers the same listing again with one shared frozen array, and a new one when the trade date moves', () => {
      const clocked = (t: () => number) => Object.assign(createMarket({ seed: 9, startTime: START, speed: 0 }), { now: t });
      let t = START;
      const a = clocked(() => t);
      const expiries = a.spxExpiries().slice(0, 6).map((e) => e.expiry);
      const first = a.spxListing(expiries);
      assert.strictEqual(a.spxListing(expiries), first);
      assert.ok(Object.isFrozen(first) && Object.isFrozen(first[0]));
      assert.deepStrictEqual(first, clocked(() => START).spxListing(expiries));
      assert.notDeepStrictEqual(a.spxListing(expiries.slice(1)), first);
      t = START + 24 * HOUR; // Thursday: the first expiry has gone, the strikes are around another prior close
      const next = a.spxListing(expiries);
      assert.notDeepStrictEqual(next, first);
      assert.deepStrictEqual(next, clocked(() => START + 24 * HOUR).spxListing(expiries));
    });

    it('lists the expiries a fresh market would list at each instant, across today\'s PM expiry, midnight, a weekend and a monthly, and the same frozen list in between', () => {
      const clocked = (t: () => number) => Object.assign(createMarket({ seed: 9, startTime: START, speed: 0 }), { now: t });
      let t = START; // Wednesday 11 June 2025, 10:00 New York
      const a = clocked(() => t);
      const first = a.spxExpiries();
      assert.ok(Object.isFrozen(first) && Object.isFrozen(first[0]));
      t = START + 5 * HOUR;
      assert.strictEqual(a.spxExpiries(), first, 'the same day, before 16:00 New York: the same list');
      const instants = [
        Date.UTC(2025, 5, 11, 19, 59, 59, 999), // 15:59:59.999 New York: today's SPXW still listed
        Date.UTC(2025, 5, 11, 20, 0), // 16:00: expired
        Date.UTC(2025, 5, 12, 3, 59, 59, 999), // 23:59:59.999
        Date.UTC(2025, 5, 12, 4, 0), // midnight: Thursday
        Date.UTC(2025, 5, 14, 16, 0), // Saturday
        Date.UTC(2025, 5, 16, 14, 0), // Monday
        Date.UTC(2025, 5, 20, 14, 0), // Friday 20 June: the June monthly (AM) has expired
        Date.UTC(2025, 5, 11, 14, 0), // back to the start (a replay may go back)
      ];
      for (const at of instants) {
        t = at;
        assert.deepStrictEqual(a.spxExpiries(), clocked(() => at).spxExpiries(), new Date(at).toISOString());
      }
      const at = (when: number): string[] => {
        t = when;
        return a.spxExpiries().map((e) => `${e.expiry}:${e.tradingClass}`);
      };
      assert.strictEqual(at(instants[0]!)[0], '20250611:SPXW');
      assert.strictEqual(at(instants[1]!)[0], '20250612:SPXW', "today's PM expiry passed: gone at once");
      assert.ok(at(Date.UTC(2025, 5, 19, 14, 0)).includes('20250620:SPX') && !at(instants[6]!).includes('20250620:SPX'));
    });

    it('peaks gamma near the money', () => {
      const peak = calls.reduce((a, b) => (b.gamma > a.gamma ? b : a));
      assert.ok(Math.abs(peak.strike - spot) < 40, `gamma peaks at ${peak.strike}, spot ${spot}`);
    });

    it('skews IV higher for lower strikes', () => {
      const iv = (k: number): number => (calls.find((o) => o.strike === k) as { iv: number }).iv;
      const atm = Math.round(spot / 5) * 5;
      assert.ok(iv(atm - 200) > iv(atm) && iv(atm) > iv(atm + 100));
    });

    it('keeps put/call parity within the quoted spreads', () => {
      const T = yearsToExpiry(expiry, 'SPXW', m.now());
      for (const c of calls.filter((o) => Math.abs(o.strike - spot) < 150)) {
        const p = puts.find((o) => o.strike === c.strike) as (typeof puts)[number];
        const synthetic = (c.bid + c.ask) / 2 - (p.bid + p.ask) / 2;
        const parity = spot * Math.exp(-SPX_DIVIDEND_YIELD * T) - c.strike * Math.exp(-RISK_FREE_RATE * T);
        const tolerance = (c.ask - c.bid + p.ask - p.bid) / 2;
        assert.ok(Math.abs(synthetic - parity) <= tolerance, `K=${c.strike}: C−P ${synthetic} vs parity ${parity}`);
        assert.ok(c.bid <= c.ask && p.bid <= p.ask && c.delta > 0 && p.delta < 0);
      }
    });

    it('concentrates open interest at round strikes near the money', () => {
      const top = [...chain].sort((a, b) => b.openInterest - a.openInterest).slice(0, 5);
      for (const o of top) {
        assert.strictEqual(o.strike % 25, 0, `top OI at ${o.strike}`);
        assert.ok(Math.abs(o.strike - spot) < spot * 0.06);
      }
    });
  });
});

describe('expiry calendar', () => {
  it('gives the expiry instants across a daylight-saving change the same on first and repeated calls', () => {
    // 2025-03-07 (EST) and 2025-03-10 (EDT): 16:00 ET is 21:00 UTC, then 20:00 UTC.
    for (let round = 0; round < 2; round++) {
      assert.strictEqual(pmExpiryTime(dayNumber(2025, 3, 7)), Date.UTC(2025, 2, 7, 21, 0));
      assert.strictEqual(pmExpiryTime(dayNumber(2025, 3, 10)), Date.UTC(2025, 2, 10, 20, 0));
      assert.strictEqual(amExpiryTime(dayNumber(2025, 3, 21)), Date.UTC(2025, 2, 21, 13, 30));
    }
  });
});
