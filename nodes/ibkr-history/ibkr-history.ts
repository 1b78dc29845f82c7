// ibkr-history: on input, one contract's bars (1 min, 5 min, 15 min, 1 h and every other IBKR bar size) for a
// period or a start/end, as one `bars` message (oldest first) or one `bar` message per bar. Thin: the contract
// rules are lib/ibkr/contract-resolver, the paging (1000-point cap, concurrency, overlaps) lib/ibkr/history-pager.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { InvalidInputError, MiaError, describeValue } from '../../lib/errors';
import { contractSpecOf, resolveContract, type ContractSpec } from '../../lib/ibkr/contract-resolver';
import { BAR_SIZES, parsePeriod } from '../../lib/ibkr/history';
import { fetchBars, isBarSize, type HistoryRange } from '../../lib/ibkr/history-pager';
import { ibkrConfigNode, showSessionStatus, type IbkrConfigNode } from '../shared/ibkr-connection-registry';
import { handleClose, handleInput, setStatus, refuseAtDeploy } from '../shared/node-kit';

type Source = 'trades' | 'midpoint' | 'bid_ask';

interface IbkrHistoryDef extends NodeDef {
  connection: string;
  symbol: string;
  secType: string;
  conid: string;
  bar: string;
  rangeMode: 'period' | 'dates';
  period: string;
  start: string;
  end: string;
  outsideRth: boolean;
  source: Source;
  output: 'bars' | 'bar';
}

const SOURCES: readonly Source[] = ['trades', 'midpoint', 'bid_ask'];

/** Epoch ms from a number or an ISO 8601 text; what is wrong otherwise. */
function instant(value: unknown, what: string): number {
  const t = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(t)) throw new InvalidInputError(`IBKR history: ${what} ${describeValue(value)} is not a date: give epoch ms or ISO 8601 (e.g. 2025-03-10T13:30:00Z).`);
  return t;
}

function rangeOf(msg: Record<string, unknown>, config: IbkrHistoryDef, now: number): HistoryRange {
  if (msg.start !== undefined || msg.end !== undefined) {
    return { start: instant(msg.start, 'msg.start'), end: msg.end === undefined ? now : instant(msg.end, 'msg.end') };
  }
  if (msg.period !== undefined) {
    if (typeof msg.period !== 'string') throw new InvalidInputError('IBKR history: msg.period must be a text such as "2d" or "4h".');
    parsePeriod(msg.period);
    return { period: msg.period };
  }
  if (config.rangeMode === 'dates') return { start: instant(config.start, 'Start'), end: config.end ? instant(config.end, 'End') : now };
  const period = config.period || '1d';
  parsePeriod(period);
  return { period };
}

export = function register(RED: NodeAPI): void {
  function IbkrHistoryNode(this: Node, config: IbkrHistoryDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the handlers below run later
    let cfg: IbkrConfigNode;
    let spec: ContractSpec;
    try {
      cfg = ibkrConfigNode(RED, config.connection, 'IBKR history');
      const symbol = typeof config.symbol === 'string' ? config.symbol.trim() : '';
      if (symbol === '') throw new InvalidInputError('IBKR history: the symbol is empty: enter one (e.g. ES) or pick a contract with the search button.');
      spec = contractSpecOf({ conid: config.conid, symbol, secType: config.secType });
    } catch (err) {
      refuseAtDeploy(node, err);
      return;
    }
    const stopState = cfg.onState((event) => {
      if (event.state !== 'authenticated') showSessionStatus(node, event);
    });
    setStatus(node, 'grey', 'ring', 'ready');

    handleInput(node, async (msg, send) => {
      const bar = typeof msg.bar === 'string' ? msg.bar : config.bar || '1min';
      if (!isBarSize(bar)) throw new InvalidInputError(`IBKR history: bar size "${bar}" is not one IBKR offers: use one of ${BAR_SIZES.join(', ')}.`);
      const override = msg.conid !== undefined || msg.symbol !== undefined ? contractSpecOf({ conid: msg.conid, symbol: msg.symbol, secType: msg.secType }) : spec;
      const connection = await cfg.connection();
      const now = cfg.historyRequestTime() ?? cfg.marketNow();
      const range = rangeOf(msg, config, now);
      if (connection.options.marketDataEnabled === false) {
        setStatus(node, 'grey', 'ring', 'market data off');
        throw new MiaError('IBKR_MARKET_DATA_OFF', 'IBKR history: market data is switched off in the IBKR connection, so nothing was requested. Tick "Market data" in the ibkr-config node to allow it.');
      }
      const contract = await resolveContract(connection.client, override, now, 'history');
      setStatus(node, 'blue', 'ring', 'history 0 %');
      const result = await fetchBars(
        connection.client,
        {
          conid: contract.conid,
          symbol: contract.symbol,
          bar,
          range,
          outsideRth: config.outsideRth === true,
          source: SOURCES.includes(config.source) ? config.source : undefined,
        },
        { now, onProgress: (fraction) => setStatus(node, 'blue', 'ring', `history ${Math.floor(fraction * 100)} %`) },
      );
      // "Record market data" on the connection: the 1-minute trade bars as received, stamped with the market's clock
      // and with the market time of the request (asOf: the answer holds nothing after it; a replay asks for the
      // flow's preload at that moment and answers it with these bars; lib/replay/recording.ts). Other sizes and
      // sources are not recorded: the replay serves 1-minute trade bars and builds every other size from them.
      if (bar === '1min' && (config.source || 'trades') === 'trades') {
        const at = cfg.marketNow();
        const asOf = Math.min(now, at);
        for (const b of result.bars) cfg.record('bar', { t: b.t, o: b.o, h: b.h, l: b.l, c: b.c, v: b.v, symbol: b.symbol, asOf }, at);
      }
      setStatus(node, 'green', 'dot', `${result.bars.length} × ${bar} ${contract.symbol}`);
      node.log(`bars loaded: ${result.bars.length} × ${bar} ${contract.symbol} in ${result.pages} page(s)`);
      if (config.output === 'bar') {
        for (const b of result.bars) send({ topic: 'bar', payload: b } as NodeMessage);
      } else {
        send({ ...msg, topic: 'bars', payload: result.bars, contract } as NodeMessage);
      }
      cfg.historySent();
    });

    handleClose(node, () => stopState());
  }

  RED.nodes.registerType('ibkr-history', IbkrHistoryNode);
};
