import assert from 'assert';
import path from 'path';
import { planConnection } from '../../../nodes/ibkr-config/settings';

const USER_DIR = path.join(path.sep, 'home', 'nr', '.node-red');

describe('replay: ibkr-config replay and record settings', () => {
  it('replay mode is the simulator connection serving the named recording (relative to <userDir>/mia-recordings)', () => {
    const plan = planConnection({ mode: 'replay', replayFile: 'ES-2026-03-03.jsonl.gz', replaySpeed: '600' }, {}, USER_DIR);
    assert.strictEqual(plan.mode, 'simulator');
    assert.strictEqual(plan.connection.mode, 'simulator');
    assert.deepStrictEqual(plan.replay, { file: path.join(USER_DIR, 'mia-recordings', 'ES-2026-03-03.jsonl.gz'), speed: 600 });
    assert.ok(plan.simulator);
    assert.strictEqual(plan.simulator.seed, undefined);
    assert.strictEqual(planConnection({ mode: 'replay', replayFile: '/data/x.jsonl.gz', replaySpeed: 'max' }, {}, USER_DIR).replay?.speed, 'max');
  });

  it('refuses a replay without a file, a bad speed, and recording a replay', () => {
    assert.throws(() => planConnection({ mode: 'replay' }, {}, USER_DIR), /needs the recording/);
    for (const replaySpeed of ['0', '-3', 'fast', '1e9']) {
      assert.throws(() => planConnection({ mode: 'replay', replayFile: 'a.gz', replaySpeed }, {}, USER_DIR), /replay speed/);
    }
    assert.throws(() => planConnection({ mode: 'replay', replayFile: 'a.gz', record: true }, {}, USER_DIR), /already a recording/);
  });

  it('record puts the day files under <userDir>/mia-recordings with the cap in MB, and refuses a bad cap', () => {
    const plan = planConnection({ mode: 'simulator', record: true, recordMaxMb: '50' }, {}, USER_DIR);
    assert.deepStrictEqual(plan.record, { dir: path.join(USER_DIR, 'mia-recordings'), maxBytes: 50 * 1024 * 1024 });
    assert.strictEqual(planConnection({ mode: 'simulator' }, {}, USER_DIR).record, undefined);
    assert.throws(() => planConnection({ mode: 'simulator', record: true, recordMaxMb: '0' }, {}, USER_DIR), /recording cap/);
    assert.throws(() => planConnection({ mode: 'simulator', record: true }), /user directory/);
  });
});
