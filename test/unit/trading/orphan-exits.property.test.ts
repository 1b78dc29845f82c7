// The rule for bracket exits left working after their parent ended (lib/trading/orphan-exits.ts), over random
// positions and sets of stop/target pairs: whatever the kept exits do when they fill, they never open or flip a
// position; and a pair that protects the position and fits in it is never cancelled for nothing.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { excessExits, type OrphanExit } from '../../../lib/trading/orphan-exits';

const pairArb = fc.record({
  instrument: fc.constantFrom('ESZ6', 'ESH7'),
  side: fc.constantFrom('buy' as const, 'sell' as const),
  remaining: fc.integer({ min: 1, max: 3 }),
  both: fc.boolean(), // a stop and a target, or one exit left
});

describe('orphaned bracket exits against the broker position', () => {
  it('kept pairs all close the position and fit in it; the oldest pair that does is kept', () => {
    fc.assert(
      fc.property(fc.array(pairArb, { maxLength: 8 }), fc.integer({ min: -4, max: 4 }), fc.integer({ min: -4, max: 4 }), (pairs, z6, h7) => {
        const held: Record<string, number> = { ESZ6: z6, ESH7: h7 };
        const exits: OrphanExit[] = pairs.flatMap((p, i) =>
          (p.both ? ['stop', 'target'] : ['stop']).map((leg) => ({ id: `p${i}-${leg}`, instrument: p.instrument, side: p.side, remaining: p.remaining, pair: `p${i}` })),
        );
        const excess = excessExits(exits, (i) => held[i]);
        const cancelled = new Set(excess.flatMap((p) => p.ids));
        for (const p of excess) for (const id of p.ids) assert.ok(exits.some((e) => e.id === id));
        // A pair is cancelled or kept whole.
        pairs.forEach((p, i) => assert.ok(!p.both || cancelled.has(`p${i}-stop`) === cancelled.has(`p${i}-target`)));
        for (const instrument of ['ESZ6', 'ESH7']) {
          const position = held[instrument];
          const kept = pairs.map((p, i) => ({ ...p, i })).filter((p) => p.instrument === instrument && !cancelled.has(`p${p.i}-stop`));
          // Every kept pair filling (one leg of each: OCO) leaves the position on its side or flat.
          const after = kept.reduce((q, p) => q + (p.side === 'buy' ? p.remaining : -p.remaining), position);
          assert.ok(position === 0 ? kept.length === 0 : after * position >= 0, `${instrument}: position ${position}, kept pairs would take it to ${after}`);
          // The oldest pair that closes the position and fits in it is kept.
          const first = pairs.map((p, i) => ({ ...p, i })).find((p) => p.instrument === instrument);
          if (first && position !== 0 && (first.side === 'sell') === position > 0 && first.remaining <= Math.abs(position)) {
            assert.ok(!cancelled.has(`p${first.i}-stop`), `${instrument}: the oldest protecting pair p${first.i} was cancelled`);
          }
        }
      }),
      { numRuns: Number(process.env.RISK_PROPERTY_RUNS ?? 1000), seed: Number(process.env.RISK_PROPERTY_SEED ?? 11) },
    );
  });
});
