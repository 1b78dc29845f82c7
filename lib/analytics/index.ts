// The analytics library (pure functions and small stateful calculators, no I/O): VWAP and delta, order flow, the
// options chain's gamma exposure and walls, ES price mapping, session and timeframe helpers.
export * from './black-scholes';
export * from './chain-scope';
export * from './chart-feed';
export * from './classify';
export * from './es-price';
export * from './expiry';
export * from './footprint';
export * from './gamma-coverage';
export * from './gamma-exposure';
export * from './normal';
export * from './order-flow';
export * from './root';
export * from './session';
export * from './timeframe';
export * from './vwap-delta-input';
export * from './vwap-delta';
export * from './vwap';
