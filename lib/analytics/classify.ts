// Trade classification (analytics.md §3): the feed's aggressor flag when it has one (CME MDP 3.0 tag 5797);
// otherwise Lee-Ready: at or above the ask = buy, at or below the bid = sell, in between the tick test (uptick buy,
// downtick sell, a zero tick inherits the direction of the last price change).

/** Aggressor codes used on the hot path: +1 buy, −1 sell, 0 unknown. */
export const BUY = 1;
export const SELL = -1;
export const UNKNOWN = 0;

/** The tick test's direction after a trade at `price`: up = buy, down = sell, unchanged = the last direction. */
export function tickMove(price: number, lastPrice: number, lastMove: number): number {
  return price > lastPrice ? BUY : price < lastPrice ? SELL : lastMove;
}

export class TradeClassifier {
  // Public for the engine's column loop, which keeps them in registers; nothing else writes them.
  lastPrice = NaN;
  lastMove = UNKNOWN; // direction of the last non-zero price change

  /**
   * Aggressor of a trade at `price`. `aggressor` is the feed's flag (+1/−1, 0 when absent); `bid`/`ask` are the
   * prevailing quote (NaN when unknown). The tick test state advances on every trade.
   */
  classify(price: number, bid: number, ask: number, aggressor: number): number {
    this.lastMove = tickMove(price, this.lastPrice, this.lastMove);
    this.lastPrice = price;
    if (aggressor !== UNKNOWN) return aggressor;
    if (ask >= bid) {
      // a usable quote (NaN compares false and falls through to the tick test)
      if (price >= ask) return BUY;
      if (price <= bid) return SELL;
    }
    return this.lastMove;
  }

  reset(): void {
    this.lastPrice = NaN;
    this.lastMove = UNKNOWN;
  }
}
