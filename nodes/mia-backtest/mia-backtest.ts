// mia-backtest: 1-minute bars in (ibkr-history's 'bars' message, or a CSV text of bars) → the trades Battle Navale
// would have made on them, with the risk rules, commission and slippage of this node's settings. Runs one trading day
// at a time (the event loop is handed back between days), showing "day k/N" in its status and on output 3.
// Output 1: topic 'backtest', the result; output 2: 'reset' then each trade's signal and fills, for mia-trade-stats;
// output 3: topic 'progress' after each day. The rules live in lib/replay/backtest.ts; this file routes and reports.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { NEW_YORK } from '../../lib/clock';
import { InvalidInputError, MiaError, describeValue } from '../../lib/errors';
import type { BacktestProgress } from '../../lib/replay/backtest';
import { runBacktestInSteps, tradeStatsMessages } from '../../lib/replay/backtest-steps';
import { parseBarsCsv } from '../../lib/replay/bars-csv';
import type { MarketBar } from '../../lib/sim/market-types';
import type { SettingsInput } from '../../lib/strategy/settings';
import { resolveRiskLimits, type RiskLimits } from '../../lib/trading/risk-rules';
import { battleNavaleSettings } from '../shared/battle-navale-settings';
import { handleClose, handleInput, setStatus, statusError, type NodeMsg, type Send } from '../shared/node-kit';

interface BacktestDef extends NodeDef {
  /** Id of the mia-battle-navale node whose settings the backtest uses; '' for Battle Navale's defaults. */
  battleNavale?: string;
  commissionPerContract?: number | string;
  slippageTicks?: number | string;
  quantity?: number | string;
  dailyLossLimit?: number | string;
  maxTradesPerDay?: number | string;
  cooldownMin?: number | string;
  maxConsecutiveLosses?: number | string;
  pointValue?: number | string;
  tradingHoursEnabled?: boolean;
  tradingStart?: string;
  tradingEnd?: string;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A dialog number (the editor may keep text); what is wrong otherwise. */
function setting(value: unknown, label: string, check: (n: number) => boolean, rule: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || !check(n)) throw new InvalidInputError(`backtest: "${label}" must be ${rule}; got ${describeValue(value)}.`);
  return n;
}

const whole = (min: number) => (n: number) => Number.isInteger(n) && n >= min;

function riskOf(config: BacktestDef): RiskLimits {
  return resolveRiskLimits({
    dailyLossLimit: setting(config.dailyLossLimit ?? 500, 'Daily loss limit ($)', (n) => n > 0, 'dollars above 0'),
    maxTradesPerDay: setting(config.maxTradesPerDay ?? 10, 'Max trades per day', whole(1), 'a whole number ≥ 1'),
    cooldownMin: setting(config.cooldownMin ?? 15, 'Cooldown (min)', (n) => n >= 0, 'minutes ≥ 0'),
    maxConsecutiveLosses: setting(config.maxConsecutiveLosses ?? 4, 'Max losing trades in a row', whole(1), 'a whole number ≥ 1'),
    pointValue: setting(config.pointValue ?? 50, 'Point value ($)', (n) => n > 0, '$ per point above 0 (ES 50, MES 5)'),
    tradingHoursEnabled: config.tradingHoursEnabled !== false,
    tradingStart: config.tradingStart || '09:35',
    tradingEnd: config.tradingEnd || '15:45',
  });
}

/** The bars of a message: an array of 1-minute bars (ibkr-history 'bars') or a CSV text. */
function barsOf(msg: NodeMsg): MarketBar[] {
  const p = msg.payload;
  if (typeof p === 'string') {
    const zone = msg.timeZone === undefined ? NEW_YORK : msg.timeZone;
    if (typeof zone !== 'string' || zone === '') throw new InvalidInputError(`backtest: msg.timeZone must be an IANA time zone such as "America/New_York"; got ${describeValue(zone)}.`);
    return parseBarsCsv(p, zone, 'backtest CSV');
  }
  if (!Array.isArray(p)) {
    throw new InvalidInputError(`backtest: msg.payload must be 1-minute bars: an array (ibkr-history, output "one bars message") or a CSV text "timestamp,open,high,low,close,volume"; got ${describeValue(p)}.`);
  }
  const bars: MarketBar[] = [];
  // An index loop, not map: map skips the holes of a sparse array, which would reach the backtest as missing bars.
  for (let i = 0; i < p.length; i++) {
    const b: unknown = p[i];
    if (!isRecord(b)) throw new InvalidInputError(`backtest: bar ${i} is not a bar object; got ${describeValue(b)}.`);
    if (b.tf !== undefined && b.tf !== '1min') throw new InvalidInputError(`backtest: bar ${i} is a ${describeValue(b.tf)} bar: the backtest takes 1-minute bars (ibkr-history bar size "1min").`);
    const bar = { t: b.t, o: b.o, h: b.h, l: b.l, c: b.c, v: b.v };
    for (const [k, v] of Object.entries(bar)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidInputError(`backtest: bar ${i} field ${k} must be a number; got ${describeValue(v)}.`);
    }
    bars.push(bar as MarketBar);
  }
  return bars;
}

