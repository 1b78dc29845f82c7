// mia-trade-stats: signals (Battle Navale), order updates and fills (sierra-order, ibkr-order; live, replay or
// backtest) in → closed trades and their statistics out. Output 1: topic 'trade-stats' (statistics, after each closed
// trade and on request); output 2: topic 'trade' (each closed trade) and topic 'csv' (the trade table, on request).
// The bookkeeping and the arithmetic live in lib/stats; this file routes messages and reports.
import type { Request, Response } from 'express';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { InvalidInputError, describeValue } from '../../lib/errors';
import { tradesToCsv } from '../../lib/stats/csv';
import { statistics } from '../../lib/stats/statistics';
import { TradeBook, type TradeRecord } from '../../lib/stats/trades';
import { handleClose, handleInput, setStatus, statusError, type NodeMsg, type Send } from '../shared/node-kit';

interface TradeStatsDef extends NodeDef {
  pointValue?: number | string;
  /** "Signal valid for (min)": how long after its bar a signal may still give a trade its stop and reason. */
  signalMaxAgeMin?: number | string;
}

function minutes(value: unknown): number {
  const raw = value === undefined || value === '' ? 15 : value;
  const n = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    throw new InvalidInputError(`trade stats: "Signal valid for (min)" must be a number of minutes ≥ 0; got ${describeValue(value)}.`);
  }
  return n;
}

/** Topics the order nodes also send that carry nothing for the statistics. */
const NOT_FOR_STATS = new Set(['position', 'account', 'metrics']);

/** The books of the deployed nodes, for the editor's CSV download. */
const books = new Map<string, TradeBook>();

function statsMessage(book: TradeBook): NodeMessage {
  const trades = book.trades();
  return { topic: 'trade-stats', payload: { ...statistics(trades), position: book.position(), rejectedOrders: book.rejectedOrders(), trades } } as NodeMessage;
}

function money(x: number): string {
  return `${x < 0 ? '−' : '+'}$${Math.abs(x).toFixed(0)}`;
}

export = function register(RED: NodeAPI): void {
  function MiaTradeStatsNode(this: Node, config: TradeStatsDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- used by the closures below
    let book: TradeBook | null = null;
    let configError: unknown = null;
    try {
      const pv = config.pointValue === undefined || config.pointValue === '' ? 50 : config.pointValue;
      book = new TradeBook({ pointValue: pv as number, signalMaxAgeMs: minutes(config.signalMaxAgeMin) * 60_000 });
      books.set(node.id, book);
      setStatus(node, 'grey', 'ring', 'no trade yet');
    } catch (err) {
      configError = err;
      statusError(node, err);
    }

    // Running totals for the status, so a fill costs O(1) here (the statistics are computed per closed trade).
    let net = 0;
    let wins = 0;
    function showStatus(b: TradeBook, closed: readonly TradeRecord[] = []): void {
      for (const t of closed) {
        net += t.pnl;
        if (t.pnl > 0) wins++;
      }
      const count = b.trades().length;
      const pos = b.position();
      const open = pos === 0 ? '' : `, pos ${pos > 0 ? '+' : ''}${pos}`; // the status shows 32 characters
      if (count === 0) {
        net = wins = 0;
        setStatus(node, 'grey', 'ring', `no trade yet${open}`);
        return;
      }
      setStatus(node, net >= 0 ? 'green' : 'red', 'dot', `${count} trades ${money(net)} ${Math.round((wins / count) * 100)}%${open}`);
    }

    handleInput(node, (msg: NodeMsg, send: Send) => {
      if (!book) throw configError;
      const topic = typeof msg.topic === 'string' ? msg.topic : '';
      if (msg.reset === true || topic === 'reset') {
        book.reset();
        showStatus(book);
        return;
      }
      if (topic === 'csv' || (topic === '' && msg.payload === 'csv')) {
        send([null, { topic: 'csv', payload: tradesToCsv(book.trades()) } as NodeMessage]);
        return;
      }
      if (topic === 'stats' || (topic === '' && msg.payload === 'stats')) {
        send([statsMessage(book), null]);
        return;
      }
      if (NOT_FOR_STATS.has(topic)) return;
      let closed: TradeRecord[] = [];
      if (topic === 'signal') book.signal(msg.payload);
      else if (topic === 'order-update') book.orderUpdate(msg.payload);
      else if (topic === 'fill') closed = book.fill(msg.payload, msg.pointValue);
      else {
        throw new InvalidInputError(
          `msg.topic "${topic}" is not handled: send 'signal' (mia-battle-navale output 1), 'fill' or 'order-update' (sierra-order, ibkr-order), or 'csv', 'stats', 'reset'.`,
        );
      }
      showStatus(book, closed);
      if (closed.length === 0) return;
      send([statsMessage(book), closed.map((t) => ({ topic: 'trade', payload: t }) as NodeMessage)] as unknown as NodeMessage[]);
    });

    handleClose(node, () => {
      if (book && books.get(node.id) === book) books.delete(node.id);
    });
  }

  RED.nodes.registerType('mia-trade-stats', MiaTradeStatsNode);

  // The editor's "Download CSV": the trade table of a deployed node.
  RED.httpAdmin.get('/mia-trade-stats/:id/trades.csv', RED.auth.needsPermission('mia-trade-stats.read'), (req: Request, res: Response) => {
    const book = books.get(String(req.params.id));
    if (!book) {
      res.status(404).json({ message: 'no deployed mia-trade-stats node with this id (deploy first)' });
      return;
    }
    res.set('Content-Type', 'text/csv; charset=utf-8');
    res.set('Content-Disposition', 'attachment; filename="trades.csv"');
    res.send(tradesToCsv(book.trades()));
  });
};
