// Waiting for what a node sends, in the Node-RED runtime of node-red-node-test-helper: one place for the message
// and status waiters that the node tests share. Every wait is bounded, names what it waited for when it gives up,
// and leaves no listener or timer behind once it is settled.
import helper from 'node-red-node-test-helper';
import type { NodeStatus } from 'node-red';
import type { IbkrSimulator } from '../../../lib/sim/ibkr';
import type { IbkrConfigNode } from '../../../nodes/shared/ibkr-connection-registry';
import { testTimeLeft } from '../../support/budget';

/** What most helper nodes receive; a test with a sharper message type names it as the type argument. */
export interface TestMessage {
  topic?: string;
  payload: unknown;
  error?: { message: string };
}

/** A helper node as it is at run time: an EventEmitter of the messages wired into it. */
export interface MessageSource<M> {
  readonly id?: string;
  on(event: 'input', listener: (msg: M) => void): unknown;
  removeListener(event: 'input', listener: (msg: M) => void): unknown;
}

/** A helper node, or its id in the loaded flow. */
export type MessageNode<M> = string | MessageSource<M>;

/** Which message to wait for: a topic, or a predicate. */
export type MessageMatch<M> = string | ((msg: M) => boolean);

/** How long a wait lasts unless the test says otherwise: what is left of the running test's timeout, less 1 s. */
const waitBudget = (): number => testTimeLeft();
/** Outside a running test (no budget known). */
export const DEFAULT_WAIT_MS = 5000;

export const anyMessage = (): boolean => true;

/**
 * For a wait on slow real work (a chain paced by the real IBKR limiter, a first Node-RED start): the time left before
 * the running test's own mocha timeout, less `marginMs` so that the wait's message (what it waited for) is the one
 * reported. A fixed shorter guess fails on a busy machine while the test's own budget still has room. Call `start`
 * from a beforeEach once the setup is done; `left()` is then the budget for a wait.
 */
export function testBudget(marginMs = 1000): { start(ctx: Mocha.Context): void; left(): number } {
  let deadline = 0;
  return {
    start: (ctx) => {
      deadline = Date.now() + (ctx.currentTest?.timeout() ?? DEFAULT_WAIT_MS) - marginMs;
    },
    left: () => Math.max(1, deadline - Date.now()),
  };
}

function sourceOf<M>(node: MessageNode<M>): { source: MessageSource<M>; name: string } {
  if (typeof node !== 'string') return { source: node, name: node.id ?? 'the helper node' };
  return { source: helper.getNode(node) as unknown as MessageSource<M>, name: node };
}

function predicateOf<M extends { topic?: string }>(match: MessageMatch<M>): { test: (msg: M) => boolean; what: string } {
  if (typeof match === 'string') return { test: (msg) => msg.topic === match, what: `a "${match}" message` };
  return { test: match, what: match === anyMessage ? 'a message' : 'a matching message' };
}

function topics<M extends { topic?: string }>(seen: readonly M[]): string {
  return seen.length === 0 ? 'none arrived' : `${seen.length} others arrived (topics ${JSON.stringify(seen.map((m) => m.topic ?? null))})`;
}

/** Resolves with the first message from now on that `match`es, or rejects after `timeoutMs` saying what it waited for. */
export function nextMessage<M extends { topic?: string } = TestMessage>(node: MessageNode<M>, match: MessageMatch<M> = anyMessage, timeoutMs = waitBudget()): Promise<M> {
  const { source, name } = sourceOf(node);
  const { test, what } = predicateOf(match);
  const others: M[] = [];
  return new Promise((resolve, reject) => {
    const listener = (msg: M): void => {
      if (!test(msg)) {
        others.push(msg);
        return;
      }
      clearTimeout(timer);
      source.removeListener('input', listener);
      resolve(msg);
    };
    const timer = setTimeout(() => {
      source.removeListener('input', listener);
      reject(new Error(`waited ${timeoutMs} ms for ${what} on ${name}; ${topics(others)}`));
    }, timeoutMs);
    source.on('input', listener);
  });
}

/** Resolves with the next `count` messages from now on, or rejects after `timeoutMs` saying how many came. */
export function collectMessages<M extends { topic?: string } = TestMessage>(node: MessageNode<M>, count: number, timeoutMs = waitBudget()): Promise<M[]> {
  const { source, name } = sourceOf(node);
  const got: M[] = [];
  return new Promise((resolve, reject) => {
    const listener = (msg: M): void => {
      got.push(msg);
      if (got.length < count) return;
      clearTimeout(timer);
      source.removeListener('input', listener);
      resolve(got);
    };
    const timer = setTimeout(() => {
      source.removeListener('input', listener);
      reject(new Error(`waited ${timeoutMs} ms for ${count} messages on ${name}; ${got.length} arrived`));
    }, timeoutMs);
    source.on('input', listener);
  });
}

