// The simulated Sierra side of a recording (issue 16: a replay of a live simulator run gives its orders).
//
// Live (simulator mode, on the market ibkr-config records: lib/sim/shared-market.ts), the connection records each new
// order as it reached the DTC simulator and each fill the simulator gave it:
//   sierra-order {t, n, side, type, quantity, price?, stopPrice?, bracket?: {stop, targets}, last?, dataAt?}
//                t: the market time it reached the simulator; n: 1, 2, … in the order the connection sent them;
//                last: the last trade price the account's risk engine held then (its price collar's reference);
//                dataAt: the time of the newest market data it held then (its stale-data rule's reference)
//   sierra-fill  {t, n, leg, price, quantity}
//                t: the market time the fill was given (the time the connection stamped it with); leg: 0 the order
//                (a bracket's parent), 1 the bracket's target, 2 its stop
// The fills are what the recording cannot otherwise tell: live, the simulator fills on every trade of the market,
// the recording holds what the IBKR stream delivered (one update per 250 real ms).
//
//   sierra-cancel {t, n, leg}: a cancel the connection sent for that leg of order n (e.g. an unfilled signal entry
//                expired), at market time t
// In a replay, an order the flow sends that is the next recorded one (same side, type, quantity, prices, bracket) is
// sent at its recorded market time and given its recorded fills at their times, and a cancel the flow sends that is the
// next recorded one (same leg of the same order) at its recorded time; any other order fills on the replayed trades,
// as before (lib/sierra/connection.ts, lib/sim/dtc/account.ts).
import type { OrderType, OrderUpdate, Side } from '../contracts';
import type { SierraOrder } from '../sierra/order-wire';

export interface RecordedOrder {
  t: number;
  n: number;
  side: Side;
  type: OrderType;
  quantity: number;
  price?: number;
  stopPrice?: number;
  bracket?: { stop: number; targets: number[] };
  /**
   * The last trade price the account's risk engine held when the order left (its price collar's reference): live, the
   * simulated market's trades and the ticks the order node gets both set it, whichever came last; the recording holds
   * only the ticks. Not part of what a replayed order must match.
   */
  last?: number;
  /**
   * The time of the newest market data the account's risk engine held when the order left (its stale-data rule's
   * reference): live, the simulated market's every trade keeps it fresh; the recording holds one tick per stream update
   * (75 market s apart at 300×), so a replayed order sent at its recorded time, more than the rule's limit after the
   * last tick (the live run's latency × its speed), would be refused as stale. Not part of what an order must match.
   */
  dataAt?: number;
}

export interface RecordedFill {
  t: number;
  n: number;
  leg: number;
  price: number;
  quantity: number;
}

/** A cancel the connection sent for leg `leg` of order `n`, at market time t. */
export interface RecordedCancel {
  t: number;
  n: number;
  leg: number;
}

export type OrderShape = Omit<RecordedOrder, 't' | 'n' | 'last' | 'dataAt'>;
/** A shape with what the risk engine held when the order left (recorded, not matched). */
type KeptShape = OrderShape & { last?: number; dataAt?: number };

/** What of an order the recording keeps and a replayed order must match. */
export function shapeOf(intent: SierraOrder | RecordedOrder): OrderShape {
  const shape: OrderShape = { side: intent.side, type: intent.type, quantity: intent.quantity };
  if (intent.price !== undefined) shape.price = intent.price;
  if (intent.stopPrice !== undefined) shape.stopPrice = intent.stopPrice;
  if (intent.bracket) shape.bracket = { stop: intent.bracket.stop, targets: [...intent.bracket.targets] };
  return shape;
}

export function sameShape(a: OrderShape, b: OrderShape): boolean {
  return (
    a.side === b.side &&
    a.type === b.type &&
    a.quantity === b.quantity &&
    a.price === b.price &&
    a.stopPrice === b.stopPrice &&
    (a.bracket === undefined) === (b.bracket === undefined) &&
    (a.bracket === undefined || (a.bracket.stop === b.bracket?.stop && a.bracket.targets.length === b.bracket.targets.length && a.bracket.targets.every((x, i) => x === b.bracket?.targets[i])))
  );
}

