// mia-vwap-delta: ticks or bars in → session VWAP with σ bands, delta, pressure and imbalances (output 1, `vwap`),
// closed bars with delta (output 2, `bar`), chart batches for Dashboard 2.0 (outputs 3 and 4: price with VWAP and
// bands, cumulative delta; one point per series per closed bar, bounded). Thin: lib/analytics does the work.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Bar } from '../../lib/contracts';
import { InvalidInputError, errorMessage } from '../../lib/errors';
import type { ApproxDeltaMethod } from '../../lib/analytics/order-flow';
import { ChartFeed, DEFAULT_CHART_POINTS, type ChartBatch } from '../../lib/analytics/chart-feed';
import { type AnchorName, anchorSpec } from '../../lib/analytics/session';
import { VwapDeltaEngine } from '../../lib/analytics/vwap-delta';
import { readVwapDeltaInput, type VwapDeltaInput } from '../../lib/analytics/vwap-delta-input';
import { handleClose, handleInput, setStatus } from '../shared/node-kit';

type EmitMode = 'tick' | 'bar' | 'interval';

interface VwapDeltaNodeDef extends NodeDef {
  symbol: string;
  anchor: AnchorName;
  customAnchor: string;
  timeframe: string;
  emit: EmitMode;
  intervalMs: string | number;
  tickSize: string | number;
  imbalanceRatio: string | number;
  imbalanceMinVolume: string | number;
  stackedLevels: string | number;
  pressureBars: string | number;
  approxMethod: ApproxDeltaMethod;
  chartPoints?: string | number;
}

const STATUS_EVERY_MS = 250; // status updates reach every open editor: keep them to a few per second
const SKIPPED_NOTE_MS = 30_000; // long enough for a trader to see that a preload overlapped live data
/** Live ticks kept for a late preload's recount (about 10 MB): hours of IBKR's streamed ES updates. */
const MAX_RETAINED_TICKS = 100_000;

function num(value: string | number | undefined, fallback: number): number {
  const n = typeof value === 'number' ? value : value === undefined || value === '' ? fallback : Number(value);
  return Number.isFinite(n) ? n : NaN;
}

/** When an input's data begins. */
function firstTime(input: VwapDeltaInput): number | undefined {
  const first = input.kind === 'ticks' ? input.ticks[0] : input.bars[0];
  return typeof first?.t === 'number' ? first.t : undefined;
}

