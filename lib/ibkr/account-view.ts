// The account views of ibkr-account: summary, ledger, positions, live orders and P&L, read through the client (and
// so through the connection's limiter: live orders and P&L are IBKR's 1-per-5-s endpoints) and turned into the
// suite's `account`, `position` and `order-update` messages (ARCHITECTURE.md, "Message contracts").
import type { AccountSnapshot, OrderUpdate, Position } from '../contracts';
import { InvalidInputError } from '../errors';
import type { IbkrClient } from './client';
import { liveOrderUpdate } from './order-updates';
import type { LedgerEntry, PnlRow, Position as IbkrPosition, SummaryItem } from './types';

export const ACCOUNT_VIEWS = ['summary', 'ledger', 'positions', 'orders', 'pnl'] as const;
export type AccountView = (typeof ACCOUNT_VIEWS)[number];

export function parseAccountView(v: unknown): AccountView {
  if (typeof v === 'string' && (ACCOUNT_VIEWS as readonly string[]).includes(v)) return v as AccountView;
  throw new InvalidInputError(`account view must be one of ${ACCOUNT_VIEWS.join(', ')}; got ${JSON.stringify(v) ?? String(v)}.`);
}

/** A position as ibkr-account reports it: the contract's `position` plus IBKR's contract id and marks. */
export interface IbkrPositionPayload extends Position {
  conid: number;
  account: string;
  marketPrice: number | null;
  marketValue: number | null;
  realizedPnl: number | null;
  currency: string;
  assetClass: string;
}

/** The shape of one view's answer: the messages to send, each with its topic. */
export type AccountMessage =
  | { topic: 'account'; payload: AccountSnapshot }
  | { topic: 'position'; payload: IbkrPositionPayload }
  | { topic: 'order-update'; payload: OrderUpdate };

const amount = (summary: Record<string, SummaryItem>, key: string): number | null => summary[key]?.amount ?? null;

/** GET /portfolio/{acct}/summary → account (balance = net liquidation, cash = total cash value). */
export function summaryToAccount(accountId: string, summary: Record<string, SummaryItem>, now: number): AccountSnapshot {
  return {
    account: accountId,
    balance: amount(summary, 'netliquidation'),
    cash: amount(summary, 'totalcashvalue'),
    unrealizedPnl: amount(summary, 'unrealizedpnl'),
    realizedPnl: amount(summary, 'realizedpnl'),
    currency: summary.netliquidation?.currency ?? null,
    buyingPower: amount(summary, 'buyingpower'),
    availableFunds: amount(summary, 'availablefunds'),
    excessLiquidity: amount(summary, 'excessliquidity'),
    initialMargin: amount(summary, 'initmarginreq'),
    maintenanceMargin: amount(summary, 'maintmarginreq'),
    view: 'summary',
    t: now,
  };
}

/** GET /portfolio/{acct}/ledger → account in the base currency (BASE, else USD), every currency under `ledger`. */
export function ledgerToAccount(accountId: string, entries: LedgerEntry[], now: number): AccountSnapshot {
  const base = entries.find((e) => e.currency === 'BASE') ?? entries.find((e) => e.currency === 'USD') ?? entries[0];
  return {
    account: accountId,
    balance: base?.netLiquidationValue ?? null,
    cash: base?.cashBalance ?? null,
    unrealizedPnl: base?.unrealizedPnl ?? null,
    realizedPnl: base?.realizedPnl ?? null,
    settledCash: base?.settledCash ?? null,
    ledger: Object.fromEntries(entries.map((e) => [e.currency, e])),
    view: 'ledger',
    t: now,
  };
}

/** GET /iserver/account/pnl/partitioned → one account per row ("U1234567.Core"): daily P&L, open P&L, net liquidation. */
export function pnlToAccounts(rows: PnlRow[], now: number): AccountSnapshot[] {
  return rows.map((r) => ({
    account: r.key.split('.')[0] ?? r.key,
    balance: r.netLiquidation,
    cash: null,
    unrealizedPnl: r.unrealizedPnl,
    realizedPnl: null, // IBKR's partitioned P&L gives the day's total (dailyPnl) and the open part, not a realized figure
    dailyPnl: r.dailyPnl,
    excessLiquidity: r.excessLiquidity,
    marketValue: r.marketValue,
    segment: r.key,
    view: 'pnl',
    t: now,
  }));
}

export function positionPayload(p: IbkrPosition, now: number): IbkrPositionPayload {
  return {
    symbol: p.description || String(p.conid),
    quantity: p.quantity,
    averagePrice: p.averagePrice,
    ...(p.unrealizedPnl !== null ? { unrealizedPnl: p.unrealizedPnl } : {}),
    t: now,
    conid: p.conid,
    account: p.accountId,
    marketPrice: p.marketPrice,
    marketValue: p.marketValue,
    realizedPnl: p.realizedPnl,
    currency: p.currency,
    assetClass: p.assetClass,
  };
}

/**
 * Reads one view through the client. Positions are every page; live orders are every order of the account. The
 * client makes IBKR's calls that must come first (portfolio priming, the live-orders pre-flight) itself.
 */
export async function readAccountView(client: IbkrClient, view: AccountView, now: () => number): Promise<AccountMessage[]> {
  switch (view) {
    case 'summary': {
      const acct = await client.accountId();
      return [{ topic: 'account', payload: summaryToAccount(acct, await client.accountSummary(acct, 'account'), now()) }];
    }
    case 'ledger': {
      const acct = await client.accountId();
      return [{ topic: 'account', payload: ledgerToAccount(acct, await client.ledger(acct, 'account'), now()) }];
    }
    case 'positions': {
      const positions = await client.positions(undefined, 'account');
      const t = now();
      return positions.filter((p) => p.quantity !== 0).map((p) => ({ topic: 'position', payload: positionPayload(p, t) }));
    }
    case 'orders': {
      const orders = await client.liveOrders({ priority: 'account' });
      const t = now();
      return orders.map((o) => ({ topic: 'order-update', payload: liveOrderUpdate(o, t) }));
    }
    case 'pnl': {
      const rows = await client.pnl('account');
      const t = now();
      return pnlToAccounts(rows, t).map((payload) => ({ topic: 'account', payload }));
    }
  }
}
