// The kill switch of a trading account: HALTED first (journaled: no order can be authorized from this instant), then
// every working order of the ACCOUNT is cancelled and every position (all contracts) flattened through the broker's
// ExecutionAdapter. `kill` never rejects: what failed comes back in the report, for the trader to finish by hand.
// Orders that were in flight at the kill are cancelled as soon as the broker acknowledges them (`guardInFlight`).
import { errorMessage } from '../errors';
import type { Side } from '../contracts';
import type { RiskEngine } from './risk-engine';

export interface WorkingOrderRef {
  clientOrderId: string;
  instrument: string;
  side: Side;
  /** Remaining quantity. */
  quantity: number;
  /** A bracket child whose parent is also working: cancelled with its parent. */
  parent?: string;
}

export interface PositionRef {
  instrument: string;
  /** Signed. */
  quantity: number;
}

/** What both brokers implement for the kill switch (and reconciliation). */
export interface ExecutionAdapter {
  workingOrders(): Promise<WorkingOrderRef[]>;
  positions(): Promise<PositionRef[]>;
  cancel(order: WorkingOrderRef): Promise<void>;
  /** Closes the position at market (the broker's flatten, or a market order of the opposite side). */
  flatten(position: PositionRef): Promise<void>;
}

export interface KillFailure {
  action: 'list-orders' | 'list-positions' | 'cancel' | 'flatten';
  target: string;
  error: string;
}

export interface KillReport {
  killSwitch: 'HALTED';
  cancelled: string[];
  flattened: PositionRef[];
  failures: KillFailure[];
  /** One line for the log and the status: what was done and what failed. */
  summary: string;
}

async function settle<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
}

export async function kill(engine: RiskEngine, adapter: ExecutionAdapter): Promise<KillReport> {
  const failures: KillFailure[] = [];
  try {
    engine.setKillSwitch('HALTED');
  } catch (err) {
    // HALTED holds in memory even when the journal cannot be written (setKillSwitch keeps it); say so.
    failures.push({ action: 'cancel', target: 'journal', error: `the kill switch could not be journaled: ${errorMessage(err)}` });
  }
  const cancelled: string[] = [];
  const flattened: PositionRef[] = [];
  const orders = await settle(() => adapter.workingOrders());
  if (!orders.ok) failures.push({ action: 'list-orders', target: 'account', error: orders.error });
  else {
    const ids = new Set(orders.value.map((o) => o.clientOrderId));
    const roots = orders.value.filter((o) => !(o.parent && ids.has(o.parent)));
    const results = await Promise.all(roots.map((o) => settle(() => adapter.cancel(o)).then((r) => ({ o, r }))));
    for (const { o, r } of results) {
      if (r.ok) cancelled.push(o.clientOrderId);
      else failures.push({ action: 'cancel', target: o.clientOrderId, error: r.error });
    }
  }
  const positions = await settle(() => adapter.positions());
  if (!positions.ok) failures.push({ action: 'list-positions', target: 'account', error: positions.error });
  else {
    const open = positions.value.filter((p) => p.quantity !== 0);
    const results = await Promise.all(open.map((p) => settle(() => adapter.flatten(p)).then((r) => ({ p, r }))));
    for (const { p, r } of results) {
      if (r.ok) flattened.push(p);
      else failures.push({ action: 'flatten', target: p.instrument, error: r.error });
    }
  }
  const done = `${cancelled.length} order(s) cancelled, ${flattened.length} position(s) flattened`;
  const summary = failures.length
    ? `Kill switch HALTED (no new orders), ${done}, but ${failures.length} step(s) failed: ${failures.map((f) => `${f.action} ${f.target}: ${f.error}`).join('; ')}. Check the broker's orders and positions now.`
    : `Kill switch HALTED: ${done}.`;
  return { killSwitch: 'HALTED', cancelled, flattened, failures, summary };
}

/**
 * Cancels each order that the broker acknowledges after a kill (it was sent before the switch turned). Returns the
 * function that stops listening. `onError` hears a cancel that failed; nothing is thrown.
 */
export function guardInFlight(
  engine: RiskEngine,
  cancel: (order: { clientOrderId: string; brokerOrderId?: string }) => Promise<unknown>,
  onError: (message: string) => void = () => undefined,
): () => void {
  const listener = (order: { clientOrderId: string; brokerOrderId?: string }): void => {
    const { clientOrderId } = order;
    void settle(() => cancel(order)).then((r) => {
      if (!r.ok) onError(`Order ${clientOrderId} was acknowledged after the kill switch turned HALTED and could not be cancelled: ${r.error}. Cancel it at the broker now.`);
    });
  };
  engine.on('late-ack', listener);
  for (const ack of engine.takeUnheardLateAcks()) listener(ack);
  return () => engine.off('late-ack', listener);
}
