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
  /** The broker's id: one order named in two lists (known, then swept) is cancelled once. */
  brokerOrderId?: string;
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
  /**
   * Optional (IBKR, whose working-orders read may wait up to 5 s for its rate slot): the working orders known without
   * asking the broker. With it the kill cancels these at once, flattens, and only then reads `workingOrders()` as a
   * sweep that cancels what it did not know.
   */
  knownWorkingOrders?(): WorkingOrderRef[];
  /** Optional, with knownWorkingOrders: the sweep's read showed a fill since the flatten (not one of the kill's own). */
  filledSinceFlatten?(): boolean;
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
  /** With `knownWorkingOrders`: what each step did, in order (the same lines `onStep` heard). */
  steps?: string[];
}

async function settle<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
}

export async function kill(engine: RiskEngine, adapter: ExecutionAdapter, onStep: (line: string) => void = () => undefined): Promise<KillReport> {
  const failures: KillFailure[] = [];
  try {
    engine.setKillSwitch('HALTED', { byKill: true });
  } catch (err) {
    // HALTED holds in memory even when the journal cannot be written (setKillSwitch keeps it); say so.
    failures.push({ action: 'cancel', target: 'journal', error: `the kill switch could not be journaled: ${errorMessage(err)}` });
  }
  const cancelled: string[] = [];
  const flattened: PositionRef[] = [];
  if (adapter.knownWorkingOrders) return killKnownFirst(adapter, adapter.knownWorkingOrders.bind(adapter), failures, onStep);
  const orders = await settle(() => adapter.workingOrders());
  if (!orders.ok) failures.push({ action: 'list-orders', target: 'account', error: orders.error });
  else {
    for (const { o, r } of await cancelRoots(adapter, orders.value)) {
      if (r.ok) cancelled.push(o.clientOrderId);
      else failures.push({ action: 'cancel', target: o.clientOrderId, error: r.error });
    }
  }
  await flattenAll(adapter, flattened, failures);
  return report(cancelled, flattened, failures);
}

/** Cancels each order of `orders` but a bracket child whose parent is in the list (the broker cancels it with it). */
function cancelRoots(adapter: ExecutionAdapter, orders: WorkingOrderRef[]): Promise<{ o: WorkingOrderRef; r: { ok: true; value: void } | { ok: false; error: string } }[]> {
  const ids = new Set(orders.map((o) => o.clientOrderId));
  const roots = orders.filter((o) => !(o.parent && ids.has(o.parent)));
  return Promise.all(roots.map((o) => settle(() => adapter.cancel(o)).then((r) => ({ o, r }))));
}

/** Reads the positions and closes every open one; returns those it closed. */
async function flattenAll(adapter: ExecutionAdapter, flattened: PositionRef[], failures: KillFailure[]): Promise<PositionRef[]> {
  const positions = await settle(() => adapter.positions());
  if (!positions.ok) {
    failures.push({ action: 'list-positions', target: 'account', error: positions.error });
    return [];
  }
  const open = positions.value.filter((p) => p.quantity !== 0);
  const done: PositionRef[] = [];
  const results = await Promise.all(open.map((p) => settle(() => adapter.flatten(p)).then((r) => ({ p, r }))));
  for (const { p, r } of results) {
    if (r.ok) done.push(p);
    else failures.push({ action: 'flatten', target: p.instrument, error: r.error });
  }
  flattened.push(...done);
  return done;
}

function report(cancelled: string[], flattened: PositionRef[], failures: KillFailure[], steps?: string[]): KillReport {
  const done = `${cancelled.length} order(s) cancelled, ${flattened.length} position(s) flattened`;
  const summary = failures.length
    ? `Kill switch HALTED (no new orders), ${done}, but ${failures.length} step(s) failed: ${failures.map((f) => `${f.action} ${f.target}: ${f.error}`).join('; ')}. Check the broker's orders and positions now.`
    : `Kill switch HALTED: ${done}.`;
  return { killSwitch: 'HALTED', cancelled, flattened, failures, summary, ...(steps ? { steps } : {}) };
}

