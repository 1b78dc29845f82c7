// mia-gamma-walls: an SPX option chain in → one `gamma` message (GEX per strike and total, call wall, put wall,
// absolute gamma strike, zero-gamma flip, profile, ES levels). ES quotes/ticks set the observed basis. Thin: the
// analysis is lib/analytics/gamma-exposure.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Chain } from '../../lib/contracts';
import { InvalidInputError, describeValue } from '../../lib/errors';
import { type EsPrice, esPriceOf, freshEsPrice } from '../../lib/analytics/es-price';
import { type GammaSettings, type GexConvention, type GexUnit, analyzeGamma } from '../../lib/analytics/gamma-exposure';
import { handleInput, setStatus } from '../shared/node-kit';

interface GammaWallsNodeDef extends NodeDef {
  unit: GexUnit;
  convention: GexConvention;
  zeroDteFloorMinutes: string | number;
  includeZeroDte: boolean;
  ratePct: string | number;
  dividendYieldPct: string | number;
  profileRangePct: string | number;
  profilePoints: string | number;
  maxExpiries: string | number;
}

function num(value: string | number | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? n : fallback;
}

function level(x: number | null): string {
  return x === null ? '—' : x.toFixed(0);
}

export = function register(RED: NodeAPI): void {
  function MiaGammaWallsNode(this: Node, config: GammaWallsNodeDef): void {
    RED.nodes.createNode(this, config);
    setUp(this, config);
  }

  function setUp(node: Node, config: GammaWallsNodeDef): void {
    const settings: Partial<GammaSettings> = {
      unit: config.unit ?? 'per-1pct',
      convention: config.convention ?? 'dealer-long-calls',
      zeroDteFloorMinutes: num(config.zeroDteFloorMinutes, 15),
      includeZeroDte: config.includeZeroDte !== false,
      rate: num(config.ratePct, 4.5) / 100,
      dividendYield: num(config.dividendYieldPct, 1.3) / 100,
      profileRangePct: num(config.profileRangePct, 20),
      profilePoints: num(config.profilePoints, 60),
      maxExpiries: num(config.maxExpiries, 0),
    };
    let esPrice: EsPrice | null = null;
    let warned = new Set<string>(); // coverage warnings of the last chain: each is logged once while it lasts
    setStatus(node, 'grey', 'ring', 'waiting for a chain');

    handleInput(node, (msg, send) => {
      if (msg.topic === 'quote' || msg.topic === 'tick') {
        esPrice = esPriceOf(msg.topic, msg.payload) ?? esPrice; // other symbols are ignored (see help)
        return;
      }
      if (msg.topic === 'gap') return; // the ES quote stream's notice of missed data: no price in it

      if (msg.topic !== undefined && msg.topic !== 'chain' && msg.topic !== '') {
        throw new InvalidInputError(
          `mia-gamma-walls takes "chain" messages (and ES "quote"/"tick" for the basis); got topic ${describeValue(msg.topic)}`,
        );
      }
      const chain = msg.payload as Chain;
      if (chain === null || typeof chain !== 'object' || !Array.isArray(chain.contracts)) {
        throw new InvalidInputError('mia-gamma-walls needs msg.payload = a chain {underlying, spot, t, contracts: [...]}');
      }
      const override = typeof msg.esPrice === 'number' && msg.esPrice > 0 ? msg.esPrice : null;
      const { payload, diagnostics } = analyzeGamma(chain, settings, {
        esPrice: override ?? (typeof chain.t === 'number' ? freshEsPrice(esPrice, chain.t) : null), // a bad t is refused by analyzeGamma
      });
      const warnings = payload.coverage?.warnings ?? [];
      for (const w of warnings) if (!warned.has(w.code)) node.warn(`gamma levels may be cut by the chain's scope: ${w.message}`);
      warned = new Set(warnings.map((w) => w.code));
      if (diagnostics.contractsUsed === 0) {
        setStatus(node, 'yellow', 'ring', 'no live contracts with OI');
      } else {
        const text = `flip ${level(payload.flip)} CW ${level(payload.callWall)} PW ${level(payload.putWall)}`;
        if (warnings.length > 0) setStatus(node, 'yellow', 'dot', `${text} ⚠ cut`); // the full story is in node.warn and payload.coverage
        else setStatus(node, 'green', 'dot', text);
      }
      send({ topic: 'gamma', payload, diagnostics } as NodeMessage);
    });
  }

  RED.nodes.registerType('mia-gamma-walls', MiaGammaWallsNode);
};