/** Every message a helper node received since `recordMessages`, and waits on them. */
export interface MessageRecord<M> {
  readonly all: readonly M[];
  /** The first message that matches, from now on: one received before the call does not count. */
  next(match: MessageMatch<M>, timeoutMs?: number): Promise<M>;
  /** The first message that matches since recording began: already received, or the next one to come. */
  first(match: MessageMatch<M>, timeoutMs?: number): Promise<M>;
  /** The first `count` messages since recording began: at once if they came, else when the last of them comes. */
  firstMessages(count: number, timeoutMs?: number): Promise<M[]>;
}

/**
 * Records every message of `node` for the life of the flow (helper.unload drops the node and its listener); its
 * waits last `timeoutMs` unless a call says otherwise.
 */
export function recordMessages<M extends { topic?: string; payload?: unknown } = TestMessage>(node: MessageNode<M>, { timeoutMs: defaultMs }: { timeoutMs?: number } = {}): MessageRecord<M> {
  const { source, name } = sourceOf(node);
  const all: M[] = [];
  const waiters = new Set<{ test: (msg: M) => boolean; settle: (msg: M) => void }>();
  source.on('input', (msg: M) => {
    all.push(msg);
    for (const waiter of [...waiters]) if (waiter.test(msg)) waiter.settle(msg);
  });
  const next = (match: MessageMatch<M>, timeoutMs = defaultMs ?? waitBudget()): Promise<M> => {
    const { test, what } = predicateOf(match);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        settle: (msg: M): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(msg);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`waited ${timeoutMs} ms for ${what} on ${name}; got ${JSON.stringify(all.map((m) => [m.topic ?? null, m.payload]))}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  const first = (match: MessageMatch<M>, timeoutMs = defaultMs ?? waitBudget()): Promise<M> => {
    const already = all.find(predicateOf(match).test);
    return already ? Promise.resolve(already) : next(match, timeoutMs);
  };
  const firstMessages = (count: number, timeoutMs = defaultMs ?? waitBudget()): Promise<M[]> => {
    if (all.length >= count) return Promise.resolve(all.slice(0, count));
    return new Promise((resolve, reject) => {
      const waiter = {
        test: () => all.length >= count,
        settle: (): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(all.slice(0, count));
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`waited ${timeoutMs} ms for ${count} messages on ${name}; ${all.length} arrived`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  return { all, next, first, firstMessages };
}

/** Records every status object `node` shows from now on, in order (the last one is what the editor shows). */
export function recordStatuses(node: string | ReturnType<typeof helper.getNode>): NodeStatus[] {
  const target = typeof node === 'string' ? helper.getNode(node) : node;
  const seen: NodeStatus[] = [];
  const original = target.status.bind(target);
  target.status = (status: string | NodeStatus) => {
    if (typeof status === 'object') seen.push(status);
    original(status);
  };
  return seen;
}

/**
 * Loads a flow whose ibkr-config (id `cfg`) runs in simulator mode, waits until its connection is up, and returns
 * the simulator it started.
 */
export async function loadWithIbkrConfig(nodes: Parameters<typeof helper.load>[0], flow: object[]): Promise<IbkrSimulator> {
  await helper.load(nodes, flow as Parameters<typeof helper.load>[1]);
  const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
  await cfg.connection();
  const sim = cfg.simulator();
  if (!sim) throw new Error('the flow\'s ibkr-config "cfg" started no simulator: set mode "simulator"');
  return sim;
}

/** A node as the runtime gives it: what it logs at warn level. */
interface Warner {
  warn(text: unknown): void;
}

/**
 * Resolves with the text of the next warning `node` logs (node.warn) from now on, or rejects after `timeoutMs`.
 * Expected refusals (a risk rule said no) are one warning, not an error a Catch node receives (nodes/shared/node-kit.ts).
 */
export function nextWarning(node: Warner, timeoutMs = waitBudget()): Promise<string> {
  const original = node.warn;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      node.warn = original;
      reject(new Error(`no warning within ${timeoutMs} ms`));
    }, timeoutMs);
    node.warn = (text: unknown): void => {
      clearTimeout(timer);
      node.warn = original;
      original.call(node, text);
      resolve(String(text));
    };
  });
}
