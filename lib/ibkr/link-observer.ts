// What an IBKR link reports about itself, apart from session states: the metrics of the connection (lib/metrics) and
// the log lines a trader reads in Node-RED's log: first market data per subscription (info; the rest at trace),
// stream reconnects, transport retries, and, with "Trace requests" on, every request and answer at debug level.
// Secrets never reach here unredacted: trace entries are scrubbed by the transport (lib/ibkr/redact.ts).
import { FAMILY_LIMITS, RATE_PRESETS, type IbkrConnection, type IbkrLogger, type RatePreset, type TraceEntry } from '.';
import type { FamilyLimit } from './limiter';
import { IbkrStream, type IbkrStreamOptions, type MarketDataListener, type StreamGap, type SubscriptionHandle, type StreamState } from './stream';
import type { ExchangeEvent } from './transport';
import { IbkrMetrics } from '../metrics';

/** Node-RED's levels; trace is the most detailed (every market-data message). */
export interface LinkLogger extends IbkrLogger {
  trace?(message: string): void;
}

/** Longest body shown in a traced request or answer. */
const TRACE_BODY_CHARS = 2_000;

/** One traced exchange as a log line: "IBKR → GET url body" / "IBKR ← 200 GET url (12 ms) body". */
export function formatTrace(entry: TraceEntry): string {
  let body = '';
  if (entry.body !== undefined) {
    const text = typeof entry.body === 'string' ? entry.body : JSON.stringify(entry.body);
    body = ` ${text.length > TRACE_BODY_CHARS ? `${text.slice(0, TRACE_BODY_CHARS)}… (${text.length} chars)` : text}`;
  }
  const took = entry.elapsedMs !== undefined ? ` (${entry.elapsedMs} ms)` : '';
  if (entry.direction === 'request') return `IBKR → ${entry.method} ${entry.url}${body}`;
  if (entry.direction === 'response') return `IBKR ← ${entry.status ?? ''} ${entry.method} ${entry.url}${took}${body}`;
  return `IBKR ✕ ${entry.method} ${entry.url}${took}${body}`;
}

/** The metrics of a connection with these settings: its global rate and the family limits it enforces. */
export function metricsFor(options: { ratePreset?: RatePreset; familyLimits?: Partial<Record<string, FamilyLimit>> }): IbkrMetrics {
  return new IbkrMetrics({
    globalPerSecond: RATE_PRESETS[options.ratePreset ?? 'ibkr-10rps'].perSecond,
    familyLimits: { ...FAMILY_LIMITS, ...options.familyLimits },
  });
}

/** Feeds a connection's HTTP exchanges into the metrics and its retry notes into the log. */
export function observeConnection(connection: IbkrConnection, metrics: IbkrMetrics, logger: LinkLogger): void {
  connection.transport.on('exchange', (event: ExchangeEvent) => metrics.recordExchange(event));
  connection.transport.on('log', (level: 'debug' | 'warn', message: string) => logger[level](message));
}

/**
 * The connection's one WebSocket, with its market data counted for the metrics and logged: the first update of each
 * subscription (and the first after each reconnect) at info, every later one at trace.
 */
export class ObservedStream extends IbkrStream {
  private readonly flowing = new Set<string>();
  /** The last frame counted per contract: several listeners of one contract get the same frame object. */
  private readonly lastFrame = new Map<string, unknown>();

  constructor(
    options: IbkrStreamOptions,
    private readonly metrics: IbkrMetrics,
    private readonly logger: LinkLogger,
    private readonly clock: () => number,
  ) {
    super(options);
    this.on('state', (state: StreamState) => {
      metrics.streamChanged(state, clock());
      if (state !== 'open') this.flowing.clear();
    });
    this.on('gap', (gap: StreamGap) => {
      const missed = gap.subscriptions.length ? `; ${gap.subscriptions.length} subscription(s) missed data meanwhile` : '';
      logger.info(`IBKR stream back after ${((gap.to - gap.from) / 1000).toFixed(1)} s (${gap.reason})${missed}`);
    });
  }

  override subscribeMarketData(conid: number | string, fields: readonly string[], listener: MarketDataListener): SubscriptionHandle {
    const key = String(conid).trim();
    return super.subscribeMarketData(conid, fields, (raw) => {
      if (this.lastFrame.get(key) !== raw) {
        this.lastFrame.set(key, raw);
        this.noteData(key, raw);
      }
      listener(raw);
    });
  }

  private noteData(key: string, raw: Readonly<Record<string, unknown>>): void {
    this.metrics.marketData(this.clock());
    if (!this.flowing.has(key)) {
      this.flowing.add(key);
      this.logger.info(`IBKR market data flowing for contract ${key}`);
    } else {
      this.logger.trace?.(`IBKR market data ${key}: fields ${Object.keys(raw).join(',')}`);
    }
  }
}
