// The quotes of one contract, the three ways ibkr-quote offers them: a snapshot on demand, a snapshot every N
// seconds, or the shared IbkrStream (quotes plus one tick per trade, gaps reported). Plain TypeScript, no Node-RED:
// the node only wires these events to its outputs and status. The contract is resolved again when the trading day
// changes, so "ES" follows the front-month roll without a redeploy.

import type { Quote, Tick } from '../contracts';
import { errorMessage } from '../errors';
import type { IbkrConnection } from '.';
import { resolveContract, type ContractSpec, type ResolvedContract } from './contract-resolver';
import { MiaError } from '../errors';
import { chicagoDate } from './futures';
import type { StreamQuote } from './market-data';
import type { IbkrStream, StreamGap, StreamState, SubscriptionHandle } from './stream';
import { streamQuotes } from './stream-quotes';
import type { SnapshotRow } from './types';
import type { DataSource } from './wire';

export type QuoteMode = 'snapshot' | 'poll' | 'stream';

/** A `quote` payload plus what the trader needs to trust it: where the price comes from. */
export type SourcedQuote = Quote & { source: DataSource; frozen: boolean };

export interface QuoteGap {
  symbol: string;
  conid: number;
  from: number;
  to: number;
  reason: string;
}

export interface QuoteFeedHandlers {
  quote(quote: SourcedQuote): void;
  tick(tick: Tick): void;
  gap(gap: QuoteGap): void;
  /** Failures with no input message to answer (poll, stream, roll). */
  error(err: unknown): void;
  streamState?(state: StreamState, reason: string): void;
}

export interface QuoteFeedOptions {
  connection: () => Promise<IbkrConnection>;
  stream: () => Promise<IbkrStream>;
  spec: ContractSpec;
  mode: QuoteMode;
  pollMs: number;
  now?: () => number;
}

const SNAPSHOT_FIELDS = ['last', 'bid', 'ask', 'bidSize', 'askSize', 'volume', 'volumeLong'];
/** How often a streaming feed checks whether the trading day (and so the front month) changed. */
const ROLL_CHECK_MS = 60 * 60_000;

export class MarketDataOffError extends MiaError {
  constructor(what: string) {
    super('IBKR_MARKET_DATA_OFF', `${what}: market data is switched off in the IBKR connection, so nothing was requested. Tick "Market data" in the ibkr-config node to allow it.`);
  }
}

/** The data-state words a status shows: real-time, delayed, frozen, or why there is none. */
export function dataStateLabel(source: DataSource): string {
  switch (source) {
    case 'real-time':
      return 'real-time';
    case 'delayed':
      return 'delayed';
    case 'frozen':
    case 'frozen-delayed':
      return 'frozen';
    case 'not-subscribed':
      return 'no subscription';
    case 'no-api-agreement':
      return 'API agreement missing';
    default:
      return 'unknown';
  }
}

export function snapshotQuote(contract: { symbol: string; conid: number; contract?: string }, row: SnapshotRow, now: number): SourcedQuote {
  const v = row.values;
  return {
    symbol: contract.symbol,
    ...(contract.contract === undefined ? {} : { contract: contract.contract }),
    conid: contract.conid,
    t: row.updated ?? now,
    last: v.last ?? null,
    bid: v.bid ?? null,
    ask: v.ask ?? null,
    bidSize: v.bidSize ?? null,
    askSize: v.askSize ?? null,
    volume: v.volumeLong ?? v.volume ?? null,
    delayed: row.availability.delayed,
    source: row.availability.source,
    frozen: row.availability.source === 'frozen' || row.availability.source === 'frozen-delayed',
  };
}

function streamed(q: StreamQuote): SourcedQuote {
  return { symbol: q.symbol, ...(q.contract === undefined ? {} : { contract: q.contract }), conid: q.conid, t: q.t, last: q.last, bid: q.bid, ask: q.ask, bidSize: q.bidSize, askSize: q.askSize, volume: q.volume, delayed: q.delayed, source: q.source, frozen: q.frozen };
}

