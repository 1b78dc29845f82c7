// The broker-neutral trading core's risk part: one risk engine, kill switch and journal per trading account.
export { acquireEngine, findEngine, accountKey, type AcquireOptions, type Broker, type EngineHandle } from './accounts';
export { contractKey, instrumentOf, rootOfSymbol, sameInstrument, type InstrumentInfo, type InstrumentOf } from './instrument-of';
export { FileJournal, JournalError, MemoryJournal, RedisJournal, type IntentRecord, type Journal, type JournalState } from './journal';
export { cancelEntries, guardInFlight, kill, type CancelEntriesReport, type ExecutionAdapter, type KillFailure, type KillReport, type PositionRef, type WorkingOrderRef } from './kill-switch';
export { DEFAULT_SIGNAL_ENTRY_EXPIRY_MIN, EntryExpiry, checkSignalEntryExpiryMin, isSignalEntry, type EntryExpiryOptions, type SignalEntryMemory } from './entry-expiry';
export {
  RiskDeniedError,
  RiskEngine,
  strictestLimits,
  type BrokerOrder,
  type BrokerPosition,
  type BrokerState,
  type Discrepancy,
  type EngineLimits,
  type EntryStop,
  type FillNews,
  type ModifyRequest,
  type OrderRequest,
  type Verdict,
} from './risk-engine';
export { RedisSharedBudget, SharedBudgetError, type SharedBudget, type SharedFill, type SharedLimits, type SharedOrder, type SharedVerdict } from './shared-budget';
export { excessExits, type ExcessPair, type OrphanExit } from './orphan-exits';
export { DEFAULT_RISK_LIMITS, RiskGuard, resolveRiskLimits, type KillSwitchState, type RiskLimits, type RiskRule, type RiskState } from './risk-rules';
// Instruments (registry, CME calendar, front month and roll), the one order parser, order state machine and id generator.
export * from './instruments';
export { businessDayOnOrBefore, chicagoDay, cmeHolidays, holidayName, isBusinessDay, type Holiday } from './cme-calendar';
export * from './order-intent';
export * from './order-state';
export { ClientOrderIdGenerator, checkOwnClientOrderId, MAX_CLIENT_ORDER_ID_LENGTH, type IdSequence } from './client-order-id';
