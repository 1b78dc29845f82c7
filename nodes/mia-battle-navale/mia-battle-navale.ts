// mia-battle-navale: closed bars in (msg.topic 'bar' / 'bars'), context in ('vwap', 'gamma', 'vix'); LONG/SHORT
// signals out of output 1 (topic 'signal'), the newest evaluation of each input message out of output 2 (topic 'battle-navale').
// The method lives in lib/strategy; this file only validates messages, calls the engine and reports.
import type { Request, Response } from 'express';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { NEW_YORK, hhmm } from '../../lib/clock';
import type { SignalPayload } from '../../lib/contracts';
import { InvalidInputError } from '../../lib/errors';
import { BattleNavaleEngine } from '../../lib/strategy/battle-navale';
import { timeframeMs, validateBar } from '../../lib/strategy/bar-window';
import { compileScoreFormula } from '../../lib/strategy/score-formula';
import { DEFAULT_SETTINGS, SETTING_KEYS, type SettingsInput } from '../../lib/strategy/settings';
import { publishBattleNavaleSettings } from '../shared/battle-navale-settings';
import { handleClose, handleInput, setStatus, statusError, type NodeMsg, type Send } from '../shared/node-kit';

type BattleNavaleDef = NodeDef & SettingsInput;

/** Bars of a 'bars' batch evaluated per event-loop turn (about 0.1 ms each). */
const BATCH_SLICE = 40;

function numberOrNull(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new InvalidInputError(`${field} must be a number or null; got ${JSON.stringify(value)}.`);
}

function objectPayload(msg: NodeMsg, topic: string): Record<string, unknown> {
  const p = msg.payload;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) {
    throw new InvalidInputError(`a '${topic}' message needs an object payload; got ${Array.isArray(p) ? 'an array' : typeof p}.`);
  }
  return p as Record<string, unknown>;
}

/** The last signal, the latest score and why; after an overlapping batch, what it skipped comes first (32 characters show). */
function statusText(p: SignalPayload, last: SignalPayload | null, note: string): string {
  // Per evaluated bar, before the next hop runs: toLocaleTimeString built an Intl formatter on each call (~0.5 ms).
  const head = last ? `${last.signal} ${hhmm(last.bar.t, NEW_YORK)}` : 'no signal yet';
  const score = `${p.score >= 0 ? '+' : ''}${p.score.toFixed(2)}`;
  return note ? `${note} · ${score}` : `${head} · ${score} · ${p.reasons[0] ?? ''}`;
}

