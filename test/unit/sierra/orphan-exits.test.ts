// Bracket exits left working at Sierra after their parent ended, while the position is NOT flat: exits on the wrong
// side of the position, or more exit quantity than the position, would open or flip a position when they fill. At the
// reconcile the broker's position wins: those exits are cancelled before the manager says ready, and reported.
import { strict as assert } from 'assert';
import { SYMBOL, restartOnBroker, startRig, until, workingAtBroker, type Rig } from './support/harness';

describe('Sierra reconcile: orphaned bracket exits beside an open position', function () {
  this.timeout(15_000);
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('long 1 with two stop/target pairs (2 to sell): the newer pair is cancelled, the older kept', async () => {
    rig = await startRig();
    const r = rig;
    const first = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5980, targets: [6020] } });
    await until(() => r.sim.positions()[0]?.quantity === 1, undefined, 'long 1');
    const second = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5979, targets: [6021] } });
    await until(() => r.sim.positions()[0]?.quantity === 2 && workingAtBroker(r).length === 4, undefined, 'long 2, two pairs');
    await r.manager.submit({ symbol: SYMBOL, side: 'sell', quantity: 1, type: 'market' }); // closed by hand: long 1
    await until(() => r.sim.positions()[0]?.quantity === 1, undefined, 'long 1 again');
    assert.equal(workingAtBroker(r).length, 4);
    const { atReady, warnings } = await restartOnBroker(r);
    assert.deepEqual(atReady.sort(), [first.stop!.clientOrderId, first.target!.clientOrderId].sort());
    assert.ok(!atReady.includes(second.stop!.clientOrderId));
    assert.ok(warnings.some((w) => w.includes(second.stop!.clientOrderId) && /long 1/.test(w)), warnings.join(' | '));
  });

  it('short 1 with the sell exits of a long bracket (wrong side): both cancelled', async () => {
    rig = await startRig();
    const r = rig;
    const entry = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5980, targets: [6020] } });
    await until(() => r.sim.positions()[0]?.quantity === 1 && workingAtBroker(r).length === 2, undefined, 'long 1 with exits');
    await r.manager.submit({ symbol: SYMBOL, side: 'sell', quantity: 2, type: 'market' });
    await until(() => r.sim.positions()[0]?.quantity === -1, undefined, 'short 1');
    const { atReady, warnings } = await restartOnBroker(r);
    assert.deepEqual(atReady, []);
    assert.ok(warnings.some((w) => w.includes(entry.stop!.clientOrderId) && /short 1/.test(w)), warnings.join(' | '));
  });
});
