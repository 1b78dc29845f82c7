// The shipped flow's gamma branch, read from flows/mia-ia-pipeline.json (no runtime): the ES quote stream reaches
// mia-gamma-walls, so its ES levels use the live basis rather than a guess.
import assert from 'node:assert/strict';
import { nodeOfType, readPipeline } from './support/pipeline-flow';

describe('shipped flow: gamma walls', () => {
  const flow = readPipeline();
  const gamma = nodeOfType(flow, 'mia-gamma-walls');

  it('routes the ES quote stream into mia-gamma-walls (live ES − SPX basis)', () => {
    const esQuotes = flow.filter((n) => n.type === 'ibkr-quote' && /^M?ES/i.test(String(n.symbol ?? '')));
    assert.ok(esQuotes.length > 0, 'an ES ibkr-quote node');
    assert.ok(
      esQuotes.some((n) => (n.wires?.[0] ?? []).includes(gamma.id)),
      'the quotes output of an ES ibkr-quote node is wired to mia-gamma-walls',
    );
  });
});
