// The broker-neutral trading core's risk part: one risk engine, kill switch and journal per trading account.
export { acquireEngine, findEngine, accountKey, type AcquireOptions, type Broker, type EngineHandle } from './accounts';
export { basicInstrumentOf, type InstrumentInfo, type InstrumentOf } from './instrument-lookup';
export { FileJournal, JournalError, MemoryJournal, RedisJournal, type IntentRecord, type Journal, type JournalState } from './journal';
export { guardInFlight, kill, type ExecutionAdapter, type KillFailure, type KillReport, type PositionRef, type WorkingOrderRef } from './kill-switch';
export {
  RiskDeniedError,
  RiskEngine,
  strictestLimits,
  type BrokerOrder,
  type BrokerPosition,
  type BrokerState,
  type Discrepancy,
  type EngineLimits,
  type FillNews,
  type ModifyRequest,
  type OrderRequest,
  type Verdict,
} from './risk-engine';
export { DEFAULT_RISK_LIMITS, RiskGuard, resolveRiskLimits, type KillSwitchState, type RiskLimits, type RiskRule, type RiskState } from './risk-rules';
