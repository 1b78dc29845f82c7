// A contract's streaming quote and trades: the shared IbkrStream subscription joined to a MarketDataBook, with
// stream gaps fed to the book so the volume traded while the link was down is reported, not invented as a trade.
// This is what a streaming ibkr-quote node holds; unsubscribe() when the node closes.

import type { StreamGap, IbkrStream, SubscriptionHandle } from './stream';
import { MarketDataBook, QUOTE_FIELDS, type MarketDataUpdate } from './market-data';

export interface QuoteStreamHandlers {
  /** Every smd message: the running quote, the trade it revealed (if any) and any unobserved volume. */
  onUpdate(update: MarketDataUpdate): void;
  /** The stream missed data for this contract (reconnect, session loss); called when it is streaming again. */
  onGap?(gap: StreamGap): void;
}

export interface QuoteStreamOptions {
  /** Extra field ids beyond QUOTE_FIELDS (they reach the raw message only). */
  extraFields?: readonly string[];
  now?: () => number;
}

export function streamQuotes(
  stream: IbkrStream,
  contract: { conid: number | string; symbol: string; contract?: string },
  handlers: QuoteStreamHandlers,
  options: QuoteStreamOptions = {},
): SubscriptionHandle {
  const now = options.now ?? Date.now;
  const book = new MarketDataBook(Number.parseInt(String(contract.conid), 10), contract.symbol, contract.contract);
  const key = `smd+${String(contract.conid).trim()}`;
  const onGap = (gap: StreamGap): void => {
    if (!gap.subscriptions.includes(key)) return;
    book.markGap();
    handlers.onGap?.(gap);
  };
  stream.on('gap', onGap);
  let subscription: SubscriptionHandle;
  try {
    subscription = stream.subscribeMarketData(contract.conid, [...QUOTE_FIELDS, ...(options.extraFields ?? [])], (message) =>
      handlers.onUpdate(book.apply(message, now())),
    );
  } catch (err) {
    stream.off('gap', onGap);
    throw err;
  }
  return {
    unsubscribe: () => {
      subscription.unsubscribe();
      stream.off('gap', onGap);
    },
  };
}
