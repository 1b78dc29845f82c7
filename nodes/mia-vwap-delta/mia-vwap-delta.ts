// mia-vwap-delta: ticks or bars in → session VWAP with σ bands, delta, pressure and imbalances (output 1, `vwap`),
// closed bars with delta (output 2, `bar`). Thin: the engine in lib/analytics does the work.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Bar } from '../../lib/contracts';
import { InvalidInputError, errorMessage } from '../../lib/errors';
import type { ApproxDeltaMethod } from '../../lib/analytics/order-flow';
import { type AnchorName, anchorSpec } from '../../lib/analytics/session';
import { VwapDeltaEngine } from '../../lib/analytics/vwap-delta';
import { readVwapDeltaInput } from '../../lib/analytics/vwap-delta-input';
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
}

const STATUS_EVERY_MS = 250; // status updates reach every open editor: keep them to a few per second

function num(value: string | number | undefined, fallback: number): number {
  const n = typeof value === 'number' ? value : value === undefined || value === '' ? fallback : Number(value);
  return Number.isFinite(n) ? n : NaN;
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
    try {
      engine = new VwapDeltaEngine({
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
      setStatus(node, 'grey', 'ring', 'waiting for ticks');
    } catch (err) {
      setupError = new InvalidInputError(`mia-vwap-delta settings: ${errorMessage(err)}`);
      setStatus(node, 'red', 'ring', errorMessage(err));
    }

    let lastStatusAt = 0;
    const showStatus = (): void => {
      const now = Date.now();
      if (!engine || now - lastStatusAt < STATUS_EVERY_MS || !engine.hasVwap) return;
      lastStatusAt = now;
      const s = engine.snapshot();
      const delta = s.cumDelta >= 0 ? `+${s.cumDelta}` : String(s.cumDelta);
      setStatus(node, 'green', 'dot', `${s.vwap.toFixed(2)} σ${s.sigma.toFixed(2)} Δ${delta}`);
    };

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

    handleInput(node, (msg, send) => {
      if (!engine) throw setupError ?? new Error('mia-vwap-delta is not configured');
      const input = readVwapDeltaInput(msg.topic, msg.payload);
      const vwaps: NodeMessage[] = [];
      const bars: NodeMessage[] = [];
      const onBar = (bar: Bar): void => {
        bars.push({ topic: 'bar', payload: bar } as NodeMessage);
        if (emit === 'bar' && engine?.hasVwap) vwaps.push(vwapMessage(true));
      };
      if (input.kind === 'ticks') {
        engine.ticks(input.ticks, onBar, symbolFilter);
      } else {
        for (const bar of input.bars) {
          if (symbolFilter !== '' && bar?.symbol !== undefined && bar.symbol !== symbolFilter) continue;
          onBar(engine.bar(bar));
        }
      }
      if (emit === 'tick' && engine.hasVwap) vwaps.push(vwapMessage(input.kind === 'bars'));
      dirty = true;
      if (vwaps.length > 0 || bars.length > 0) send([vwaps.length > 0 ? vwaps : null, bars.length > 0 ? bars : null]);
      showStatus();
    });

    handleClose(node, () => {
      if (timer) clearInterval(timer);
      timer = null;
    });
  }

  RED.nodes.registerType('mia-vwap-delta', MiaVwapDeltaNode);
};
