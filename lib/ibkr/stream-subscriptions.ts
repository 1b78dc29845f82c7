// Reference-counted WebSocket subscriptions. Many nodes may watch the same contract, the orders or the P&L; IBKR
// gets one `smd` per contract (with the union of every listener's fields), one `sor`, one `spl`, and the matching
// unsubscribe only when the last listener leaves. Pure bookkeeping: it says which command a change needs and the
// stream decides whether the socket is up to send it (after a reconnect, allCommands() resubscribes everything).

import { SUBSCRIBE_ORDERS, SUBSCRIBE_PNL, UNSUBSCRIBE_ORDERS, UNSUBSCRIBE_PNL, subscribeMarketDataCommand, unsubscribeMarketDataCommand } from './stream-protocol';

export type MarketDataListener = (message: Readonly<Record<string, unknown>>) => void;
export type OrdersListener = (orders: readonly unknown[]) => void;
export type PnlListener = (pnl: Readonly<Record<string, unknown>>) => void;

interface MarketDataWatch {
  fields: readonly string[];
  listener: MarketDataListener;
}

interface ContractSubscription {
  watches: Map<number, MarketDataWatch>;
  /** The field union IBKR was last asked for; grows immediately, shrinks at the next renewal or resubscription. */
  requested: Set<string>;
}

/** What one change asks of the socket: nothing, or one command for one subscription key. */
export interface SubscriptionChange {
  /** 'smd+<target>', 'sor' or 'spl': the key gap reports name. */
  key: string;
  command: string;
  kind: 'subscribe' | 'unsubscribe';
}

export class StreamSubscriptions {
  private nextId = 1;
  private readonly contracts = new Map<string, ContractSubscription>();
  private readonly orders = new Map<number, OrdersListener>();
  private readonly pnl = new Map<number, PnlListener>();

  /** Adds a market-data listener; returns its id and the `smd` to send when the contract is new or needs new fields. */
  addMarketData(target: string, fields: readonly string[], listener: MarketDataListener): { id: number; change: SubscriptionChange | null } {
    const id = this.nextId++;
    let contract = this.contracts.get(target);
    const isNew = contract === undefined;
    if (!contract) {
      contract = { watches: new Map(), requested: new Set() };
      this.contracts.set(target, contract);
    }
    contract.watches.set(id, { fields: [...fields], listener });
    const grew = fields.some((f) => !contract.requested.has(f));
    if (!isNew && !grew) return { id, change: null };
    for (const f of fields) contract.requested.add(f);
    return { id, change: { key: `smd+${target}`, command: subscribeMarketDataCommand(target, [...contract.requested]), kind: 'subscribe' } };
  }

  /** Removes a listener; returns the `umd` to send when it was the contract's last one. */
  removeMarketData(target: string, id: number): SubscriptionChange | null {
    const contract = this.contracts.get(target);
    if (!contract || !contract.watches.delete(id)) return null;
    if (contract.watches.size > 0) return null;
    this.contracts.delete(target);
    return { key: `smd+${target}`, command: unsubscribeMarketDataCommand(target), kind: 'unsubscribe' };
  }

  /** The `smd` that renews (or resubscribes) a contract with the current field union, or null if nobody watches it. */
  marketDataCommand(target: string): string | null {
    const contract = this.contracts.get(target);
    if (!contract) return null;
    contract.requested = unionOf(contract.watches);
    return subscribeMarketDataCommand(target, [...contract.requested]);
  }

  addOrders(listener: OrdersListener): { id: number; change: SubscriptionChange | null } {
    const id = this.nextId++;
    this.orders.set(id, listener);
    return { id, change: this.orders.size === 1 ? { key: 'sor', command: SUBSCRIBE_ORDERS, kind: 'subscribe' } : null };
  }

  removeOrders(id: number): SubscriptionChange | null {
    if (!this.orders.delete(id) || this.orders.size > 0) return null;
    return { key: 'sor', command: UNSUBSCRIBE_ORDERS, kind: 'unsubscribe' };
  }

  addPnl(listener: PnlListener): { id: number; change: SubscriptionChange | null } {
    const id = this.nextId++;
    this.pnl.set(id, listener);
    return { id, change: this.pnl.size === 1 ? { key: 'spl', command: SUBSCRIBE_PNL, kind: 'subscribe' } : null };
  }

  removePnl(id: number): SubscriptionChange | null {
    if (!this.pnl.delete(id) || this.pnl.size > 0) return null;
    return { key: 'spl', command: UNSUBSCRIBE_PNL, kind: 'unsubscribe' };
  }

  marketDataTargets(): string[] {
    return [...this.contracts.keys()];
  }

  /** Every live subscription key ('smd+<target>', 'sor', 'spl'), as gap reports name them. */
  keys(): string[] {
    const keys = this.marketDataTargets().map((t) => `smd+${t}`);
    if (this.orders.size > 0) keys.push('sor');
    if (this.pnl.size > 0) keys.push('spl');
    return keys;
  }

  /** Every subscribe command, to send on a fresh socket (nothing survives a reconnect at IBKR). */
  allCommands(): { key: string; command: string }[] {
    const out: { key: string; command: string }[] = [];
    for (const target of this.contracts.keys()) out.push({ key: `smd+${target}`, command: this.marketDataCommand(target) ?? '' });
    if (this.orders.size > 0) out.push({ key: 'sor', command: SUBSCRIBE_ORDERS });
    if (this.pnl.size > 0) out.push({ key: 'spl', command: SUBSCRIBE_PNL });
    return out;
  }

  marketDataListeners(target: string): MarketDataListener[] {
    const contract = this.contracts.get(target);
    return contract ? [...contract.watches.values()].map((w) => w.listener) : [];
  }

  ordersListeners(): OrdersListener[] {
    return [...this.orders.values()];
  }

  pnlListeners(): PnlListener[] {
    return [...this.pnl.values()];
  }
}

function unionOf(watches: Map<number, MarketDataWatch>): Set<string> {
  const union = new Set<string>();
  for (const w of watches.values()) for (const f of w.fields) union.add(f);
  return union;
}
