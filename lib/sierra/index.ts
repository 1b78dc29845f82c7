// The Sierra Chart (DTC) library: one DtcClient per connection, one OrderManager on top of it (STYLE.md: one of each).
export { DtcClient, isOrderEntryType } from './client';
export type { DtcClientOptions, DtcClientState, DtcTransport, DtcEncodingSetting, DisconnectInfo, LogonInfo, SecurityDefinition, TradeAccount } from './client';
export { OrderManager } from './order-manager';
export type { ManagerState, OrderManagerOptions, SierraOrder, SierraModify, RiskIntent, RiskVerdict, InvalidTransition, SubmitResult } from './order-manager';
export { ClientOrderIdGenerator } from '../trading/client-order-id';
export { PriceScale } from './price-scale';
export { buildSymbol, symbolForms, frontMonthSymbol, parseSymbol, SYMBOL_FORMATS } from './symbols';
export type { FuturesContract, MonthCode, SymbolFormat } from './symbols';
export * from './errors';
