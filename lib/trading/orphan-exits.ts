// Bracket exits still working after their parent ended, judged against the broker's position (the broker wins): the
// exits that would open or flip a position when they fill. Kept: OCO pairs on the side that closes the position, oldest
// first, as long as their quantities fit in it. Excess: every pair while flat, a pair on the side that adds to the
// position, and a pair beyond what is left of the position's size.
import type { Side } from '../contracts';

export interface OrphanExit {
  id: string;
  instrument: string;
  side: Side;
  /** Quantity still to fill. */
  remaining: number;
  /** The parent (its client or server order id): the exits of one parent are one OCO pair. */
  pair: string;
}

export interface ExcessPair {
  ids: string[];
  instrument: string;
  side: Side;
  remaining: number;
  /** The broker's signed position of the contract. */
  position: number;
  reason: 'flat' | 'wrong-side' | 'beyond-position';
}

/** `exits` oldest first; `position(instrument)` is the broker's signed position. */
export function excessExits(exits: readonly OrphanExit[], position: (instrument: string) => number): ExcessPair[] {
  const pairs = new Map<string, Map<string, OrphanExit[]>>();
  for (const e of exits) {
    const byInstrument = pairs.get(e.instrument) ?? new Map<string, OrphanExit[]>();
    pairs.set(e.instrument, byInstrument);
    byInstrument.set(e.pair, [...(byInstrument.get(e.pair) ?? []), e]);
  }
  const excess: ExcessPair[] = [];
  for (const [instrument, byInstrument] of pairs) {
    const held = position(instrument);
    const closing: Side = held > 0 ? 'sell' : 'buy';
    let room = Math.abs(held);
    for (const pair of byInstrument.values()) {
      const remaining = Math.max(...pair.map((e) => Math.max(0, e.remaining)));
      const wrongSide = pair.some((e) => e.side !== closing);
      if (held !== 0 && !wrongSide && remaining <= room) {
        room -= remaining;
        continue;
      }
      excess.push({ ids: pair.map((e) => e.id), instrument, side: pair[0].side, remaining, position: held, reason: held === 0 ? 'flat' : wrongSide ? 'wrong-side' : 'beyond-position' });
    }
  }
  return excess;
}