/** What to run: the node's settings, overridden by msg.settings (Battle Navale) and msg.risk (risk limits). */
function runSettings(config: BacktestDef, msg: NodeMsg): { settings: SettingsInput; risk: RiskLimits } {
  let settings: SettingsInput = {};
  if (config.battleNavale) {
    const published = battleNavaleSettings(config.battleNavale);
    if (!published) throw new MiaError('BACKTEST_NO_BATTLE_NAVALE', 'backtest: the Battle Navale node chosen in the settings is not deployed (or its settings are invalid): deploy it, or choose none for the default settings.');
    settings = published;
  }
  if (msg.settings !== undefined) {
    if (!isRecord(msg.settings)) throw new InvalidInputError(`backtest: msg.settings must be an object of Battle Navale settings; got ${describeValue(msg.settings)}.`);
    settings = { ...settings, ...(msg.settings as SettingsInput) };
  }
  let risk = riskOf(config);
  if (msg.risk !== undefined) {
    if (!isRecord(msg.risk)) throw new InvalidInputError(`backtest: msg.risk must be an object of risk limits; got ${describeValue(msg.risk)}.`);
    risk = resolveRiskLimits({ ...risk, ...(msg.risk as Partial<RiskLimits>) });
  }
  return { settings, risk };
}

function money(x: number): string {
  return `${x < 0 ? '−' : '+'}$${Math.abs(x).toFixed(0)}`;
}

export = function register(RED: NodeAPI): void {
  function MiaBacktestNode(this: Node, config: BacktestDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- used by the closures below
    let fills: { commissionPerContract: number; slippageTicks: number; quantity: number } | null = null;
    let configError: unknown = null;
    try {
      fills = {
        commissionPerContract: setting(config.commissionPerContract ?? 0, 'Commission ($ per contract per fill)', (n) => n >= 0, 'dollars ≥ 0'),
        slippageTicks: setting(config.slippageTicks ?? 1, 'Slippage (ticks)', (n) => n >= 0, 'ticks ≥ 0'),
        quantity: setting(config.quantity ?? 1, 'Quantity (contracts)', whole(1), 'a whole number ≥ 1'),
      };
      riskOf(config);
      setStatus(node, 'grey', 'ring', 'waiting for bars');
    } catch (err) {
      configError = err;
      statusError(node, err);
    }
    let closing = false;
    /** The run in progress: its last progress, and whether it was asked to stop. */
    let running: { progress: BacktestProgress | null; stop: boolean } | null = null;

    handleInput(node, async (msg: NodeMsg, send: Send) => {
      if (!fills) throw configError;
      if (msg.topic === 'cancel') {
        if (running) running.stop = true;
        return;
      }
      if (running) {
        const at = running.progress ? ` (day ${running.progress.daysDone} of ${running.progress.days})` : '';
        throw new InvalidInputError(`backtest: a backtest is already running${at}: wait for its result, or send msg.topic "cancel" first.`);
      }
      const bars = barsOf(msg);
      if (bars.length === 0) throw new InvalidInputError('backtest: no bars to test (an empty history or CSV).');
      const { settings, risk } = runSettings(config, msg);
      const run: { progress: BacktestProgress | null; stop: boolean } = { progress: null, stop: false };
      running = run;
      try {
        setStatus(node, 'blue', 'ring', 'backtest starting');
        send([null, { topic: 'reset', payload: 'backtest' } as NodeMessage, null]);
        let tradeCount = 0;
        const r = await runBacktestInSteps(bars, {
          settings,
          risk,
          ...fills,
          shouldStop: () => run.stop || closing,
          onDay: (p, closed, soFar) => {
            run.progress = p;
            const percent = Math.round((p.daysDone / p.days) * 100);
            setStatus(node, 'blue', 'ring', `day ${p.daysDone}/${p.days} ${percent}% ${p.trades} tr`);
            const feed = tradeStatsMessages(closed, soFar.signals, tradeCount + 1) as unknown as NodeMessage[];
            tradeCount += closed.length;
            send([null, feed, { topic: 'progress', payload: { ...p, percent } } as NodeMessage]);
          },
        });
        const commission = r.trades.reduce((s, t) => s + t.commission, 0);
        const refused = r.signals.filter((s) => s.refused !== undefined).length;
        const wins = r.trades.filter((t) => t.pnl > 0).length;
        if (closing) return;
        setStatus(
          node,
          r.stopped ? 'yellow' : r.pnl >= 0 ? 'green' : 'red',
          r.stopped ? 'ring' : 'dot',
          `${r.stopped ? `stopped day ${r.days}: ` : ''}${r.trades.length} tr ${money(r.pnl)} ${r.trades.length ? Math.round((wins / r.trades.length) * 100) : 0}%`,
        );
        send([
          {
            ...msg,
            topic: 'backtest',
            payload: {
              days: r.days,
              bars: r.bars,
              stopped: r.stopped,
              pnl: r.pnl,
              commission,
              signals: r.signals.map(({ t, side, entry, stop, target, score, refused }) => ({ t, side, entry, stop, target, score, ...(refused === undefined ? {} : { refused }) })),
              refusedSignals: refused,
              trades: r.trades,
              settings: { battleNavale: settings, risk, ...fills },
            },
          } as NodeMessage,
          null,
          null,
        ]);
      } finally {
        running = null;
      }
    });

    handleClose(node, () => {
      closing = true;
    });
  }

  RED.nodes.registerType('mia-backtest', MiaBacktestNode);
};
