// DTC's OrderStatus enum (dtc-protocol.md §2, ORDER_UPDATE.OrderStatus; lifecycle §3) mapped onto the one order
// state machine of lib/trading/order-state.ts. Every ORDER_UPDATE is checked there before it touches an order: a
// transition the rules forbid (a filled order reopening, filled quantity going down) is refused and reported, never
// silently applied. Only the DTC words live here.

import type { OrderStatus as ContractStatus } from '../contracts';
import { contractStatus as neutralStatus, isTerminal as neutralTerminal, transition, type OrderState } from '../trading/order-state';
import { OrderStatus } from './protocol';

type Status = OrderStatus;

const STATE_OF: ReadonlyMap<Status, OrderState> = new Map<Status, OrderState>([
  [OrderStatus.ORDER_SENT, 'pending'],
  [OrderStatus.PENDING_OPEN, 'pending'],
  // A bracket child waits for its parent; it opens (or fills, or is cancelled with it) once the parent fills.
  [OrderStatus.PENDING_CHILD, 'pending'],
  [OrderStatus.OPEN, 'working'],
  [OrderStatus.PARTIALLY_FILLED, 'partially-filled'],
  [OrderStatus.PENDING_CANCEL, 'pending-cancel'],
  [OrderStatus.PENDING_CANCEL_REPLACE, 'pending-replace'],
  [OrderStatus.FILLED, 'filled'],
  [OrderStatus.CANCELED, 'cancelled'],
  [OrderStatus.REJECTED, 'rejected'],
]);

/** The broker-neutral state of a DTC status, or null for UNSPECIFIED and values DTC does not define. */
export function orderState(status: number): OrderState | null {
  return STATE_OF.get(status as Status) ?? null;
}

export function isTerminal(status: Status): boolean {
  const state = orderState(status);
  return state !== null && neutralTerminal(state);
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
 * Pure: the caller applies the update only on 'apply'. A live order reported again with the same status is applied:
 * DTC re-sends OPEN after a cancel-replace with the new prices, and that answer settles the modify.
 */
export function checkTransition(from: OrderProgress | undefined, to: OrderProgress): TransitionVerdict {
  const next = orderState(to.status);
  if (next === null) return { kind: 'invalid', reason: `status ${to.status} is not a DTC order status an order can take` };
  const target = { state: next, quantity: to.orderQuantity, filledQuantity: to.filledQuantity };
  const was = from ? orderState(from.status) : null;
  const verdict = transition(from && was ? { state: was, quantity: from.orderQuantity, filledQuantity: from.filledQuantity } : undefined, target);
  if (verdict.kind === 'invalid') {
    return { kind: 'invalid', reason: `${from ? statusName(from.status) : 'none'} → ${statusName(to.status)}: ${verdict.reason}` };
  }
  if (verdict.kind === 'duplicate') return from && isTerminal(from.status) ? { kind: 'duplicate' } : { kind: 'apply' };
  return { kind: 'apply' };
}

/** The contract status (lib/contracts.ts) a trader sees for a DTC status. */
export function contractStatus(status: Status, filledQuantity: number): ContractStatus {
  const state = orderState(status);
  return state === null ? 'pending' : neutralStatus({ state, filledQuantity });
}

const STATUS_NAMES = new Map<number, string>(Object.entries(OrderStatus).map(([name, value]) => [value, name]));

export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `status ${status}`;
}
