// The order state machine over DTC's OrderStatus enum (dtc-protocol.md §2, ORDER_UPDATE.OrderStatus; lifecycle §3).
// Every ORDER_UPDATE is checked here before it touches an order: a transition the protocol cannot produce (a filled
// order reopening, filled quantity going down) is refused and reported, never silently applied.

import type { OrderStatus as ContractStatus } from '../contracts';
import { OrderStatus } from './protocol';

type Status = OrderStatus;

const WORKING_EXITS: readonly Status[] = [
  OrderStatus.PARTIALLY_FILLED,
  OrderStatus.FILLED,
  OrderStatus.PENDING_CANCEL,
  OrderStatus.PENDING_CANCEL_REPLACE,
  OrderStatus.CANCELED,
];

/** Allowed next statuses. A terminal status (FILLED, CANCELED, REJECTED) has none. */
const TRANSITIONS: ReadonlyMap<Status, ReadonlySet<Status>> = new Map<Status, ReadonlySet<Status>>([
  // Sent by us, not yet answered: anything the server can say first, including an immediate fill or reject.
  [OrderStatus.ORDER_SENT, new Set([OrderStatus.ORDER_SENT, OrderStatus.PENDING_OPEN, OrderStatus.PENDING_CHILD, OrderStatus.OPEN, OrderStatus.REJECTED, ...WORKING_EXITS])],
  [OrderStatus.PENDING_OPEN, new Set([OrderStatus.PENDING_OPEN, OrderStatus.PENDING_CHILD, OrderStatus.OPEN, OrderStatus.REJECTED, ...WORKING_EXITS])],
  // A bracket child waits for its parent; it opens (or fills, or is cancelled with it) once the parent fills.
  [OrderStatus.PENDING_CHILD, new Set([OrderStatus.PENDING_CHILD, OrderStatus.PENDING_OPEN, OrderStatus.OPEN, OrderStatus.REJECTED, ...WORKING_EXITS])],
  [OrderStatus.OPEN, new Set([OrderStatus.OPEN, ...WORKING_EXITS])],
  // After a partial fill a modify may report the order OPEN again (its filled quantity is kept).
  [OrderStatus.PARTIALLY_FILLED, new Set([OrderStatus.OPEN, ...WORKING_EXITS])],
  // A pending cancel can lose the race to a fill, or be refused (the order stays working).
  [OrderStatus.PENDING_CANCEL, new Set([OrderStatus.PENDING_CANCEL, OrderStatus.CANCELED, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.OPEN])],
  [OrderStatus.PENDING_CANCEL_REPLACE, new Set([OrderStatus.OPEN, ...WORKING_EXITS])],
  [OrderStatus.FILLED, new Set<Status>()],
  [OrderStatus.CANCELED, new Set<Status>()],
  [OrderStatus.REJECTED, new Set<Status>()],
]);

export function isTerminal(status: Status): boolean {
  return status === OrderStatus.FILLED || status === OrderStatus.CANCELED || status === OrderStatus.REJECTED;
}

export interface OrderProgress {
  status: Status;
  orderQuantity: number;
  filledQuantity: number;
}

export type TransitionVerdict =
  | { kind: 'apply' }
  | { kind: 'duplicate' } // the same terminal report again (a resync re-reporting a finished order): nothing to do
  | { kind: 'invalid'; reason: string };

/**
 * Checks the move from `from` (undefined: an order we have not seen yet, e.g. found at resync) to `to`.
 * Pure: the caller applies the update only on 'apply'.
 */
export function checkTransition(from: OrderProgress | undefined, to: OrderProgress): TransitionVerdict {
  if (!isKnownStatus(to.status) || to.status === OrderStatus.UNSPECIFIED) {
    return { kind: 'invalid', reason: `status ${to.status} is not a DTC order status an order can take` };
  }
  if (to.filledQuantity < 0 || (to.orderQuantity > 0 && to.filledQuantity > to.orderQuantity)) {
    return { kind: 'invalid', reason: `filled quantity ${to.filledQuantity} is outside 0..${to.orderQuantity}` };
  }
  if (!from) return { kind: 'apply' };
  if (isTerminal(from.status) && from.status === to.status && to.filledQuantity === from.filledQuantity) {
    return { kind: 'duplicate' };
  }
  const allowed = TRANSITIONS.get(from.status);
  if (!allowed?.has(to.status)) {
    return { kind: 'invalid', reason: `${statusName(from.status)} → ${statusName(to.status)} is not a DTC order transition` };
  }
  if (to.filledQuantity < from.filledQuantity) {
    return { kind: 'invalid', reason: `filled quantity went down from ${from.filledQuantity} to ${to.filledQuantity}` };
  }
  return { kind: 'apply' };
}

/** The contract status (lib/contracts.ts) a trader sees for a DTC status. */
export function contractStatus(status: Status, filledQuantity: number): ContractStatus {
  switch (status) {
    case OrderStatus.FILLED:
      return 'filled';
    case OrderStatus.CANCELED:
      return 'cancelled';
    case OrderStatus.REJECTED:
      return 'rejected';
    case OrderStatus.PARTIALLY_FILLED:
      return 'partially-filled';
    case OrderStatus.OPEN:
    case OrderStatus.PENDING_CANCEL:
    case OrderStatus.PENDING_CANCEL_REPLACE:
      return filledQuantity > 0 ? 'partially-filled' : 'working';
    default:
      return 'pending';
  }
}

const STATUS_NAMES = new Map<number, string>(Object.entries(OrderStatus).map(([name, value]) => [value, name]));

export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `status ${status}`;
}

function isKnownStatus(status: number): status is Status {
  return TRANSITIONS.has(status as Status) || status === OrderStatus.UNSPECIFIED;
}