export = function register(RED: NodeAPI): void {
  function MiaBattleNavaleNode(this: Node, config: BattleNavaleDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- used by the closures below
    const raw: SettingsInput = { scoreExpression: config.scoreExpression };
    for (const key of SETTING_KEYS) raw[key] = config[key];
    let engine: BattleNavaleEngine | null = null;
    let configError: unknown = null;
    try {
      engine = new BattleNavaleEngine(raw);
      // For mia-backtest's "Battle Navale settings of": only settings this node accepted.
      handleClose(node, publishBattleNavaleSettings(node.id, raw));
      setStatus(node, 'grey', 'ring', 'waiting for bars');
    } catch (err) {
      configError = err;
      statusError(node, err);
    }
    let lastSignal: SignalPayload | null = null;

    function evaluate(barLike: unknown, where: string, signals: NodeMessage[], evaluations: NodeMessage[]): void {
      const bar = validateBar(barLike, where);
      const b = barLike as { symbol?: unknown; tf?: unknown; vwap?: unknown; sigma?: unknown };
      const now = bar.t + timeframeMs(b.tf);
      const symbol = typeof b.symbol === 'string' ? b.symbol : undefined;
      // A bar from mia-vwap-delta's history batch carries the VWAP of its own close: the same context a 'vwap'
      // message just before it would have set.
      if (b.vwap !== undefined || b.sigma !== undefined) {
        engine!.setContext({ vwap: numberOrNull(b.vwap, `${where}.vwap`), sigma: numberOrNull(b.sigma, `${where}.sigma`) });
      }
      engine!.update(bar, now);
      const payload = engine!.payload(symbol)!;
      evaluations.push({ topic: 'battle-navale', payload } as NodeMessage);
      if (payload.signal !== 'NO_SIGNAL') {
        lastSignal = payload;
        signals.push({ topic: 'signal', payload } as NodeMessage);
      }
    }

    // A history batch (240 bars at each deploy) is evaluated BATCH_SLICE bars per event-loop turn, so a deploy never
    // blocks Node-RED for the whole batch; inputs that arrive meanwhile wait their turn (in order), and with no batch
    // under way an input is handled at once, in the same turn (the live path keeps its latency).
    let pending: Promise<void> | null = null;
    let closed = false;
    node.on('close', () => {
      closed = true;
    });
    handleInput(node, (msg: NodeMsg, send: Send) => {
      if (!pending) {
        const result = handle(msg, send);
        if (result) track(result);
        return result;
      }
      const run = pending.then(() => handle(msg, send));
      track(run);
      return run;
    });
    function track(run: Promise<void>): void {
      const settled = run.then(
        () => undefined,
        () => undefined,
      );
      pending = settled;
      void settled.then(() => {
        if (pending === settled) pending = null;
      });
    }

    function handle(msg: NodeMsg, send: Send): Promise<void> | undefined {
      if (!engine) throw configError;
      const topic = typeof msg.topic === 'string' ? msg.topic : '';
      if (msg.reset === true) {
        engine.reset();
        lastSignal = null;
        setStatus(node, 'grey', 'ring', 'reset: waiting for bars');
        if (!['bar', 'bars', 'vwap', 'gamma', 'vix'].includes(topic)) return; // a bare reset (e.g. from an inject)
      }
      const signals: NodeMessage[] = [];
      const evaluations: NodeMessage[] = [];
      if (topic === 'vwap') {
        const p = objectPayload(msg, topic);
        engine.setContext({
          vwap: numberOrNull(p.vwap, 'vwap.vwap'),
          sigma: numberOrNull(p.sigma, 'vwap.sigma'),
          ...(p.cumDelta !== undefined ? { cumDelta: numberOrNull(p.cumDelta, 'vwap.cumDelta') } : {}),
        });
        return;
      }
      if (topic === 'gamma') {
        const p = objectPayload(msg, topic);
        const es = p.es as Record<string, unknown> | undefined;
        if (typeof es !== 'object' || es === null) {
          throw new InvalidInputError("a 'gamma' message needs payload.es {callWall, putWall, flip}: the levels mapped to ES prices (mia-gamma-walls sends them).");
        }
        engine.setContext({
          callWall: numberOrNull(es.callWall, 'gamma.es.callWall'),
          putWall: numberOrNull(es.putWall, 'gamma.es.putWall'),
          flip: numberOrNull(es.flip, 'gamma.es.flip'),
        });
        return;
      }
      if (topic === 'vix') {
        const p = msg.payload;
        const level = typeof p === 'object' && p !== null ? (p as { last?: unknown }).last : p;
        engine.setContext({ vix: numberOrNull(level, 'vix') });
        return;
      }
      if (topic === 'bars' || (topic === '' && Array.isArray(msg.payload))) {
        if (!Array.isArray(msg.payload)) throw new InvalidInputError(`a 'bars' message needs an array of bars, oldest first; got ${typeof msg.payload}.`);
        // Check every bar first so a bad one in the middle changes nothing.
        const batch: unknown[] = msg.payload;
        const bars = batch.map((b, k) => {
          const { vwap, sigma } = b as { vwap?: unknown; sigma?: unknown };
          numberOrNull(vwap, `bars[${k}].vwap`);
          numberOrNull(sigma, `bars[${k}].sigma`);
          return validateBar(b, `bars[${k}]`);
        });
        // A batch may overlap what was already evaluated (a history preload arriving after live bars): the bars at
        // or before the newest one seen are skipped and said so; a single 'bar' out of order stays an error.
        let newest = engine.lastBarTime ?? -Infinity;
        const fresh: number[] = [];
        bars.forEach((bar, k) => {
          if (bar.t > newest) {
            newest = bar.t;
            fresh.push(k);
          }
        });
        const skipped = bars.length - fresh.length;
        const evaluateBatch = (from: number): void => {
          for (const k of fresh.slice(from, from + BATCH_SLICE)) evaluate(batch[k], `bars[${k}]`, signals, evaluations);
        };
        evaluateBatch(0);
        if (fresh.length > BATCH_SLICE) {
          return (async () => {
            for (let from = BATCH_SLICE; from < fresh.length; from += BATCH_SLICE) {
              await new Promise<void>((resolve) => setImmediate(resolve));
              if (closed) return; // a redeploy: the next node evaluates the history again
              evaluateBatch(from);
            }
            if (skipped > 0) reportSkipped(skipped, bars.length, evaluations.length);
            report(send, signals, evaluations);
          })();
        }
        if (skipped > 0) reportSkipped(skipped, bars.length, evaluations.length);
      } else if (topic === 'bar' || topic === '') {
        evaluate(msg.payload, 'bar', signals, evaluations);
      } else {
        throw new InvalidInputError(`msg.topic "${topic}" is not handled: send 'bar', 'bars', 'vwap', 'gamma' or 'vix' (or msg.reset = true).`);
      }
      report(send, signals, evaluations);
      return undefined;
    }

    function report(send: Send, signals: NodeMessage[], evaluations: NodeMessage[]): void {
      if (evaluations.length === 0) return;
      // Output 2 feeds dashboards (the live score): one message per input, the newest evaluation. A history batch
      // of hundreds of bars used to send one message per bar into every widget at each deploy.
      send([signals.length ? signals : null, evaluations[evaluations.length - 1]] as unknown as NodeMessage[]);
      const latest = evaluations[evaluations.length - 1].payload as SignalPayload;
      const fill = latest.signal === 'LONG' ? 'green' : latest.signal === 'SHORT' ? 'blue' : 'grey';
      setStatus(node, fill, 'dot', statusText(latest, lastSignal, skippedNote));
      skippedNote = '';
    }

    /** The status suffix of the batch just handled, when it skipped bars. */
    let skippedNote = '';
    function reportSkipped(skipped: number, total: number, evaluated: number): void {
      node.warn(`skipped ${skipped} of ${total} bars in a 'bars' batch: they are at or before the newest bar already evaluated (a preload that arrived after live bars); ${evaluated} newer bar(s) evaluated.`);
      skippedNote = `skipped ${skipped} old bar${skipped === 1 ? '' : 's'}`;
      if (evaluated === 0) {
        setStatus(node, 'yellow', 'ring', `skipped ${skipped} old bar${skipped === 1 ? '' : 's'}: all seen`);
        skippedNote = '';
      }
    }
  }

  RED.nodes.registerType('mia-battle-navale', MiaBattleNavaleNode);

  // The editor checks the score expression as the trader types: the same compile the deploy runs (the weights are
  // the defaults here; the deploy checks again with the node's own weights).
  RED.httpAdmin.post('/mia-battle-navale/score-expression', RED.auth.needsPermission('mia-battle-navale.read'), (req: Request, res: Response) => {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as { expression?: unknown };
    if (typeof body.expression !== 'string') {
      res.json({ ok: false, message: 'send {"expression": "<text>"}' });
      return;
    }
    try {
      const formula = compileScoreFormula(body.expression, DEFAULT_SETTINGS);
      res.json({ ok: true, isDefault: formula.isDefault });
    } catch (err) {
      res.json({ ok: false, message: err instanceof Error ? err.message : String(err) });
    }
  });
};
