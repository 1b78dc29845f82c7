// ibkr-quote: one contract's quotes (ES front month by default) as `quote` messages: a snapshot on each input, a
// snapshot every N seconds, or streamed over the ibkr-config node's one WebSocket, with a `tick` per trade on the
// second output. Thin: the contract rules are lib/ibkr/contract-resolver, the feeds lib/ibkr/quote-feed. Also serves the
// editor's contract search (GET /ibkr-quote/contracts), which ibkr-history's dialog uses too.
import type { Request, Response } from 'express';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import { InvalidInputError, describeValue, errorMessage } from '../../lib/errors';
import { contractSpecOf, searchContracts, type ContractSpec } from '../../lib/ibkr/contract-resolver';
import { ibkrConfigNode, showSessionStatus, type IbkrConfigNode } from '../shared/ibkr-connection-registry';
import { handleClose, handleInput, setStatus, refuseAtDeploy } from '../shared/node-kit';
import { MarketDataOffError, QuoteFeed, dataStateLabel, type QuoteMode, type SourcedQuote } from '../../lib/ibkr/quote-feed';

interface IbkrQuoteDef extends NodeDef {
  connection: string;
  symbol: string;
  secType: string;
  conid: string;
  mode: QuoteMode;
  pollSec: string | number;
}

const MODES: readonly QuoteMode[] = ['snapshot', 'poll', 'stream'];

function ringFor(q: SourcedQuote): { fill: NodeStatus['fill']; shape: NodeStatus['shape'] } {
  if (q.source === 'real-time') return { fill: 'green', shape: 'dot' };
  if (q.source === 'delayed' || q.frozen) return { fill: 'yellow', shape: 'dot' };
  return { fill: 'red', shape: 'ring' };
}

function price(x: number | null): string {
  return x === null ? '—' : String(x);
}

/** msg.conid / msg.symbol / msg.secType override the node's contract for one snapshot (see the help). */
function specFromMessage(msg: Record<string, unknown>): ContractSpec | undefined {
  if (msg.conid === undefined && msg.symbol === undefined) return undefined;
  return contractSpecOf({ conid: msg.conid, symbol: msg.symbol, secType: msg.secType });
}

export = function register(RED: NodeAPI): void {
  function IbkrQuoteNode(this: Node, config: IbkrQuoteDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the handlers below run later
    const mode: QuoteMode = MODES.includes(config.mode) ? config.mode : 'snapshot';
    let cfg: IbkrConfigNode;
    let spec: ContractSpec;
    let pollMs: number;
    try {
      cfg = ibkrConfigNode(RED, config.connection, 'IBKR quote');
      const symbol = typeof config.symbol === 'string' ? config.symbol.trim() : '';
      if (symbol === '') throw new InvalidInputError('IBKR quote: the symbol is empty: enter one (e.g. ES) or pick a contract with the search button.');
      spec = contractSpecOf({ conid: config.conid, symbol, secType: config.secType });
      const pollSec = Number(config.pollSec ?? 5);
      if (mode === 'poll' && !(pollSec >= 1 && pollSec <= 3600)) throw new InvalidInputError(`IBKR quote: "Every (s)" must be 1 to 3600 seconds (got ${describeValue(config.pollSec)}).`);
      pollMs = pollSec * 1000;
    } catch (err) {
      refuseAtDeploy(node, err);
      return;
    }

    const showQuote = (q: SourcedQuote): void => {
      const ring = ringFor(q);
      setStatus(node, ring.fill, ring.shape, `${price(q.last)} ${dataStateLabel(q.source)}`);
    };
    const feed = new QuoteFeed(
      { connection: () => cfg.connection(), stream: () => cfg.stream(), spec, mode, pollMs, now: () => cfg.marketNow() },
      {
        quote: (q) => {
          showQuote(q);
          cfg.record('quote', q, cfg.marketNow());
          node.send([{ topic: 'quote', payload: q } as NodeMessage, null]);
        },
        tick: (t) => {
          // "Record market data" on the connection: the tick as received, stamped with the market's clock.
          cfg.record('tick', t, cfg.marketNow());
          node.send([null, { topic: 'tick', payload: t } as NodeMessage]);
        },
        gap: (gap) => {
          const seconds = Math.round((gap.to - gap.from) / 1000);
          setStatus(node, 'yellow', 'ring', `gap ${seconds} s: ${gap.reason}`);
          node.warn(`IBKR quote ${gap.symbol}: no data for ${seconds} s (${gap.reason}); trades in that gap were not seen.`);
          node.send([{ topic: 'gap', payload: gap } as NodeMessage, null]);
        },
        error: (err) => {
          setStatus(node, 'red', 'ring', errorMessage(err));
          node.error(errorMessage(err));
        },
        streamState: (state, reason) => {
          if (state === 'open') setStatus(node, 'green', 'ring', 'streaming');
          else if (state === 'reconnecting' || state === 'waiting-session') setStatus(node, 'yellow', 'ring', `stream ${state}: ${reason}`);
        },
      },
    );

    const stopState = cfg.onState((event) => {
      if (event.state !== 'authenticated') showSessionStatus(node, event);
    });
    setStatus(node, 'grey', 'ring', mode === 'snapshot' ? 'ready' : 'starting');
    if (mode !== 'snapshot') {
      cfg
        .connection()
        .then((connection) => {
          if (connection.options.marketDataEnabled === false) throw new MarketDataOffError('IBKR quote');
          return feed.start();
        })
        .catch((err: unknown) => {
          if (err instanceof MarketDataOffError) setStatus(node, 'grey', 'ring', 'market data off');
          else setStatus(node, 'red', 'ring', errorMessage(err));
          node.error(errorMessage(err));
        });
    }

    handleInput(node, async (msg, send) => {
      const override = specFromMessage(msg);
      try {
        const quote = await feed.snapshot(override);
        showQuote(quote);
        send([{ ...msg, topic: 'quote', payload: quote } as NodeMessage, null]);
      } catch (err) {
        if (err instanceof MarketDataOffError) setStatus(node, 'grey', 'ring', 'market data off');
        throw err;
      }
    });

    handleClose(node, () => {
      stopState();
      feed.stop();
    });
  }

  RED.nodes.registerType('ibkr-quote', IbkrQuoteNode);

  // The editor's contract search (ibkr-quote and ibkr-history dialogs): futures first (front month first), then
  // the other security types IBKR lists for the symbol. Uses the chosen, deployed ibkr-config node's connection.
  RED.httpAdmin.get('/ibkr-quote/contracts', RED.auth.needsPermission('ibkr-quote.read'), (req: Request, res: Response) => {
    const configId = typeof req.query.config === 'string' ? req.query.config : undefined;
    const query = typeof req.query.q === 'string' ? req.query.q : '';
    void (async () => {
      const cfg = ibkrConfigNode(RED, configId, 'Contract search');
      const connection = await cfg.connection();
      return searchContracts(connection.client, query, cfg.marketNow());
    })()
      .then((contracts) => res.json({ contracts }))
      .catch((err: unknown) => res.status(err instanceof InvalidInputError ? 400 : 502).json({ error: errorMessage(err) }));
  });
};
