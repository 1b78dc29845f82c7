// The logging policy of every node's input handler (nodes/shared/node-kit.ts): a failure is done(err) (a Catch node
// gets it; Node-RED logs it at error level when none does), an expected risk refusal is one warning and done(), and
// work cut short by a redeploy is a debug line and done().
import assert from 'assert';
import { EventEmitter } from 'events';
import type { Node, NodeStatus } from 'node-red';
import { ConnectionClosedError } from '../../lib/ibkr/errors';
import { RiskDeniedError as IbkrRiskDeniedError } from '../../lib/ibkr/order-desk';
import { InvalidInputError } from '../../lib/errors';
import { RiskDeniedError as DtcRiskDeniedError } from '../../lib/sierra/errors';
import { handleInput } from '../../nodes/shared/node-kit';

interface Outcome {
  done: (Error | undefined)[];
  logs: { level: string; text: string }[];
  statuses: NodeStatus[];
}

function fakeNode(): { node: Node; outcome: Outcome; input(): void; close(): void } {
  const emitter = new EventEmitter();
  const outcome: Outcome = { done: [], logs: [], statuses: [] };
  const node = Object.assign(emitter, {
    status: (s: NodeStatus) => outcome.statuses.push(s),
    warn: (text: unknown) => outcome.logs.push({ level: 'warn', text: String(text) }),
    debug: (text: unknown) => outcome.logs.push({ level: 'debug', text: String(text) }),
    error: (text: unknown) => outcome.logs.push({ level: 'error', text: String(text) }),
    log: (text: unknown) => outcome.logs.push({ level: 'info', text: String(text) }),
  }) as unknown as Node;
  return {
    node,
    outcome,
    input: () => emitter.emit('input', { _msgid: '1', payload: 1 }, () => undefined, (err?: Error) => outcome.done.push(err)),
    close: () => emitter.emit('close'),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('node-kit handleInput: errors, refusals and redeploys at the right level', () => {
  it('reports a failure through done(err) and a red ring, so a Catch node receives it', async () => {
    const n = fakeNode();
    handleInput(n.node, async () => {
      throw new InvalidInputError('quantity "x" is not valid');
    });
    n.input();
    await settle();
    assert.strictEqual(n.outcome.done.length, 1);
    assert.match(String(n.outcome.done[0]?.message), /quantity "x" is not valid/);
    assert.strictEqual(n.outcome.statuses.at(-1)?.fill, 'red');
    assert.deepStrictEqual(n.outcome.logs, []);
  });

  for (const [name, refusal] of [
    ['Sierra', () => new DtcRiskDeniedError('daily-loss', 'Order refused by the risk rule "daily-loss": the day lost $510. Nothing was sent.')],
    ['IBKR', () => new IbkrRiskDeniedError('max-position', 'position would be 3, limit 2')],
  ] as const) {
    it(`logs an expected ${name} risk refusal as one warning, completes the message without an error, rings yellow`, async () => {
      const n = fakeNode();
      handleInput(n.node, () => {
        throw refusal();
      });
      n.input();
      await settle();
      assert.deepStrictEqual(n.outcome.done, [undefined]);
      assert.strictEqual(n.outcome.logs.length, 1);
      assert.strictEqual(n.outcome.logs[0].level, 'warn');
      assert.match(n.outcome.logs[0].text, /risk rule "?(daily-loss|max-position)/);
      assert.strictEqual(n.outcome.statuses.at(-1)?.fill, 'yellow');
      assert.match(String(n.outcome.statuses.at(-1)?.text), /^refused: (daily-loss|max-position)/);
    });
  }

  it('keeps a risk check that could not run an error (it is a failure, not the rules at work)', async () => {
    const n = fakeNode();
    handleInput(n.node, () => {
      throw new DtcRiskDeniedError('risk-check-failed', 'The risk check failed (boom): order not sent.');
    });
    n.input();
    await settle();
    assert.ok(n.outcome.done[0] instanceof Error);
  });

  it('drops a request cut short by the redeploy at debug level, not as an error', async () => {
    const n = fakeNode();
    handleInput(n.node, async () => {
      throw new ConnectionClosedError('/iserver/secdef/info');
    });
    n.input();
    await settle();
    assert.deepStrictEqual(n.outcome.done, [undefined]);
    assert.deepStrictEqual(n.outcome.logs.map((l) => l.level), ['debug']);
  });

  it('treats any failure that lands after the node started closing as dropped by the redeploy', async () => {
    const n = fakeNode();
    let fail: (err: Error) => void = () => undefined;
    handleInput(n.node, () => new Promise<void>((_resolve, reject) => (fail = reject)));
    n.input();
    n.close();
    fail(new Error('socket hang up'));
    await settle();
    assert.deepStrictEqual(n.outcome.done, [undefined]);
    assert.deepStrictEqual(n.outcome.logs.map((l) => l.level), ['debug']);
  });
});
