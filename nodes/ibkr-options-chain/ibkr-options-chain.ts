// ibkr-options-chain: the SPX / SPXW chain for the chosen expiries and a strike window around spot, as one `chain`
// message per refresh (on input, or every N seconds). Thin: discovery, batching and greek retries are
// lib/ibkr/options-chain. One fetcher per IBKR connection, so nodes and the editor share the day's discovery.
import type { Request, Response } from 'express';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { InvalidInputError, MiaError, errorMessage } from '../../lib/errors';
import type { IbkrConnection } from '../../lib/ibkr';
import { OptionsChainFetcher, chainRequestOf, type ChainNodeSettings, type ChainRequest } from '../../lib/ibkr/options-chain';
import { ibkrConfigNode, showSessionStatus, type IbkrConfigNode } from '../shared/ibkr-connection-registry';
import { handleClose, handleInput, setStatus, refuseAtDeploy } from '../shared/node-kit';

interface IbkrOptionsChainDef extends NodeDef, Partial<ChainNodeSettings> {
  connection: string;
  refreshSec: string | number;
}

const fetchers = new WeakMap<IbkrConnection, OptionsChainFetcher>();

function fetcherFor(connection: IbkrConnection): OptionsChainFetcher {
  let fetcher = fetchers.get(connection);
  if (!fetcher) {
    fetcher = new OptionsChainFetcher(connection.client);
    fetchers.set(connection, fetcher);
  }
  return fetcher;
}

/** The node's settings (a missing one takes lib's default), with msg.expiries / msg.window overriding them where the help says so. */
function chainRequest(config: IbkrOptionsChainDef, msg: Record<string, unknown>): ChainRequest {
  const { classes, expiryMode, nextCount, from, to, windowMode, windowPct, windowStrikes } = config;
  return chainRequestOf({ classes, expiryMode, nextCount, from, to, windowMode, windowPct, windowStrikes }, msg);
}

export = function register(RED: NodeAPI): void {
  function IbkrOptionsChainNode(this: Node, config: IbkrOptionsChainDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the handlers below run later
    let cfg: IbkrConfigNode;
    let refreshMs: number;
    try {
      cfg = ibkrConfigNode(RED, config.connection, 'IBKR options chain');
      chainRequest(config, {});
      const refreshSec = Number(config.refreshSec || 0);
      if (!(refreshSec === 0 || (refreshSec >= 5 && refreshSec <= 3600))) {
        throw new InvalidInputError(`IBKR options chain: "Refresh every (s)" must be 0 (on input only) or 5 to 3600 (got ${String(config.refreshSec)}).`);
      }
      refreshMs = refreshSec * 1000;
    } catch (err) {
      refuseAtDeploy(node, err);
      return;
    }

    let running: Promise<NodeMessage> | undefined;
    const refresh = (msg: Record<string, unknown>): Promise<NodeMessage> => {
      const request = chainRequest(config, msg);
      running ??= (async () => {
        const connection = await cfg.connection();
        if (connection.options.marketDataEnabled === false) {
          setStatus(node, 'grey', 'ring', 'market data off');
          throw new MiaError('IBKR_MARKET_DATA_OFF', 'IBKR options chain: market data is switched off in the IBKR connection, so nothing was requested. Tick "Market data" in the ibkr-config node to allow it.');
        }
        setStatus(node, 'blue', 'ring', 'chain: discovery');
        const { chain, stats } = await fetcherFor(connection).fetch(request, cfg.marketNow(), (p) =>
          setStatus(node, 'blue', 'ring', p.phase === 'discovery' ? `chain: discovery ${Math.floor((100 * p.done) / p.total)} %` : `chain ${Math.floor((100 * p.done) / p.total)} %`),
        );
        const logLine = `${chain.contracts.length} ${chain.underlying} options (${stats.discoveryCalls} discovery calls, ${stats.batches} snapshot batches)`;
        if (stats.discoveryCalls > 0) node.log(`contracts discovered: ${logLine}`);
        else node.debug(`chain refreshed: ${logLine}`);
        if (stats.delayed) setStatus(node, 'yellow', 'dot', `${chain.contracts.length} options, delayed data`);
        else if (stats.missingGreeks > 0) setStatus(node, 'yellow', 'dot', `${chain.contracts.length} options, ${stats.missingGreeks} without greeks`);
        else setStatus(node, 'green', 'dot', `${chain.contracts.length} options, SPX ${chain.spot}`);
        cfg.record('chain', chain, cfg.marketNow());
        return { topic: 'chain', payload: chain, stats } as NodeMessage;
      })().finally(() => {
        running = undefined;
      });
      return running;
    };

    const stopState = cfg.onState((event) => {
      if (event.state !== 'authenticated') showSessionStatus(node, event);
    });
    setStatus(node, 'grey', 'ring', 'ready');
    let timer: NodeJS.Timeout | undefined;
    if (refreshMs > 0) {
      const tick = (): void => {
        if (running) return; // still busy with the previous refresh
        refresh({}).then(
          (out) => node.send(out),
          (err: unknown) => {
            setStatus(node, 'red', 'ring', errorMessage(err));
            node.error(errorMessage(err));
          },
        );
      };
      timer = setInterval(tick, refreshMs);
      tick();
    }

    handleInput(node, async (msg, send) => {
      const out = await refresh(msg);
      send({ ...msg, ...out });
    });

    handleClose(node, () => {
      clearInterval(timer);
      stopState();
    });
  }

  RED.nodes.registerType('ibkr-options-chain', IbkrOptionsChainNode);

  // The dialog's expiry list: SPX (AM) and SPXW (PM) expiries from today on, for the chosen deployed connection.
  RED.httpAdmin.get('/ibkr-options-chain/expiries', RED.auth.needsPermission('ibkr-options-chain.read'), (req: Request, res: Response) => {
    const configId = typeof req.query.config === 'string' ? req.query.config : undefined;
    void (async () => {
      const cfg = ibkrConfigNode(RED, configId, 'Expiry list');
      const connection = await cfg.connection();
      return fetcherFor(connection).listExpiries(cfg.marketNow(), (found) => found.length >= 40);
    })()
      .then((expiries) => res.json({ expiries }))
      .catch((err: unknown) => res.status(err instanceof InvalidInputError ? 400 : 502).json({ error: errorMessage(err) }));
  });
};
