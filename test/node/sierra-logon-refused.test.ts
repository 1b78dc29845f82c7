import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { NodeStatus } from 'node-red';
import { createMarket } from '../../lib/sim/market';
import { startDtcSimulator, type DtcSimulator } from '../../lib/sim/dtc';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; on(event: string, fn: (msg: { error?: { message: string } }) => void): void };

// A wrong Sierra Chart password must be visible where the trader looks: the order node's status, the log, and the
// error of every order refused because of it (not "disconnected: retrying" and "not connected").
describe('sierra-order with a refused Sierra Chart logon', function () {
  const market = createMarket({ seed: 5, speed: 0.001 });
  let external: DtcSimulator | undefined;

  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await external?.close();
    external = undefined;
  });

  for (const refusal of ['error-no-reconnect', 'error'] as const) {
    it(`shows the refusal in the status, the log and the order's error (${refusal === 'error' ? 'Result ERROR, retried' : 'Result ERROR_NO_RECONNECT'})`, async () => {
      external = await startDtcSimulator({ market, requireAuthentication: { username: 'trader', password: 's3cret' }, credentialRefusal: refusal });
      const flow = [
        { id: 'tab', type: 'tab', label: 'test' },
        { id: 'cfg', type: 'sierra-config', mode: 'sierra', host: '127.0.0.1', port: external.port, tradingEnabled: true, heartbeatSec: 1 },
        { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [[], [], [], []] },
        { id: 'catcher', type: 'catch', z: 'tab', scope: ['order'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'tab' },
      ];
      await helper.load([configModule, orderModule, catchNode], flow, { cfg: { username: 'trader', password: 'wrong-pass' } });
      const order = helper.getNode('order') as TestNode;
      const statuses: NodeStatus[] = [];
      const original = order.status.bind(order);
      order.status = (s: NodeStatus) => {
        statuses.push(s);
        return original(s);
      };
      const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
      // Refused with ERROR the client retries: wait for three refusals, so the log is seen across retries.
      const refusalsToSee = refusal === 'error' ? 3 : 1;
      let refusals = 0;
      await new Promise<void>((resolve) => {
        const check = (): void => {
          const s = connection.status();
          if (!s.logonRefused || (s.state !== 'disconnected' && s.state !== 'error')) return;
          if (++refusals < refusalsToSee) return;
          connection.off('status', check);
          resolve();
        };
        connection.on('status', check);
        check();
      });
      assert.match(String(statuses.at(-1)?.text), /logon refused/);
      assert.equal(statuses.at(-1)?.fill, 'red');

      const logged = helper.log().args.map((a: unknown[]) => a[0] as { level: number; msg: unknown });
      const errors = logged.filter((e) => e.level === 20 && /refused the logon/.test(String(e.msg)));
      assert.equal(errors.length, 1, 'one error line in the log, not one per retry');
      assert.doesNotMatch(JSON.stringify(logged.map((e) => String(e.msg))), /wrong-pass|s3cret/);

      const caught = new Promise<{ error?: { message: string } }>((resolve) => (helper.getNode('caught') as TestNode).on('input', resolve));
      order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
      const msg = await caught;
      assert.match(String(msg.error?.message), /refused the logon/);
      assert.equal(external.sessionCount(), 0, 'no session was ever logged on');
    });
  }
});
