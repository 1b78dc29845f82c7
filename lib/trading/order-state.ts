// The order state machine of both brokers (ARCHITECTURE.md, "Orders"): one set of rules for an order's life,
// whatever the broker calls its statuses. lib/sierra/order-state.ts maps DTC's OrderStatus onto it and
// lib/ibkr/order-updates.ts IBKR's status words; the rules live here only.
//
// Monotonic: an update that arrives late or out of order never moves an order backwards. A finished order (filled,
// cancelled, rejected) stays finished (only the fill details of the same state may still complete it), the filled
// quantity never goes down nor above the order quantity, and a
// working order never becomes pending again. Such an update is reported ('invalid'), never applied; the same
// report twice is recognised ('duplicate'). Pure: no clock, no I/O.

import type { OrderStatus as ContractStatus } from '../contracts';

/**
 * pending: sent, not yet accepted (DTC ORDER_SENT, PENDING_OPEN, PENDING_CHILD; IBKR PendingSubmit, ApiPending).
 * working: accepted, resting or held (DTC OPEN; IBKR PreSubmitted, Submitted). pending-cancel / pending-replace: a
 * cancel or modify was asked and not yet answered. partially-filled: working with some quantity filled.
 */
export type OrderState = 'pending' | 'working' | 'pending-cancel' | 'pending-replace' | 'partially-filled' | 'filled' | 'cancelled' | 'rejected';

export const ORDER_STATES: readonly OrderState[] = ['pending', 'working', 'pending-cancel', 'pending-replace', 'partially-filled', 'filled', 'cancelled', 'rejected'];

export interface OrderProgress {
  state: OrderState;
  /** The order's total quantity (a modify may change it); 0 when not known yet. */
  quantity: number;
  filledQuantity: number;
}

export type TransitionVerdict =
  /** A real change: apply `next` (the state normalised: working with a fill is partially-filled). */
  | { kind: 'apply'; next: OrderProgress }
  /** Nothing changes (the same report again). */
  | { kind: 'duplicate' }
  /** A move the rules forbid (late, reordered or impossible): report it, keep the order as it was. */
  | { kind: 'invalid'; reason: string };

const TERMINAL: ReadonlySet<OrderState> = new Set<OrderState>(['filled', 'cancelled', 'rejected']);

export function isTerminal(state: OrderState): boolean {
  return TERMINAL.has(state);
}

export function isOrderState(value: unknown): value is OrderState {
  return typeof value === 'string' && (ORDER_STATES as readonly string[]).includes(value);
}

/**
 * How far along its life an order is: an update may move it forward or keep it at the same rank, never back.
 * A cancel or modify request sits with working: it can be answered by working again (refused), a fill or the end.
 */
const RANK: Readonly<Record<OrderState, number>> = {
  pending: 0,
  working: 1,
  'pending-cancel': 1,
  'pending-replace': 1,
  'partially-filled': 1,
  filled: 2,
  cancelled: 2,
  rejected: 2,
};

/** Allowed next states from each live state (a terminal state has none). */
const NEXT: Readonly<Record<OrderState, readonly OrderState[]>> = {
  // Anything the broker can say first: accepted, a child held for its parent, an immediate fill or refusal.
  pending: ['pending', 'working', 'pending-cancel', 'pending-replace', 'partially-filled', 'filled', 'cancelled', 'rejected'],
  working: ['working', 'pending-cancel', 'pending-replace', 'partially-filled', 'filled', 'cancelled', 'rejected'],
  'partially-filled': ['working', 'partially-filled', 'pending-cancel', 'pending-replace', 'filled', 'cancelled', 'rejected'],
  // A cancel can lose the race to a fill, or be refused (the order is working again).
  'pending-cancel': ['pending-cancel', 'working', 'partially-filled', 'filled', 'cancelled', 'rejected'],
  'pending-replace': ['pending-replace', 'pending-cancel', 'working', 'partially-filled', 'filled', 'cancelled', 'rejected'],
  filled: [],
  cancelled: [],
  rejected: [],
};

/** A working order with some quantity filled is partially filled: the one spelling the rules compare. */
export function normalise(p: OrderProgress): OrderProgress {
  if (p.state === 'working' && p.filledQuantity > 0) return { ...p, state: 'partially-filled' };
  return p;
}

function validProgress(p: OrderProgress): string | null {
  if (!isOrderState(p.state)) return `state ${JSON.stringify(p.state)} is not an order state`;
  if (!Number.isFinite(p.quantity) || p.quantity < 0) return `order quantity ${p.quantity} is not valid`;
  if (!Number.isFinite(p.filledQuantity) || p.filledQuantity < 0) return `filled quantity ${p.filledQuantity} is not valid`;
  if (p.quantity > 0 && p.filledQuantity > p.quantity) return `filled quantity ${p.filledQuantity} is above the order quantity ${p.quantity}`;
  return null;
}

/**
 * Judges one update: `from` is the order as known (undefined: first news of it, e.g. found at a reconnect), `to` is
 * what the broker now says. Pure: the caller applies `next` only on 'apply'.
 */
export function transition(from: OrderProgress | undefined, to: OrderProgress): TransitionVerdict {
  const bad = validProgress(to);
  if (bad) return { kind: 'invalid', reason: bad };
  if (!from) return { kind: 'apply', next: normalise(to) };
  const was = normalise(from);
  // A report that leaves the quantity out (0) keeps the known one.
  const next = normalise(to.quantity === 0 ? { ...to, quantity: was.quantity } : to);
  if (next.quantity > 0 && next.filledQuantity > next.quantity) return { kind: 'invalid', reason: `filled quantity ${next.filledQuantity} is above the order quantity ${next.quantity}` };
  if (next.state === was.state && next.filledQuantity === was.filledQuantity && next.quantity === was.quantity) return { kind: 'duplicate' };
  if (isTerminal(was.state)) {
    // The details of fills that made a filled (or partly filled, then cancelled) order can arrive after its final
    // status: the state stays, the filled quantity may still rise, never fall.
    if (next.state === was.state && was.state !== 'rejected' && next.filledQuantity > was.filledQuantity && next.quantity >= was.filledQuantity) {
      return { kind: 'apply', next };
    }
    return { kind: 'invalid', reason: `the order is already ${was.state}: a ${next.state} report${next.filledQuantity !== was.filledQuantity ? ` with ${next.filledQuantity} filled` : ''} cannot change it` };
  }
  if (next.filledQuantity < was.filledQuantity) {
    return { kind: 'invalid', reason: `filled quantity cannot go down (from ${was.filledQuantity} to ${next.filledQuantity})` };
  }
  if (next.quantity > 0 && next.quantity < was.filledQuantity) {
    return { kind: 'invalid', reason: `order quantity ${next.quantity} is below the ${was.filledQuantity} already filled` };
  }
  if (RANK[next.state] < RANK[was.state] || !NEXT[was.state].includes(next.state)) {
    return { kind: 'invalid', reason: `${was.state} → ${next.state} goes backwards` };
  }
  return { kind: 'apply', next };
}

/** What a trader sees in an `order-update` (ARCHITECTURE.md): a pending cancel or modify is still working. */
export function contractStatus(p: Pick<OrderProgress, 'state' | 'filledQuantity'>): ContractStatus {
  switch (p.state) {
    case 'pending':
      return 'pending';
    case 'filled':
    case 'cancelled':
    case 'rejected':
      return p.state;
    default:
      return p.filledQuantity > 0 ? 'partially-filled' : 'working';
  }
}
