// The Sierra Chart DTC simulator: a DTC server on loopback with an AMP-like simulated account (dtc-protocol.md §4).
export { startDtcSimulator, type DtcSimulator, type DtcSimulatorOptions, type SimMarket } from './server';
export type { SimBalance, SimFill, SimOrder, SimPosition } from './account';
