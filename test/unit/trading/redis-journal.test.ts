// The Redis journal: instances that share their limits over Redis find one account's state there (kill switch,
// counters, working orders), the local file copy keeps the write-before-send synchronous, and the newer wins.
import { strict as assert } from 'assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { acquireEngine, resetAccountsForTest } from '../../../lib/trading/accounts';
import { FileJournal, RedisJournal } from '../../../lib/trading/journal';
import { REDIS_SERVER, redisServerAvailable, startTestRedis, type TestRedis } from '../../support/redis';
import { testTimeLeft } from '../../support/budget';

const T0 = Date.UTC(2026, 2, 10, 15);
const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 2, maxOrderSize: 2 };

describe('RedisJournal: one account state for several instances', function () {
  this.timeout(20_000);
  let redis: TestRedis | undefined;
  let dirs: string[] = [];
  before(async function () {
    if (!redisServerAvailable()) {
      console.warn(`      skipped: ${REDIS_SERVER} is missing (apt-get install redis-server to run the Redis journal tests)`);
      this.skip();
    }
    redis = await startTestRedis();
  });
  after(async () => redis?.stop());
  afterEach(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs = [];
  });

  function instanceJournal(): RedisJournal {
    const dir = mkdtempSync(path.join(tmpdir(), 'mia-redis-journal-'));
    dirs.push(dir);
    return new RedisJournal({ redis: { host: redis!.host, port: redis!.port }, broker: 'ibkr', account: 'U7', local: new FileJournal(dir, 'ibkr', 'U7') });
  }

  it('a second instance starts from the first one\'s kill switch, counters and working orders, and refuses entries until it has read them', async () => {
    const first = instanceJournal();
    const a = acquireEngine({ broker: 'ibkr', account: 'U7', holder: 'a', limits: OPEN, journal: first }).engine;
    await new Promise((r) => setImmediate(r));
    a.finishLoad(null);
    a.reconcile({ now: T0, positions: [], working: [] });
    assert.ok(a.reserve({ clientOrderId: 'r1', instrument: 'ES', side: 'buy', quantity: 2, now: T0 }).allowed);
    assert.ok(a.authorizeSend('r1').allowed);
    a.setKillSwitch('REDUCING');
    await first.flush();

    resetAccountsForTest(); // the other instance (another process): only Redis is shared
    const second = instanceJournal();
    const b = acquireEngine({ broker: 'ibkr', account: 'U7', holder: 'b', limits: OPEN, journal: second }).engine;
    b.reconcile({ now: T0, positions: [], working: [{ clientOrderId: 'r1', instrument: 'ES', side: 'buy', quantity: 2, filled: 0 }] });
    const early = b.reserve({ clientOrderId: 'r2', instrument: 'ES', side: 'buy', quantity: 1, now: T0 });
    assert.equal(early.allowed ? null : early.rule, 'not-reconciled');
    const deadline = Date.now() + testTimeLeft();
    while (b.killSwitch !== 'REDUCING' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(b.killSwitch, 'REDUCING');
    assert.ok(b.isUsedId('r1'));
    assert.equal(b.exposure('ES').buys, 2);
    await first.close();
    await second.close();
  });
});
