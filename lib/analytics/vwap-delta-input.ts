// Reads what arrives at mia-vwap-delta: a tick, an array of ticks (a batch), a bar, or bars, named by msg.topic or
// recognised by shape. Kept out of the node so it can be tested without Node-RED.
import type { Bar, Tick } from '../contracts';
import { InvalidInputError, describeValue } from '../errors';

export type VwapDeltaInput = { kind: 'ticks'; ticks: readonly Tick[] } | { kind: 'bars'; bars: readonly Bar[] };

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object';
}

function looksLikeBar(x: unknown): boolean {
  return isObject(x) && 'o' in x && 'c' in x;
}

export function readVwapDeltaInput(topic: unknown, payload: unknown): VwapDeltaInput {
  if (topic === 'bar' || (topic !== 'tick' && topic !== 'bars' && !Array.isArray(payload) && looksLikeBar(payload))) {
    if (!isObject(payload) || Array.isArray(payload)) throw new InvalidInputError('a "bar" message needs msg.payload = {t, o, h, l, c, v}');
    return { kind: 'bars', bars: [payload as unknown as Bar] };
  }
  if (topic === 'bars' || (topic !== 'tick' && Array.isArray(payload) && looksLikeBar(payload[0]))) {
    if (!Array.isArray(payload)) throw new InvalidInputError('a "bars" message needs msg.payload = an array of bars, oldest first');
    return { kind: 'bars', bars: payload as Bar[] };
  }
  if (Array.isArray(payload)) return { kind: 'ticks', ticks: payload as Tick[] };
  if (isObject(payload) && (topic === 'tick' || 'price' in payload)) return { kind: 'ticks', ticks: [payload as unknown as Tick] };
  throw new InvalidInputError(
    `mia-vwap-delta takes "tick", "bar" or "bars" messages (msg.payload a tick {t, price, size}, an array of ticks, ` +
      `a bar {t, o, h, l, c, v} or an array of bars); got topic ${describeValue(topic)} with ${describeValue(payload)} as payload`,
  );
}