/** How many ClientOrderIDs an order has: a bracket's parent, target and stop; else one. */
function legCount(shape: OrderShape): number {
  return shape.bracket ? 3 : 1;
}

/**
 * Which order of the connection each ClientOrderID belongs to: the n-th order sent and its leg. The manager reports
 * an order's legs as 'pending' (parent, target, stop) synchronously once sent, in the order the orders were sent, before
 * the simulator can have received them.
 */
export class OrderLegs {
  private readonly queue: { n: number; shape: OrderShape; assigned: number; tag: unknown }[] = [];
  private readonly legs = new Map<string, { n: number; leg: number; tag: unknown }>();
  private seq = 0;

  /** An order goes to the manager; `withdraw()` when it was refused before it was sent. */
  submitted(shape: OrderShape, tag?: unknown): { n: number; withdraw(): void } {
    const entry = { n: ++this.seq, shape, assigned: 0, tag };
    this.queue.push(entry);
    return {
      n: entry.n,
      withdraw: () => {
        const i = this.queue.indexOf(entry);
        if (i >= 0 && entry.assigned === 0) this.queue.splice(i, 1);
      },
    };
  }

  /** An update from the manager; for the first 'pending' of an id, the order and leg it is (else undefined). */
  onUpdate(u: OrderUpdate): { n: number; leg: number; tag: unknown } | undefined {
    if (u.status !== 'pending' || this.legs.has(u.clientOrderId)) return undefined;
    const head = this.queue[0];
    if (!head) return undefined;
    const leg = { n: head.n, leg: head.assigned++, tag: head.tag };
    if (head.assigned >= legCount(head.shape)) this.queue.shift();
    this.legs.set(u.clientOrderId, leg);
    return leg;
  }

  legOf(clientOrderId: string): { n: number; leg: number; tag: unknown } | undefined {
    return this.legs.get(clientOrderId);
  }

  shapeOf(n: number): KeptShape | undefined {
    return this.shapes.get(n);
  }

  private readonly shapes = new Map<number, KeptShape>();

  /** Keeps the shape of order n (the recorder writes it at the order's arrival). */
  keep(n: number, shape: KeptShape): void {
    this.shapes.set(n, shape);
  }
}

/** Live: writes the simulated Sierra side to a recorder (topic, payload, record time). */
export class OrderPathRecorder {
  readonly legs = new OrderLegs();
  private readonly arrived = new Set<number>();

  constructor(private readonly write: (topic: string, payload: object, t: number) => void) {}

  /**
   * An order goes to the manager; `last`: the risk engine's last trade price of its contract then (or null); `dataAt`:
   * the time of the newest market data it held then (or null).
   */
  submitted(intent: SierraOrder, last: number | null = null, dataAt: number | null = null): { withdraw(): void } {
    const shape = shapeOf(intent);
    const handle = this.legs.submitted(shape);
    this.legs.keep(handle.n, { ...shape, ...(last === null ? {} : { last }), ...(dataAt === null ? {} : { dataAt }) });
    return handle;
  }

  onUpdate(u: OrderUpdate): void {
    this.legs.onUpdate(u);
  }

  /** New orders reached the simulator at market time t (an order, an OCO pair, or a bracket). */
  onArrival(t: number, clientOrderIds: readonly string[]): void {
    for (const id of clientOrderIds) {
      const leg = this.legs.legOf(id);
      if (!leg || this.arrived.has(leg.n)) continue;
      this.arrived.add(leg.n);
      const shape = this.legs.shapeOf(leg.n);
      if (shape) this.write('sierra-order', { t, n: leg.n, ...shape }, t);
    }
  }

  /** The connection cancels one of its orders at market time `now` (the clock stands there while it is on its way). */
  onCancel(clientOrderId: string, now: number): void {
    const leg = this.legs.legOf(clientOrderId);
    if (leg) this.write('sierra-cancel', { t: now, n: leg.n, leg: leg.leg }, now);
  }

