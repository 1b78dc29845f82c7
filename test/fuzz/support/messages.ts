// Seeded fast-check generators of hostile Node-RED messages: the topics of ARCHITECTURE.md's message contracts with
// garbage payloads (a tick with a NaN price, bars out of order, a chain of strings, a signal without a stop, an order
// with a negative quantity), huge arrays, deep objects, prototype-pollution keys, and bare primitives.
//
// Orders: the generators build every order and signal with at least one defect, and `couldTrade` filters out whatever
// might still be a valid order, kill switch or session command, so the fuzz asserts that NOTHING reaches a broker.
import fc from 'fast-check';

export type FuzzMsg = { topic?: unknown; payload?: unknown; [key: string]: unknown };

const POLLUTING_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'then'] as const;

const key = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(...POLLUTING_KEYS) });

const weirdNumber = fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0, -1, 1e308, -1e308, Number.MIN_VALUE, 2 ** 53 + 1, 0.1 + 0.2);
const number = fc.oneof(weirdNumber, fc.double(), fc.integer(), fc.double({ min: 1, max: 10000, noNaN: true }));
const scalar = fc.oneof(number, fc.string({ maxLength: 12 }), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt().map(String));

/** Anything JSON-ish and worse: deep (circular-free) objects with polluting keys, null-prototype objects. */
const anything = fc.anything({ key, maxDepth: 5, maxKeys: 6, withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true });

/** A polluting own property the way JSON.parse makes one (fast-check's records define keys, never assign them). */
const pollutedObject = fc.record({ field: scalar }).map(({ field }) => JSON.parse(`{"__proto__": {"polluted": ${JSON.stringify(field ?? null)}}, "constructor": {"prototype": {"polluted": true}}}`) as unknown);

const hugeArray = fc.oneof(
  fc.integer({ min: 5_000, max: 50_000 }).map((n) => new Array<number>(n).fill(Number.NaN)),
  fc.integer({ min: 5_000, max: 20_000 }).map((n) => Array.from({ length: n }, (_, i) => ({ t: n - i, price: i % 7 === 0 ? 'x' : i }))),
);

const deep = fc.integer({ min: 50, max: 2_000 }).map((depth) => {
  let o: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) o = { nested: o };
  return o;
});

/** A field's garbage; a whole payload's garbage may also be huge or very deep (kept out of fields to stay fast). */
const fieldGarbage = fc.oneof({ weight: 6, arbitrary: anything }, { weight: 3, arbitrary: scalar }, { weight: 1, arbitrary: pollutedObject });
const garbage = fc.oneof({ weight: 20, arbitrary: fieldGarbage }, { weight: 1, arbitrary: deep }, { weight: 1, arbitrary: hugeArray });

/** A record shaped like a contract payload whose fields are each either plausible or garbage. */
function shaped(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(fields).map(([k, plausible]) => [k, fc.option(fc.oneof(plausible, fieldGarbage), { nil: undefined })] as const);
  return fc.record(Object.fromEntries(entries), { requiredKeys: [] }) as fc.Arbitrary<Record<string, unknown>>;
}

const price = fc.double({ min: 4000, max: 7000, noNaN: true });
const time = fc.integer({ min: 0, max: 2 ** 42 });

const tick = shaped({ symbol: fc.constant('ES'), t: time, price: fc.oneof(price, fc.constant(Number.NaN)), size: fc.integer({ min: -5, max: 50 }), bid: price, ask: price, side: fc.constantFrom('buy', 'sell', 'both') });
const bar = shaped({ symbol: fc.constant('ES'), t: time, tf: fc.constantFrom('1min', '5min', '7min', ''), o: price, h: price, l: price, c: price, v: fc.integer({ min: -10, max: 1000 }), delta: number });
/** Bars out of order, duplicated, or with high below low. */
const bars = fc.array(bar, { maxLength: 40 }).map((list) => list.reverse());
const chainContract = shaped({ conid: fc.integer(), expiry: fc.constantFrom('20250321', '2025-03-21', 'tomorrow'), settlement: fc.constantFrom('AM', 'PM', 'XX'), strike: fc.oneof(price, fc.string()), right: fc.constantFrom('C', 'P', 'X'), iv: number, gamma: number, openInterest: number, bid: fc.string(), ask: fc.string() });
const chain = shaped({ underlying: fc.constantFrom('SPX', 42), spot: fc.oneof(price, fc.string()), t: time, contracts: fc.oneof(fc.array(chainContract, { maxLength: 30 }), fc.string()) });
const vwap = shaped({ symbol: fc.constant('ES'), t: time, vwap: price, sigma: number, bands: anything });
const gamma = shaped({ underlying: fc.constant('SPX'), t: time, spot: price, callWall: price, putWall: price, flip: number, es: anything });

/** A LONG / SHORT signal with at least one defect: no stop, a NaN or text level, levels on the wrong side, no target. */
const brokenSignal = fc
  .record({
    signal: fc.constantFrom('LONG', 'SHORT'),
    entry: price,
    stop: price,
    tp: price,
    defect: fc.constantFrom('no-stop', 'nan-stop', 'text-entry', 'wrong-side', 'no-targets', 'negative-stop'),
    extra: fc.dictionary(key, scalar, { maxKeys: 3 }),
  })
  .map(({ signal, entry, defect, extra }) => {
    const up = signal === 'LONG' ? 1 : -1;
    const s: Record<string, unknown> = { ...extra, signal, entry, stop: entry - up * 4, targets: [entry + up * 4, entry + up * 8] };
    if (defect === 'no-stop') delete s.stop;
    if (defect === 'nan-stop') s.stop = Number.NaN;
    if (defect === 'negative-stop') s.stop = -Math.abs(entry);
    if (defect === 'text-entry') s.entry = String(entry);
    if (defect === 'wrong-side') s.stop = entry + up * 4;
    if (defect === 'no-targets') s.targets = [];
    return s;
  });

