// How ibkr-auth reads the metrics of its ibkr-config node: one more method on the config node, looked up with a check
// so an older config node (or none) gives a clear error instead of a crash.
import type { Node } from 'node-red';
import { MiaError } from '../../lib/errors';
import type { IbkrMetricsPayload } from '../../lib/metrics';

export type IbkrConnectionMetrics = IbkrMetricsPayload & { accountId: string | undefined };

export interface IbkrMetricsSource {
  /** The connection's figures now; undefined when the settings could not open a connection. */
  metrics(): IbkrConnectionMetrics | undefined;
}

/** The figures of this config node's connection, or an error saying why there are none. */
export function readMetrics(configNode: Node): IbkrConnectionMetrics {
  const source = configNode as Partial<IbkrMetricsSource>;
  const figures = typeof source.metrics === 'function' ? source.metrics() : undefined;
  if (!figures) throw new MiaError('IBKR_NO_METRICS', 'IBKR metrics: the connection is not open (check its settings and deploy): no figures yet.');
  return figures;
}