  /**
   * The simulator filled one of the connection's orders, at market time `now` (the clock stands there while the
   * news crosses the socket: the time the connection stamps it with; the trade that filled it may be up to one pump of
   * the seeded market earlier).
   */
  onFill(fill: { clientOrderId: string; price: number; quantity: number }, now: number): void {
    const leg = this.legs.legOf(fill.clientOrderId);
    if (!leg) return;
    this.write('sierra-fill', { t: now, n: leg.n, leg: leg.leg, price: fill.price, quantity: fill.quantity }, now);
  }
}

/** What the replayer needs of the replayed market (lib/replay/recorded-market.ts). */
export interface OrderPathMarket {
  /** Whether the replay runs at 'max' (only then does it stand at points: paced replays fill as before). */
  readonly atMax: boolean;
  now(): number;
  hold(): () => void;
  at(t: number, onReach: () => void): () => void;
}

/** What the replayer needs of the DTC simulator (lib/sim/dtc/server.ts). */
export interface OrderPathSimulator {
  script(clientOrderId: string, fills: readonly { t: number; price: number; quantity: number }[]): void;
  fillDue(): void;
}

export interface ReplayerTimers {
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: ReplayerTimers = {
  setTimeout: (cb, ms) => setTimeout(cb, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Real ms a replay at 'max' stands at a recorded order's arrival waiting for the flow's order. */
export const ARRIVAL_WAIT_MS = 3000;

/**
 * Replay at 'max' of a recording with the simulated Sierra side: the replay stands at the next recorded order's
 * arrival until the flow sends an order of the same shape (or ARRIVAL_WAIT_MS of real time pass: the flow took another
 * way, and the replay goes on); a matched order the flow sends before the replay has played up to its recorded time
 * waits for it (live, every tick up to then had reached the flow and the order node before the order left), so it
 * leaves at its recorded market time; it is given its recorded fills, the replay standing at each fill's time to give
 * it. Orders are matched in the recorded order: the next recorded one only.
 */
type Step = { kind: 'order'; rec: RecordedOrder } | { kind: 'cancel'; rec: RecordedCancel };

export class OrderPathReplayer {
  readonly legs = new OrderLegs();
  /** The recorded orders and cancels, in time order: matched one after the other. */
  private readonly steps: Step[];
  private next = 0;
  private waiting: { release: () => void; timer: unknown } | undefined;
  private cancelArrival: (() => void) | undefined;
  private readonly cancels: (() => void)[] = [];
  private readonly pending = new Set<(err: Error) => void>();
  private disposed = false;
  private readonly timers: ReplayerTimers;
  private readonly waitMs: number;

  constructor(
    orders: readonly RecordedOrder[],
    private readonly fills: readonly RecordedFill[],
    private readonly market: OrderPathMarket,
    private readonly simulator: () => OrderPathSimulator | undefined,
    private readonly options: { timers?: ReplayerTimers; waitMs?: number; warn?: (text: string) => void; cancels?: readonly RecordedCancel[] } = {},
  ) {
    const steps: Step[] = [...orders.map((rec) => ({ kind: 'order' as const, rec })), ...(options.cancels ?? []).map((rec) => ({ kind: 'cancel' as const, rec }))];
    this.steps = steps.sort((a, b) => a.rec.t - b.rec.t); // stable: an order before a cancel of the same instant
    this.timers = options.timers ?? REAL_TIMERS;
    this.waitMs = options.waitMs ?? ARRIVAL_WAIT_MS;
    this.armArrival();
  }

  /** How many recorded orders and cancels the flow's matched so far. */
  get matched(): number {
    return this.next;
  }

  /** The flow sends an order: the recorded order it is (the next step, same shape, not yet passed), or undefined. */
  match(intent: SierraOrder): RecordedOrder | undefined {
    const step = this.steps[this.next];
    if (step?.kind !== 'order' || !this.matchable(step.rec.t) || !sameShape(shapeOf(intent), step.rec)) return undefined;
    return this.take(step.rec);
  }

  /** The flow cancels an order: the recorded cancel it is (the next step, the same leg of the same order), or undefined. */
  matchCancel(clientOrderId: string): RecordedCancel | undefined {
    const step = this.steps[this.next];
    const leg = this.legs.legOf(clientOrderId);
    const order = leg?.tag as RecordedOrder | undefined;
    if (step?.kind !== 'cancel' || !this.matchable(step.rec.t) || !leg || !order || step.rec.n !== order.n || step.rec.leg !== leg.leg) return undefined;
    return this.take(step.rec);
  }

  private matchable(t: number): boolean {
    return !this.disposed && this.market.atMax && this.market.now() <= t;
  }

  private take<T>(recorded: T): T {
    this.next++;
    this.cancelArrival?.();
    this.cancelArrival = undefined;
    return recorded;
  }

  /**
   * Resolves once the replay stands at `t` (at once if it does), with the release of a hold that keeps it there while
   * the order is sent; rejects when the replayer is disposed first (the connection closes).
   */
  whenAt(t: number): Promise<() => void> {
    return new Promise<() => void>((resolve, reject) => {
      const reach = (): void => {
        this.pending.delete(reject);
        const release = this.market.hold();
        this.stopWaiting(); // the arrival stand, if the replay stood there waiting for this order
        this.armArrival();
        resolve(release);
      };
      if (this.market.now() >= t) {
        reach();
        return;
      }
      this.pending.add(reject);
      this.cancels.push(this.market.at(t, reach));
    });
  }

  /** The order goes to the manager now (`recorded`: the recorded order it matched); withdraw() if refused unsent. */
  submitted(intent: SierraOrder, recorded?: RecordedOrder): { withdraw(): void } {
    return this.legs.submitted(shapeOf(intent), recorded);
  }

  /** An update from the manager: a matched order's leg, as it leaves, gets its recorded fills. */
  onUpdate(u: OrderUpdate): void {
    const leg = this.legs.onUpdate(u);
    const recorded = leg?.tag as RecordedOrder | undefined;
    if (!leg || !recorded) return;
    const fills = this.fills.filter((f) => f.n === recorded.n && f.leg === leg.leg);
    this.simulator()?.script(u.clientOrderId, fills);
    const now = this.market.now();
    for (const f of fills) if (f.t > now) this.cancels.push(this.market.at(f.t, () => this.simulator()?.fillDue()));
  }

  dispose(): void {
    this.disposed = true;
    this.cancelArrival?.();
    this.stopWaiting();
    for (const cancel of this.cancels.splice(0)) cancel();
    for (const reject of [...this.pending]) reject(new Error('the replay was closed before the order could leave at its recorded time: nothing was sent'));
    this.pending.clear();
  }

  /** Stand at the next recorded order's or cancel's time until the flow's comes, bounded. */
  private armArrival(): void {
    const step = this.steps[this.next];
    if (!step || this.disposed || this.cancelArrival) return;
    this.cancelArrival = this.market.at(step.rec.t, () => {
      this.cancelArrival = undefined;
      if (this.steps[this.next] !== step || this.disposed) return;
      const release = this.market.hold();
      const timer = this.timers.setTimeout(() => {
        const what = step.kind === 'order' ? `order ${step.rec.n} (${step.rec.side} ${step.rec.quantity} ${step.rec.type})` : `cancel of order ${step.rec.n} leg ${step.rec.leg}`;
        this.options.warn?.(
          `replay: the flow did not send recorded ${what} at ${new Date(step.rec.t).toISOString()}; the replay goes on, and the orders after it are not given their recorded fills`,
        );
        this.next = this.steps.length;
        this.stopWaiting();
      }, this.waitMs);
      this.waiting = { release, timer };
    });
  }

  private stopWaiting(): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (!w) return;
    this.timers.clearTimeout(w.timer);
    w.release();
  }
}
