// mathjs, loaded on first use: requiring it costs about 0.8 s (1.3 s with the score parser's instance), which every
// Node-RED start paid for the palette even when no flow evaluates a score expression or a Sharpe ratio.
import type * as MathJs from 'mathjs';

let loaded: typeof MathJs | undefined;

export function mathjs(): typeof MathJs {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy require is the point (see above)
  loaded ??= require('mathjs') as typeof MathJs;
  return loaded;
}
