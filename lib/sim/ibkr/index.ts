export { startIbkrSimulator } from './simulator';
export type { IbkrSimulator, IbkrSimulatorControl, IbkrSimulatorOptions } from './simulator';
export { SPX_CONID, ES_UNDERLYING_CONID, optionConid } from './instruments';
