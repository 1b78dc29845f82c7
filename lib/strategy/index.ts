// Battle Navale (the signal) and the risk rules (shared by the order nodes).
export { BattleNavaleEngine, evaluateBattleNavale, memorySnapshot } from './battle-navale';
export type { BattleNavaleInput, BattleNavaleResult, BaseMemorySnapshot, KeptBase, MarketContext } from './battle-navale';
export { BarWindow, timeframeMs, validateBar } from './bar-window';
export type { BarInput } from './bar-window';
export { Evaluation, LONG, SHORT, NO_SIGNAL } from './evaluate';
export { describeEvaluation, signalKind, toSignalPayload } from './payload';
export { DEFAULT_SETTINGS, SETTINGS_SCHEMA, SETTING_KEYS, resolveSettings } from './settings';
export type { BattleNavaleSettings, ResolvedSettings, SettingKey, SettingsGroup } from './settings';
export { TradingHours } from './trading-hours';
export { DEFAULT_RISK_LIMITS, RiskGuard, resolveRiskLimits } from '../trading/risk-rules';
export type { BrokerSnapshot, FillReport, KillSwitchState, OrderIntent, RiskDecision, RiskLimits, RiskRule, RiskState } from '../trading/risk-rules';
