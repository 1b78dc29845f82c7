// The one metrics mechanism of the package: latency windows, sliding event counts, uptime clocks, and the two
// per-connection recorders built from them (IBKR, Sierra Chart DTC).
export { LatencyWindow, nearestRank, type LatencySummary } from './latency-window';
export { EventWindow } from './event-window';
export { UptimeClock } from './uptime';
export { IbkrMetrics, peakOverlap, UTILISATION_WINDOW_MS, DEFAULT_ERROR_WINDOW_MS } from './ibkr-metrics';
export type { ExchangeRecord, IbkrMetricsOptions, IbkrMetricsPayload, UptimeFigures } from './ibkr-metrics';
export { DtcMetrics, type DtcMetricsPayload } from './dtc-metrics';
export { metricsPeriodMs } from './period';