/** A buy / sell whose quantity is never a whole number ≥ 1 (negative, zero, fractional, text, NaN, missing type). */
const brokenOrder = fc
  .record({
    action: fc.oneof(fc.constantFrom('buy', 'sell'), fc.constantFrom('BUY', 'purchase', '', 'kill-all'), fc.string({ maxLength: 6 })),
    quantity: fc.oneof(fc.integer({ min: -1000, max: 0 }), fc.constantFrom(0.5, 1.5, Number.NaN, Infinity, '1', '2', null, true), fc.constant([1])),
    type: fc.oneof(fc.constantFrom('market', 'limit', 'stop', 'stop-limit'), fc.string({ maxLength: 6 })),
    price: fc.oneof(price, fc.constant(-1), fc.string({ maxLength: 4 })),
    extra: fc.dictionary(key, scalar, { maxKeys: 3 }),
  })
  .map(({ extra, ...order }) => ({ ...extra, ...order }));

const CONTRACT_TOPICS = ['quote', 'tick', 'bar', 'bars', 'vwap', 'chain', 'gamma', 'vix', 'signal', 'order', 'order-update', 'fill', 'position', 'account'];

/** One hostile message: a contract topic with a payload of its own shape but garbage fields, or anything at all. */
export const hostileMessage: fc.Arbitrary<FuzzMsg> = fc.oneof(
  { weight: 3, arbitrary: tick.map((payload) => ({ topic: 'tick', payload })) },
  { weight: 2, arbitrary: bar.map((payload) => ({ topic: 'bar', payload })) },
  { weight: 2, arbitrary: bars.map((payload) => ({ topic: 'bars', payload })) },
  { weight: 2, arbitrary: chain.map((payload) => ({ topic: 'chain', payload })) },
  { weight: 1, arbitrary: vwap.map((payload) => ({ topic: 'vwap', payload })) },
  { weight: 1, arbitrary: gamma.map((payload) => ({ topic: 'gamma', payload })) },
  { weight: 1, arbitrary: garbage.map((payload) => ({ topic: 'vix', payload })) },
  { weight: 3, arbitrary: fc.record({ topic: fc.constantFrom('signal', 'battle-navale', ''), payload: brokenSignal }) },
  { weight: 3, arbitrary: brokenOrder.map((payload) => ({ topic: 'order', payload })) },
  { weight: 3, arbitrary: fc.record({ topic: fc.oneof(fc.constantFrom(...CONTRACT_TOPICS), garbage), payload: garbage }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { topic: fieldGarbage, payload: garbage, conid: fieldGarbage, symbol: fieldGarbage, secType: fieldGarbage, bar: fieldGarbage, period: fieldGarbage, start: fieldGarbage, end: fieldGarbage, what: fieldGarbage, expiries: fieldGarbage, window: fieldGarbage, whatIf: fieldGarbage },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: pollutedObject.map((m) => m as FuzzMsg) },
);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isWholePositive = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
const finitePositive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
const SESSION_COMMANDS = ['status', 'login', 'reauth', 'logout'];

/**
 * True when a message might be obeyed as a trading or session command: a buy/sell with a valid (or defaulted)
 * quantity, a LONG/SHORT signal whose levels are all positive numbers, a kill / resume / kill-switch, a cancel,
 * modify, flatten or cancel-all, or an ibkr-auth session command. Those are filtered out and counted, so the fuzz can
 * require that nothing reached a broker.
 */
export function couldTrade(msg: FuzzMsg): boolean {
  const topic = typeof msg.topic === 'string' ? msg.topic : '';
  if (['kill', 'resume', 'kill-switch'].includes(topic)) return true;
  const p = msg.payload;
  if (typeof p === 'string' && SESSION_COMMANDS.concat('kill', 'resume').includes(p.trim().toLowerCase())) return true;
  if (!isRecord(p)) return false;
  const action = typeof p.action === 'string' ? p.action : '';
  if (['kill', 'resume', 'cancel', 'modify', 'flatten', 'cancel-all'].includes(action)) return true;
  if ((action === 'buy' || action === 'sell') && (p.quantity === undefined || isWholePositive(p.quantity))) return true;
  if ((p.signal === 'LONG' || p.signal === 'SHORT') && finitePositive(p.entry) && finitePositive(p.stop) && Array.isArray(p.targets) && p.targets.some(finitePositive)) {
    return true;
  }
  return false;
}

/** `count` hostile messages from `seed`, the possibly-trading ones filtered out; the same seed gives the same list. */
export function hostileMessages(seed: number, count: number, arbitrary: fc.Arbitrary<FuzzMsg> = hostileMessage): { messages: FuzzMsg[]; filtered: number } {
  const messages: FuzzMsg[] = [];
  let filtered = 0;
  let round = 0;
  while (messages.length < count) {
    for (const msg of fc.sample(arbitrary, { seed: seed + round++, numRuns: count })) {
      if (!isRecord(msg)) continue;
      if (couldTrade(msg)) filtered++;
      else if (messages.length < count) messages.push(msg);
    }
  }
  return { messages, filtered };
}