export = function register(RED: NodeAPI): void {
  function MiaVwapDeltaNode(this: Node, config: VwapDeltaNodeDef): void {
    RED.nodes.createNode(this, config);
    setUp(this, config);
  }

  function setUp(node: Node, config: VwapDeltaNodeDef): void {
    const symbolFilter = (config.symbol ?? '').trim();
    const emit: EmitMode = config.emit ?? 'tick';
    let engine: VwapDeltaEngine | null = null;
    let setupError: Error | null = null;
    const makeEngine = (): VwapDeltaEngine =>
      new VwapDeltaEngine({
        symbol: symbolFilter || 'ES',
        anchor: anchorSpec(config.anchor ?? 'globex', config.customAnchor),
        timeframe: config.timeframe || '1min',
        tickSize: num(config.tickSize, 0.25),
        imbalance: {
          ratio: num(config.imbalanceRatio, 3),
          minVolume: num(config.imbalanceMinVolume, 10),
          stackedLevels: num(config.stackedLevels, 3),
        },
        pressureBars: num(config.pressureBars, 5),
        approxMethod: config.approxMethod ?? 'close-location',
      });
    try {
      engine = makeEngine();
      setStatus(node, 'grey', 'ring', 'waiting for ticks');
    } catch (err) {
      setupError = new InvalidInputError(`mia-vwap-delta settings: ${errorMessage(err)}`);
      setStatus(node, 'red', 'ring', errorMessage(err));
    }

    // Charts: one point per series per closed bar, at the bar's open time, flushed once per input message.
    let priceChart: ChartFeed | null = null;
    let deltaChart: ChartFeed | null = null;
    try {
      const points = num(config.chartPoints, DEFAULT_CHART_POINTS);
      priceChart = new ChartFeed(points);
      deltaChart = new ChartFeed(points);
    } catch (err) {
      setupError ??= new InvalidInputError(`mia-vwap-delta settings: ${errorMessage(err)}`);
      setStatus(node, 'red', 'ring', errorMessage(err));
      engine = null;
    }
    const chartBar = (bar: Bar): void => {
      const e = engine as VwapDeltaEngine;
      if (!e.hasVwap || !priceChart || !deltaChart) return;
      const s = e.snapshot(true);
      priceChart.add('VWAP', bar.t, s.vwap);
      priceChart.add('+1σ', bar.t, s.bands.upper1);
      priceChart.add('−1σ', bar.t, s.bands.lower1);
      priceChart.add('+2σ', bar.t, s.bands.upper2);
      priceChart.add('−2σ', bar.t, s.bands.lower2);
      priceChart.add('ES', bar.t, bar.c);
      deltaChart.add('cumulative delta', bar.t, s.cumDelta);
    };
    /** A closed bar with the VWAP, σ and cumulative delta at its close (as its closed-bar vwap message says). */
    const withContext = (bar: Bar): Bar => {
      const e = engine as VwapDeltaEngine;
      if (!e.hasVwap) return bar;
      const s = e.snapshot(true);
      return { ...bar, vwap: s.vwap, sigma: s.sigma, cumDelta: s.cumDelta };
    };
    const chartMessage = (topic: string, batch: ChartBatch | null): NodeMessage | null =>
      batch && (batch.action === 'replace' || batch.points.length > 0) ? ({ topic, action: batch.action, payload: batch.points } as NodeMessage) : null;

    let lastStatusAt = 0;
    const showStatus = (): void => {
      const now = Date.now();
      if (!engine || now - lastStatusAt < STATUS_EVERY_MS || !engine.hasVwap) return;
      lastStatusAt = now;
      const s = engine.snapshot();
      // Whole contracts for the eye (approximated deltas are fractional); the payload keeps the exact figure.
      const shown = Math.round(s.cumDelta) || 0;
      const delta = shown >= 0 ? `+${shown}` : String(shown);
      // The status shows 32 characters: a skipped-bars note goes first, for SKIPPED_NOTE_MS after its batch.
      const note = now < skippedNoteUntil ? skippedNote : '';
      setStatus(node, 'green', 'dot', note ? `${note} · Δ${delta}` : `${s.vwap.toFixed(2)} σ${s.sigma.toFixed(2)} Δ${delta}`);
    };

    /** The newest time already counted (a tick, or a bar's start), NaN before any: older bars would count twice. */
    const newestSeen = (e: VwapDeltaEngine): number => e.snapshot().t;
    /** What the last 'bars' batch skipped, shown in the status for a while. */
    let skippedNote = '';
    let skippedNoteUntil = 0;

    const vwapMessage = (ofClosedBar: boolean): NodeMessage =>
      ({ topic: 'vwap', payload: (engine as VwapDeltaEngine).snapshot(ofClosedBar) }) as NodeMessage;

    let dirty = false;
    let timer: NodeJS.Timeout | null = null;
    if (emit === 'interval' && engine) {
      const everyMs = Math.max(num(config.intervalMs, 1000), 50);
      timer = setInterval(() => {
        if (!dirty || !engine?.hasVwap) return;
        dirty = false;
        node.send([vwapMessage(false), null]);
      }, everyMs);
    }

    // The live inputs counted since the start, kept until history arrives (or the cap): a preload that arrives after
    // live data is then counted as if it had come first (the session's sums start at the anchor, and a VWAP that
    // misses the morning is a wrong VWAP), by replaying them on a fresh engine after the older bars.
    let retained: VwapDeltaInput[] | null = [];
    let retainedTicks = 0;
    const retain = (input: VwapDeltaInput): void => {
      if (!retained) return;
      retainedTicks += input.kind === 'ticks' ? input.ticks.length : input.bars.length;
      if (retainedTicks > MAX_RETAINED_TICKS) retained = null;
      else retained.push(input);
    };

    /**
     * The closed-bar VWAP at the close of the last bar a recount put before the live data: what the flow gets after
     * that batch, as when the preload comes first (see the input handler).
     */
    let recountedClose: NodeMessage | null = null;

    /** Starts the session over: `older` bars first, then the retained live inputs again (already sent: not re-sent). */
    const recount = (older: readonly Bar[], onBar: (bar: Bar) => void): void => {
      const live = retained ?? [];
      const fresh = makeEngine();
      engine = fresh;
      priceChart?.clear();
      deltaChart?.clear();
      for (const bar of older) onBar(fresh.bar(bar));
      recountedClose = fresh.hasVwap ? vwapMessage(true) : null;
      for (const input of live) {
        if (input.kind === 'ticks') fresh.ticks(input.ticks, chartBar, symbolFilter);
        else for (const bar of input.bars) chartBar(fresh.bar(bar));
      }
    };

    /**
     * Counts a bar input; `onOlderBar` gets the bars a recount put before the live data. Returns the bars skipped
     * without a recount (nothing retained to replay); a recount reports its own skipped bars in its warning.
     */
    const countBars = (input: { bars: readonly Bar[] }, batch: boolean, onBar: (bar: Bar) => void, onOlderBar: (bar: Bar) => void): number => {
      const current = engine as VwapDeltaEngine;
      const mine = input.bars.filter((bar) => symbolFilter === '' || bar?.symbol === undefined || bar.symbol === symbolFilter);
      const newest = newestSeen(current);
      const late = mine.filter((bar) => typeof (bar as { t?: unknown } | null)?.t === 'number' && bar.t <= newest);
      const isLate = new Set(late);
      if (late.length > 0 && !batch) {
        throw new InvalidInputError(
          `mia-vwap-delta: bar at ${new Date(late[0].t).toISOString()} is not after the newest data already counted (${new Date(newest).toISOString()}): ` +
            "bars must arrive in time order. Send history as one 'bars' batch (bars already counted are then skipped), before live data.",
        );
      }
      const firstLive = retained && retained.length > 0 ? firstTime(retained[0]) : undefined;
      if (late.length > 0 && firstLive !== undefined) {
        // Every late bar counts, the bar the live data began in too: a bar holds every trade of its minute, where the
        // live ticks are what the stream delivered from some instant on. The engine leaves out the retained ticks
        // printed inside a counted bar (a preload that came first leaves them out the same way).
        recount(late, onOlderBar);
        const inBars = (engine as VwapDeltaEngine).ticksInCountedBars; // the recount's fresh engine
        // A preload answered after the first ticks is how every deploy starts: counted as if it came first (info).
        node.log(
          `a 'bars' batch arrived after live data: the session was recounted with its ${late.length} bar(s), then the live data again` +
            (inBars > 0 ? ` (${inBars} tick(s) printed inside those bars were already in them).` : '.'),
        );
      }
      for (const bar of mine) if (!isLate.has(bar)) onBar((engine as VwapDeltaEngine).bar(bar));
      if (batch) retained = null; // history has arrived: live data from now on follows it
      return late.length > 0 && firstLive === undefined ? late.length : 0;
    };

    handleInput(node, (msg, send) => {
      if (!engine) throw setupError ?? new Error('mia-vwap-delta is not configured');
      const input = readVwapDeltaInput(msg.topic, msg.payload);
      // Each closed bar leaves with its own closed-bar VWAP just before it, in one send per bar: Node-RED delivers
      // sends in order, so Battle Navale evaluates every bar with the context of that bar's close, however the ticks
      // were batched (one send for the whole batch would deliver every vwap before the first bar).
      // A 'bars' batch (a history preload) leaves as ONE 'bars' message, each bar carrying the VWAP, σ and cumulative
      // delta of its own close, then one vwap: Battle Navale evaluates it as one batch and the dashboard gets one
      // update instead of one per bar.
      const batch = input.kind === 'bars' && (msg.topic === 'bars' || Array.isArray(msg.payload));
      const steps: [NodeMessage | NodeMessage[] | null, NodeMessage][] = [];
      const history: Bar[] = [];
      let barsCounted = 0;
      let newerBars = false; // bars of a batch counted after the live data (newer than all of it)
      const onBar = (bar: Bar): void => {
        barsCounted += 1;
        chartBar(bar);
        newerBars = batch;
        if (batch) history.push(withContext(bar));
        else steps.push([emit === 'bar' && engine?.hasVwap ? vwapMessage(true) : null, { topic: 'bar', payload: bar } as NodeMessage]);
      };
      // A recount's older bars leave in that one 'bars' message too, before the newer ones (a single 'bar' older than
      // the newest one seen would be refused downstream).
      let recounted = false;
      const onOlderBar = (bar: Bar): void => {
        recounted = true;
        chartBar(bar);
        history.push(withContext(bar));
      };
      const after: NodeMessage[] = [];
      if (input.kind === 'ticks') {
        engine.ticks(input.ticks, onBar, symbolFilter);
        retain(input);
      } else {
        const skipped = countBars(input, batch, onBar, onOlderBar);
        if (history.length > 0) {
          steps.unshift([null, { topic: 'bars', payload: history } as NodeMessage]);
          // The VWAP at the close of the batch's last bar, whether live ticks came before the batch or after it: a
          // tick the stream delivered just after the preload's answer can come in first (the preload has more hops),
          // and the flow's messages must not depend on that race (a replay of the day delivers them in record order).
          // The live ticks already counted go out with the next closed bar.
          if (emit === 'bar' && engine.hasVwap) after.push(recounted && !newerBars && recountedClose ? recountedClose : vwapMessage(true));
        }
        if (!batch) retain(input);
        if (skipped > 0) {
          // Nothing retained to replay (the cap was passed): the overlapping bars are skipped and said so.
          skippedNote = `skipped ${skipped} old bar${skipped === 1 ? '' : 's'}`;
          skippedNoteUntil = Date.now() + SKIPPED_NOTE_MS;
          node.warn(`skipped ${skipped} of ${input.bars.length} bars in a 'bars' batch: they are at or before the newest data already counted (a preload that arrived after live data); ${barsCounted} newer bar(s) counted.`);
          lastStatusAt = 0; // show it now, whatever the status throttle says
          if (!engine.hasVwap) setStatus(node, 'yellow', 'ring', skippedNote);
        }
      }
      if (emit === 'tick' && engine.hasVwap) {
        // Per message: before the bars it closed when it closed any (they were counted from the same data).
        const v = vwapMessage(input.kind === 'bars');
        if (steps.length > 0) send([v, steps.map(([, b]) => b)]);
        else after.push(v);
      } else {
        for (const [v, b] of steps) send([v, b]);
      }
      dirty = true;
      const price = chartMessage('chart-price', priceChart?.flush() ?? null);
      const delta = chartMessage('chart-delta', deltaChart?.flush() ?? null);
      if (after.length > 0 || price || delta) send([after.length > 0 ? after : null, null, price, delta]);
      showStatus();
    });

    handleClose(node, () => {
      if (timer) clearInterval(timer);
      timer = null;
    });
  }

  RED.nodes.registerType('mia-vwap-delta', MiaVwapDeltaNode);
};
