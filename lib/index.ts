// The package's library API, for use without Node-RED: the broker-neutral trading core (lib/trading: instruments,
// order parser, order state machine, client order ids, the account risk engine, journal and kill switch), the two
// brokers' connections and execution adapters, the analytics and the Battle Navale strategy. Each broker's full
// library is also there as a namespace (`ibkr`, `sierra`).
export * from './trading';
export * from './contracts';
// Both name an OrderRequest: the message contract keeps the name, the risk engine's request is RiskOrderRequest.
export type { OrderRequest } from './contracts';
export type { OrderRequest as RiskOrderRequest } from './trading';
export { MiaError, InvalidInputError, errorMessage, isRefusal } from './errors';
export * from './analytics';
export { BattleNavaleEngine, evaluateBattleNavale, memorySnapshot, BarWindow, timeframeMs, validateBar, Evaluation, LONG, SHORT, NO_SIGNAL, describeEvaluation, signalKind, toSignalPayload, DEFAULT_SETTINGS, SETTINGS_SCHEMA, SETTING_KEYS, resolveSettings, TradingHours } from './strategy';
export type { BattleNavaleInput, BattleNavaleResult, BaseMemorySnapshot, KeptBase, MarketContext, BarInput, BattleNavaleSettings, ResolvedSettings, SettingKey, SettingsGroup } from './strategy';
export { MarketDataClock, readMarketData, type MarketDataPoint } from './strategy/stale-data';

// IBKR (Client Portal Web API): the connection, its client, and the order desk with its kill-switch adapter.
export { IbkrConnection, type IbkrConnectionOptions, type ConnectionMode } from './ibkr';
// The connection as ibkr-config assembles it (simulator or replay, session, stream, recording), beside SierraConnection.
export { IbkrLink, type ConnectionPlan, type IbkrStateEvent, type IbkrLinkState } from './ibkr/link';
export { IbkrClient } from './ibkr/client';
export { IbkrOrderDesk, ibkrExecutionAdapter, type DeskMessage, type DeskOutcome, type OrderDeskOptions } from './ibkr/order-desk';
export * as ibkr from './ibkr';

// Sierra Chart (DTC): the connection (client, order manager, account risk engine) and the order manager.
export { SierraConnection, KillSwitchIncompleteError, testLogon, type SierraConnectionOptions, type ConnectionStatus, type FrontMonthSymbol } from './sierra/connection';
export { DtcClient, OrderManager, type SierraOrder, type SierraModify, type SubmitResult } from './sierra';
export * as sierra from './sierra';
