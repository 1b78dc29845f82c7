// ibkr-order on a connection that shares its limits over Redis keeps the account's risk journal there too (issue 11:
// "in Redis when the connection shares its limits over Redis, so several instances share one budget"): a kill set on
// one instance is in Redis for every other instance that opens the account's engine.
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import Redis from 'ioredis';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import orderModule = require('../../nodes/ibkr-order/ibkr-order');
import { useTestRedis } from '../support/redis';

helper.init(require.resolve('node-red'));

type TestNode = Node & { receive(msg: object): void };

describe('ibkr-order keeps the risk journal in the Redis its connection shares limits over', function () {
  this.timeout(30_000);
  const redis = useTestRedis('the Redis journal test');
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('writes the kill switch of the account to Redis, where another instance reads it', async () => {
    const flow = [
      { id: 'tab', type: 'tab', label: 'orders' },
      { id: 'cfg', type: 'ibkr-config', z: 'tab', mode: 'simulator', simSeed: 7, simTls: false, trading: true, accountId: 'DU1234567', clusterEnabled: true, redisHost: redis.host, redisPort: String(redis.port) },
      { id: 'order', type: 'ibkr-order', z: 'tab', connection: 'cfg', quantity: 1, tradingHoursEnabled: false, cooldownMin: 0, staleAfterSec: 0, wires: [[]] },
    ];
    await helper.load([configModule, orderModule], flow);
    await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection();
    (helper.getNode('order') as TestNode).receive({ topic: 'kill-switch', payload: 'HALTED' });
    const admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    try {
      await admin.connect();
      const deadline = Date.now() + 20_000;
      let state: { ledger?: { killSwitch?: string } } | null = null;
      while (Date.now() < deadline) {
        const keys = await admin.keys('mia-trading:ibkr-*');
        const text = keys.length === 1 ? await admin.get(keys[0] as string) : null;
        state = text ? (JSON.parse(text) as { ledger?: { killSwitch?: string } }) : null;
        if (state?.ledger?.killSwitch === 'HALTED') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(state?.ledger?.killSwitch, 'HALTED', `the account's journal in Redis: ${JSON.stringify(state)}`);
    } finally {
      admin.disconnect();
    }
  });
});