export class QuoteFeed {
  private readonly now: () => number;
  private resolved: { day: string; contract: ResolvedContract } | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private rollTimer: NodeJS.Timeout | undefined;
  private subscription: { conid: number; handle: SubscriptionHandle; stream: IbkrStream; onState: (s: StreamState, r: string) => void } | undefined;
  private stopped = false;

  constructor(
    private readonly options: QuoteFeedOptions,
    private readonly handlers: QuoteFeedHandlers,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The contract for today (resolved once per trading day). */
  async contract(connection: IbkrConnection, spec: ContractSpec = this.options.spec): Promise<ResolvedContract> {
    const now = this.now();
    const day = chicagoDate(now);
    if (spec === this.options.spec && this.resolved?.day === day) return this.resolved.contract;
    const contract = await resolveContract(connection.client, spec, now, 'quote');
    if (spec === this.options.spec) this.resolved = { day, contract };
    return contract;
  }

  private async marketDataConnection(): Promise<IbkrConnection> {
    const connection = await this.options.connection();
    if (connection.options.marketDataEnabled === false) throw new MarketDataOffError('IBKR quote');
    return connection;
  }

  /** One snapshot (IBKR's pre-flight is handled by the client). */
  async snapshot(spec?: ContractSpec): Promise<SourcedQuote> {
    const connection = await this.marketDataConnection();
    const contract = await this.contract(connection, spec);
    const [row] = await connection.client.snapshot([contract.conid], SNAPSHOT_FIELDS, 'quote');
    if (!row) throw new MiaError('IBKR_NO_DATA', `IBKR returned no quote for ${contract.symbol} (conid ${contract.conid}): check the market-data permissions for it.`);
    return snapshotQuote(contract, row, this.now());
  }

  /** Starts polling or streaming (nothing in snapshot mode). */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.options.mode === 'poll') {
      const poll = (): void => {
        void this.snapshot().then(
          (q) => this.stopped || this.handlers.quote(q),
          (err: unknown) => this.stopped || this.handlers.error(err),
        );
      };
      poll();
      this.pollTimer = setInterval(poll, this.options.pollMs);
    } else if (this.options.mode === 'stream') {
      await this.subscribe();
      if (this.stopped) return; // stopped (redeployed) while subscribing: no roll check outlives the feed
      this.rollTimer = setInterval(() => void this.subscribe().catch((err: unknown) => this.handlers.error(err)), ROLL_CHECK_MS);
    }
  }

  /** Subscribes to today's contract; moves the subscription when the front month rolled. */
  private async subscribe(): Promise<void> {
    const connection = await this.marketDataConnection();
    const contract = await this.contract(connection);
    if (this.stopped || this.subscription?.conid === contract.conid) return;
    this.unsubscribe();
    const stream = await this.options.stream();
    if (this.stopped) return;
    const onState = (state: StreamState, reason: string): void => this.handlers.streamState?.(state, reason);
    stream.on('state', onState);
    const handle = streamQuotes(
      stream,
      contract,
      {
        onUpdate: (update) => {
          this.handlers.quote(streamed(update.quote));
          if (update.tick) this.handlers.tick(update.tick);
        },
        onGap: (gap: StreamGap) => this.handlers.gap({ symbol: contract.symbol, conid: contract.conid, from: gap.from, to: gap.to, reason: gap.reason }),
      },
      { now: this.now },
    );
    this.subscription = { conid: contract.conid, handle, stream, onState };
  }

  private unsubscribe(): void {
    const s = this.subscription;
    if (!s) return;
    this.subscription = undefined;
    s.stream.off('state', s.onState);
    try {
      s.handle.unsubscribe();
    } catch (err) {
      this.handlers.error(new MiaError('IBKR_STREAM', `IBKR quote: unsubscribing ${s.conid} failed: ${errorMessage(err)}`));
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearInterval(this.rollTimer);
    this.unsubscribe();
  }
}
