// The departure gate on its own, in virtual time: a grant that reaches the gate late (a slow Redis, a blocked loop)
// is renewed as the request leaves, so the request counts from its send, not from its grant.
import assert from 'node:assert/strict';
import { DepartureGate, GRANT_FRESH_MS } from '../../../lib/ibkr/departure-gate';
import { LocalDepartures, departureRule, type DepartureStore } from '../../../lib/ibkr/departures';
import { ARRIVAL_BOUND_MS, CLOCK_MARGIN_MS } from '../../../lib/ibkr/limits';
import { sleep } from '../../../lib/ibkr/scheduler';
import { VirtualClock } from './limiter-rig';

describe('IBKR departure gate (virtual time)', () => {
  it('renews a grant that reached the gate late: an unanswered request counts from its send plus the arrival bound', async () => {
    const clock = new VirtualClock();
    const local = new LocalDepartures(() => clock.now);
    const replyMs = 200; // far more than GRANT_FRESH_MS
    assert.ok(replyMs > GRANT_FRESH_MS);
    const grants: number[] = [];
    const slow: DepartureStore = {
      tryDepart: async (rules) => {
        const verdict = local.tryDepart(rules);
        if (verdict.ok) grants.push(clock.now);
        await sleep(clock, replyMs);
        return verdict;
      },
      answered: (ticket) => local.answered(ticket),
      renew: (ticket) => local.renew(ticket),
      pause: (ms) => local.pause(ms),
    };
    const gate = new DepartureGate(slow, clock, () => clock.now);
    const rule = departureRule('global', { max: 1, perMs: 1_000 }, true);
    const first = gate.pass([rule], 0); // granted at 0, leaves at 200, never answered
    await clock.advance(replyMs);
    await first;
    void gate.pass([rule], 0);
    await clock.advance(ARRIVAL_BOUND_MS + 3_000);
    assert.equal(grants.length, 2);
    const counted = replyMs + ARRIVAL_BOUND_MS + 1_000 + CLOCK_MARGIN_MS; // from the send, not from the grant (0)
    assert.ok(grants[1]! >= counted && grants[1]! < counted + 30, `second grant at ${grants[1]} ms, expected from ${counted} ms`);
    gate.close(new Error('end'));
  });
});