const keyOf = (o: WorkingOrderRef): string => o.brokerOrderId ?? o.clientOrderId;
const describe = (positions: PositionRef[]): string => positions.map((p) => `${p.instrument} ${p.quantity > 0 ? '+' : ''}${p.quantity}`).join(', ');

/**
 * The kill when the broker's working-orders read is slow to get (IBKR: one per 5 s). 1: cancel at once every order
 * known without asking. 2: once those cancels are answered (no known exit can fill after it), read fresh positions
 * and close them. 3: sweep: read the working orders (when the broker allows), cancel every one still open that was
 * not cancelled (placed by hand meanwhile, or whose known cancel failed); if that cancelled something or the read
 * shows a fill since, read the positions again and close what remains. A known cancel that failed for an order the
 * sweep no longer finds open (it was already done) is not a failure.
 */
async function killKnownFirst(adapter: ExecutionAdapter, known: () => WorkingOrderRef[], failures: KillFailure[], onStep: (line: string) => void): Promise<KillReport> {
  const steps: string[] = [];
  const step = (line: string): void => {
    steps.push(line);
    try {
      onStep(line);
    } catch {
      // A listener's failure must not stop the kill.
    }
  };
  const cancelled: string[] = [];
  const flattened: PositionRef[] = [];
  const done = new Set<string>();
  const failedKnown = new Map<string, KillFailure>();
  const first = await settle(async () => known());
  const knownOrders = first.ok ? first.value : [];
  if (!first.ok) failures.push({ action: 'list-orders', target: 'known orders', error: first.error });
  for (const { o, r } of await cancelRoots(adapter, knownOrders)) {
    if (r.ok) {
      cancelled.push(o.clientOrderId);
      done.add(keyOf(o));
    } else failedKnown.set(keyOf(o), { action: 'cancel', target: o.clientOrderId, error: r.error });
  }
  step(`1 known orders: ${cancelled.length} cancelled${failedKnown.size ? `, ${failedKnown.size} cancel(s) refused (the sweep checks them)` : ''}`);
  const closed = await flattenAll(adapter, flattened, failures);
  step(`2 positions: ${closed.length ? `closed ${describe(closed)}` : 'flat'}`);
  const swept = await settle(() => adapter.workingOrders());
  if (!swept.ok) {
    failures.push({ action: 'list-orders', target: 'account', error: swept.error });
    failures.push(...failedKnown.values());
    step(`3 sweep: the working orders could not be read (${swept.error})`);
    return report(cancelled, flattened, failures, steps);
  }
  const missed = swept.value.filter((o) => !done.has(keyOf(o)));
  const sweptIds: string[] = [];
  for (const { o, r } of await cancelRoots(adapter, missed)) {
    failedKnown.delete(keyOf(o));
    if (r.ok) {
      cancelled.push(o.clientOrderId);
      sweptIds.push(o.clientOrderId);
    } else failures.push({ action: 'cancel', target: o.clientOrderId, error: r.error });
  }
  // A refused known cancel left here is either not open any more (it was done: no failure), or a bracket child skipped
  // because its parent was cancelled in this sweep (still reported: the trader checks it).
  const stillOpen = new Set(swept.value.map(keyOf));
  let alreadyDone = 0;
  for (const [key, failure] of failedKnown) {
    if (stillOpen.has(key)) failures.push(failure);
    else alreadyDone += 1;
  }
  const filled = adapter.filledSinceFlatten?.() === true;
  let again = '';
  if (sweptIds.length || filled) {
    const closedAgain = await flattenAll(adapter, flattened, failures);
    again = `; positions read again: ${closedAgain.length ? `closed ${describe(closedAgain)}` : 'flat'}`;
  }
  const refusedDone = alreadyDone ? `, ${alreadyDone} refused cancel(s) were of orders already done` : '';
  step(`3 sweep: ${sweptIds.length ? `cancelled ${sweptIds.join(', ')}` : 'no other working order'}${refusedDone}${filled ? ', a fill since the flatten' : ''}${again}`);
  return report(cancelled, flattened, failures, steps);
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

export interface CancelEntriesReport {
  /** The rule whose stop cancelled the entries (null: no stop, or another connection of the account took them). */
  rule: string | null;
  reason: string;
  cancelled: string[];
  /** Entries the broker reported filled (in part or whole) before the cancel took effect: counted as any fill. */
  filledBeforeCancel: { clientOrderId: string; quantity: number }[];
  /** Not yet acknowledged by the broker: cancelled as soon as it is (guardInFlight), or refused at sending. */
  inFlight: string[];
  failures: KillFailure[];
  /** One line for the log (warn) and the status; '' when nothing was to be cancelled. */
  summary: string;
}

/**
 * A stop that forbids new entries was reached (RiskEngine 'entry-stop'): every working order of the account that can
 * ADD exposure is cancelled at the broker through the same adapter as kill(). Bracket exits and reducing orders stay.
 * Never rejects: what failed is in the report. An entry the broker filled before the cancel is counted as any fill
 * (the broker wins) and named in `filledBeforeCancel`.
 */
export async function cancelEntries(engine: RiskEngine, adapter: ExecutionAdapter): Promise<CancelEntriesReport> {
  const stop = engine.takeEntryStop();
  if (!stop) return { rule: null, reason: '', cancelled: [], filledBeforeCancel: [], inFlight: [], failures: [], summary: '' };
  const filled = new Map<string, number>();
  const onFill = (f: { clientOrderId: string; quantity: number }): void => void filled.set(f.clientOrderId, (filled.get(f.clientOrderId) ?? 0) + f.quantity);
  engine.on('entry-fill', onFill);
  const cancelled: string[] = [];
  const inFlight: string[] = [];
  const failures: KillFailure[] = [];
  try {
    const listed = await settle(() => adapter.workingOrders());
    const atBroker = new Map((listed.ok ? listed.value : []).map((o) => [o.clientOrderId, o]));
    if (!listed.ok) failures.push({ action: 'list-orders', target: 'account', error: listed.error });
    const work = stop.orders.map(async (o) => {
      const ref = atBroker.get(o.clientOrderId);
      if (!ref) {
        if (engine.orderOf(o.clientOrderId) === null) return; // ended meanwhile (filled or cancelled)
        if (o.phase !== 'working' || listed.ok) inFlight.push(o.clientOrderId);
        else engine.cancelFailed(o.clientOrderId);
        return;
      }
      const r = await settle(() => adapter.cancel(ref));
      if (r.ok) cancelled.push(o.clientOrderId);
      else if (engine.orderOf(o.clientOrderId) === null && filled.has(o.clientOrderId)) {
        // Refused because it had filled: the fill counts; nothing to report as a failure.
      } else {
        engine.cancelFailed(o.clientOrderId);
        failures.push({ action: 'cancel', target: o.clientOrderId, error: r.error });
      }
    });
    await Promise.all(work);
  } finally {
    engine.off('entry-fill', onFill);
  }
  const filledBeforeCancel = [...filled].map(([clientOrderId, quantity]) => ({ clientOrderId, quantity }));
  const parts = [`${cancelled.length} working entr${cancelled.length === 1 ? 'y' : 'ies'} cancelled${cancelled.length ? ` (${cancelled.join(', ')})` : ''}`];
  if (inFlight.length) parts.push(`${inFlight.length} not yet acknowledged, cancelled when it is (${inFlight.join(', ')})`);
  if (filledBeforeCancel.length) parts.push(`filled before its cancel: ${filledBeforeCancel.map((f) => `${f.clientOrderId} (${f.quantity})`).join(', ')}, counted as any fill`);
  if (failures.length) parts.push(`${failures.length} cancel(s) failed: ${failures.map((f) => `${f.target}: ${f.error}`).join('; ')}; cancel them at the broker now`);
  const summary = `Risk stop "${stop.rule}" (${stop.reason}): no new entries; ${parts.join('; ')}.`;
  return { rule: stop.rule, reason: stop.reason, cancelled, filledBeforeCancel, inFlight, failures, summary };
}
