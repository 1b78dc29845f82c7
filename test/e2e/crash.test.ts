// Crash test on the real node-red binary (issue 11): a simulated trading session on Sierra Chart's DTC protocol,
// Node-RED killed with SIGKILL (`kill -9`) at 50 seeded random instants while orders are in flight, restarted on the
// same user dir each time. The broker (the DTC simulator) lives in its own process and keeps its record across every
// kill; what is asserted is what the trader would see from outside:
//   - the broker's record: every order request it received (with its ClientOrderID), its orders, fills, position;
//   - the sierra-order node's outputs and status (through debug nodes that print to Node-RED's log);
//   - the journal file, read by one small helper (readJournal) when it exists.
// Real time is the point here (a real process is killed); nothing asserts how fast anything was.
import assert from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import path from 'path';
import readline from 'readline';
import { rng } from '../../lib/sim/prng';
import { frontMonthSymbol } from '../../lib/sierra/symbols';
import { startNodeRed, type FlowNode, type RunningNodeRed } from './support/node-red';
import { buildOnce } from './support/package-under-test';
import type { ReceivedRequest } from './support/dtc-broker';

/** 50 (issue 11); CRASH_ITERATIONS=n runs fewer while debugging the test itself. */
const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? 50);
const SEED = 20261206;
const MARKET_SEED = 7;
/** A fixed weekday 10:00 New York for the simulated market (its prices only; the risk rules run on the wall clock). */
const MARKET_START = Date.UTC(2026, 2, 10, 14, 0);
const KILL_AFTER_MS: readonly [number, number] = [300, 3000];
/** Gap between two order messages while the session runs. */
const ORDER_GAP_MS: readonly [number, number] = [60, 250];
/** The iterations where `kill` is sent just before the kill -9 (and `resume` once its survival is checked). */
const KILL_SWITCH_EVERY = 7;
const MAX_POSITION = 2;
const MAX_TRADES = 20;
/** How long a restarted Node-RED may take to reconnect and reconcile before it counts as a failure. */
const READY_TIMEOUT_MS = 60_000;
/** The whole session's budget (mocha's timeout for the before hook); a restart may take what is left of it. */
const SESSION_BUDGET_MS = 40 * 60_000;
/**
 * Node-RED's own node files the crash flow does not use (it uses inject, debug, json and status): not loading them
 * takes about a quarter off each of the 51 starts' CPU time. Node-RED and this package start as `npm start` runs them.
 */
const UNUSED_CORE_NODES = ['10-function.js', '80-template.js', '90-exec.js', '05-tls.js', '06-httpproxy.js', '10-mqtt.js', '21-httpin.js', '21-httprequest.js', '22-websocket.js', '31-tcpin.js', '32-udp.js', '70-CSV.js', '70-HTML.js', '70-XML.js', '70-YAML.js'];
/**
 * After ready, the reconcile's cancels and the last fills are still arriving: the broker and the journal are read
 * every POLL_MS until they agree and no bracket child of a flat position is working, for at most this long; what is
 * still wrong then is a finding. The outcome is asserted, not how fast it came.
 */
const GRACE_MS = 5000;
/** Bound on waiting for sierra-order's answer to an order it must refuse (its "refused: <rule>" status). */
const REFUSAL_GRACE_MS = 5000;
const POLL_MS = 100;

const repo = path.resolve(__dirname, '..', '..');
const SYMBOL = frontMonthSymbol('ES', Date.now(), 'sierra-cme');
const ACCOUNT = 'Sim1';

// ---- the broker's record (test/e2e/support/dtc-broker.ts) --------------------------------------------------------

interface BrokerOrder {
  serverOrderId: string;
  clientOrderId: string;
  side: number; // 1 buy, 2 sell
  quantity: number;
  filledQuantity: number;
  status: number;
  parentServerOrderId: string;
  ocoLinkedServerOrderId: string;
}
interface BrokerFill {
  executionId: string;
  clientOrderId: string;
  side: number;
  quantity: number;
  t: number;
}
interface BrokerState {
  connections: number;
  sessions: number;
  received: ReceivedRequest[];
  orders: BrokerOrder[];
  positions: { symbol: string; quantity: number }[];
  fills: BrokerFill[];
}

// lib/sierra/protocol.ts OrderStatus: ORDER_SENT, PENDING_OPEN, PENDING_CHILD, OPEN, PENDING_CANCEL_REPLACE,
// PENDING_CANCEL, PARTIALLY_FILLED (the DTC numbers, as the broker reports them).
const WORKING = new Set([1, 2, 3, 4, 5, 6, 10]);
const FILLED = 7;

interface Broker {
  state(): Promise<BrokerState>;
  dtcPort: number;
  stop(): Promise<void>;
}

async function startBroker(): Promise<Broker> {
  const script = path.join(__dirname, 'support', 'dtc-broker.ts');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, SYMBOL, String(MARKET_SEED), String(MARKET_START)], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const first = await new Promise<string>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`dtc-broker exited (${code}) before listening: ${stderr}`)));
  });
  const { dtcPort, httpPort } = JSON.parse(first) as { dtcPort: number; httpPort: number };
  return {
    dtcPort,
    async state() {
      const res = await fetch(`http://127.0.0.1:${httpPort}/state`);
      return (await res.json()) as BrokerState;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(killer);
    },
  };
}

/** Fills in execution order → the largest |position| ever held and how many trades opened (flat → not flat). */
function replayFills(fills: readonly BrokerFill[]): { maxAbsPosition: number; tradesOpened: number; position: number } {
  let position = 0;
  let maxAbsPosition = 0;
  let tradesOpened = 0;
  for (const f of fills) {
    const before = position;
    position += f.side === 1 ? f.quantity : -f.quantity;
    if (before === 0 && position !== 0) tradesOpened++;
    else if (Math.sign(before) !== Math.sign(position) && position !== 0) tradesOpened++; // reversed through flat
    maxAbsPosition = Math.max(maxAbsPosition, Math.abs(position));
  }
  return { maxAbsPosition, tradesOpened, position };
}

/** Bracket children still working while the position is flat and their parent has filled. */
function orphanedChildren(b: BrokerState): { child: string; parent: string }[] {
  if (b.positions.reduce((sum, p) => sum + p.quantity, 0) !== 0) return [];
  const byServerId = new Map(b.orders.map((o) => [o.serverOrderId, o]));
  return b.orders
    .filter((o) => WORKING.has(o.status) && o.parentServerOrderId)
    .map((o) => ({ o, parent: byServerId.get(o.parentServerOrderId) }))
    .filter(({ parent }) => parent?.status === FILLED)
    .map(({ o, parent }) => ({ child: o.clientOrderId, parent: parent!.clientOrderId }));
}

// ---- the journal: the one place that knows its file ---------------------------------------------------------------

interface JournalView {
  killSwitch: string;
  tradesToday: number;
  /** Signed position summed over the account's contracts. */
  position: number;
  /** Client order ids of orders the journal counts as sent or working. */
  openIds: string[];
  usedIds: string[];
}

/**
 * The risk engine's journal of the account (lib/trading/journal.ts: one file per account in `<userDir>/mia-trading/`,
 * named `sierra-<account key>.json`, a log of JSON snapshots), or null when there is none (a build without the
 * journal). This user dir trades one account, so the one `sierra-*.json` there is it. Only this function knows the
 * file and its shape.
 */
function readJournal(userDir: string): JournalView | null {
  const dir = path.join(userDir, 'mia-trading');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => /^sierra-.*\.json$/.test(name)) : [];
  if (files.length === 0) return null;
  assert.strictEqual(files.length, 1, `one account, one journal: ${files.join(', ')}`);
  const file = path.join(dir, files[0]);
  // A write-ahead log: one snapshot per line, the last complete line is the state (a cut last line is an append
  // that never returned); a file without a newline is a single snapshot.
  const text = fs.readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n');
  const record = end < 0 ? text : text.slice(text.lastIndexOf('\n', end - 1) + 1, end);
  const s = JSON.parse(record) as {
    ledger: { killSwitch: string; tradesToday: number; books: Record<string, { position: number }> };
    usedIds: Record<string, number>;
    intents: { clientOrderId: string; phase: string }[];
  };
  return {
    killSwitch: s.ledger.killSwitch,
    tradesToday: s.ledger.tradesToday,
    position: Object.values(s.ledger.books).reduce((sum, b) => sum + b.position, 0),
    openIds: s.intents.filter((i) => i.phase !== 'reserved').map((i) => i.clientOrderId),
    usedIds: Object.keys(s.usedIds),
  };
}

/** How the journal disagrees with the broker's record after a reconcile (none when they agree). */
function journalProblems(j: JournalView, b: BrokerState, killSwitch: boolean): string[] {
  const problems: string[] = [];
  const position = b.positions.reduce((sum, p) => sum + p.quantity, 0);
  if (j.position !== position) problems.push(`journal position ${j.position}, broker ${position}`);
  const working = new Set(b.orders.filter((x) => WORKING.has(x.status)).map((x) => x.clientOrderId));
  const stale = j.openIds.filter((id) => !working.has(id));
  const missing = [...working].filter((id) => !j.openIds.includes(id));
  if (stale.length || missing.length) problems.push(`journal open orders differ from the broker's working orders (journal only: ${stale.join(', ') || 'none'}; broker only: ${missing.join(', ') || 'none'})`);
  const received = new Set(b.received.flatMap((r) => r.clientOrderIds));
  const unknownIds = [...received].filter((id) => !j.usedIds.includes(id));
  if (unknownIds.length) problems.push(`${unknownIds.length} ClientOrderID(s) the broker received are not in the journal's ids in use (${unknownIds.slice(0, 3).join(', ')})`);
  const opened = replayFills(b.fills).tradesOpened;
  if (j.tradesToday < Math.min(opened, MAX_TRADES)) problems.push(`journal trades today ${j.tradesToday}, the broker saw ${opened} opened`);
  if (killSwitch && j.killSwitch !== 'HALTED') problems.push(`journal kill switch ${j.killSwitch} after a kill`);
  return problems;
}

// ---- the flow --------------------------------------------------------------------------------------------------

const ORDER_NODE = 'crash-order';
const order = (payload: object): string => JSON.stringify(payload);
/** What the test sends, each through an inject node it triggers over the admin API (POST /inject/:id). */
const MESSAGES: Record<string, { topic: string; payload: string }> = {
  buy: { topic: 'order', payload: order({ action: 'buy', quantity: 1, type: 'market', bracket: { stop: 5000, targets: [6800] } }) },
  sell: { topic: 'order', payload: order({ action: 'sell', quantity: 1, type: 'market', bracket: { stop: 6800, targets: [5000] } }) },
  // Far from the market: stays working (with its bracket children pending) until cancelled.
  bid: { topic: 'order', payload: order({ action: 'buy', quantity: 1, type: 'limit', price: 5300, bracket: { stop: 5200, targets: [5400] } }) },
  flatten: { topic: 'order', payload: order({ action: 'flatten' }) },
  'cancel-all': { topic: 'order', payload: order({ action: 'cancel-all' }) },
  kill: { topic: 'kill', payload: '""' },
  resume: { topic: 'resume', payload: '""' },
};
/** The session's mix: entries most of the time, so orders are in flight when the kill comes. */
const MIX: readonly [string, number][] = [
  ['buy', 0.3],
  ['sell', 0.2],
  ['bid', 0.15],
  ['flatten', 0.25],
  ['cancel-all', 0.1],
];

function crashFlow(dtcPort: number): FlowNode[] {
  const z = 'crash-tab';
  const injects: FlowNode[] = Object.entries(MESSAGES).map(([name, m], i) => ({
    id: `crash-inject-${name}`,
    type: 'inject',
    z,
    name,
    props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }],
    repeat: '',
    crontab: '',
    once: false,
    topic: m.topic,
    payload: m.payload,
    payloadType: 'json',
    x: 120,
    y: 40 + 40 * i,
    wires: [[ORDER_NODE]],
  }));
  const toLog = (id: string, property: string): FlowNode => ({
    id,
    type: 'debug',
    z,
    active: true,
    tosidebar: false,
    console: true,
    tostatus: false,
    complete: property,
    targetType: 'msg',
    x: 700,
    y: 40,
    wires: [],
  });
  return [
    { id: z, type: 'tab', label: 'crash test' },
    {
      id: 'crash-config',
      type: 'sierra-config',
      name: 'crash',
      mode: 'sierra',
      host: '127.0.0.1',
      port: dtcPort,
      transport: 'tcp',
      handshake: true,
      tradeAccount: ACCOUNT,
      symbol: SYMBOL,
      root: 'ES',
      symbolFormat: 'sierra-cme',
      heartbeatSec: 5,
      tradingEnabled: true,
      killSwitch: 'ACTIVE',
      tickSize: '',
      pointValue: '',
      maxOrderSize: 2,
      maxPosition: MAX_POSITION,
      collarTicks: 0,
      maxOrdersPerMinute: 0,
      dailyLossLimit: 1_000_000,
      maxTradesPerDay: MAX_TRADES,
      maxConsecutiveLosses: 1000,
      tradingHoursEnabled: false,
      tradingStart: '09:35',
      tradingEnd: '15:45',
      cooldownMin: 0,
      simSeed: 1,
      simSpeed: 1,
    },
    ...injects,
    {
      id: ORDER_NODE,
      type: 'sierra-order',
      z,
      name: 'crash order',
      connection: 'crash-config',
      quantity: 1,
      entry: 'market',
      target: '1',
      staleAfterSec: 0,
      metricsEverySec: 0,
      x: 400,
      y: 100,
      wires: [['crash-updates-json'], [], [], []],
    },
    { id: 'crash-updates-json', type: 'json', z, property: 'payload', action: 'str', pretty: false, x: 600, y: 60, wires: [['crash-updates']] },
    toLog('crash-updates', 'payload'),
    { id: 'crash-status-node', type: 'status', z, scope: [ORDER_NODE], x: 400, y: 200, wires: [['crash-status']] },
    toLog('crash-status', 'status.text'),
  ];
}

// ---- what Node-RED shows ---------------------------------------------------------------------------------------

/** The sierra-order status texts printed since the process started, oldest first. */
function statusTexts(log: string): string[] {
  return [...log.matchAll(/\[debug:crash-status\] (.*)$/gm)].map((m) => m[1].trim());
}
/** The order updates sierra-order sent on its first output since the process started. */
function orderUpdates(log: string): { clientOrderId: string; status: string }[] {
  return [...log.matchAll(/\[debug:crash-updates\] (\{.*\})$/gm)].map((m) => JSON.parse(m[1]) as { clientOrderId: string; status: string });
}
const NOT_READY = /^(connecting|reconciling|disconnected|logon refused|closed|connection failed)/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` every POLL_MS until it holds or `limitMs` has passed; says which. */
async function waitFor(done: () => Promise<boolean> | boolean, limitMs: number): Promise<boolean> {
  for (const until = Date.now() + limitMs; ; await sleep(POLL_MS)) {
    if (await done()) return true;
    if (Date.now() >= until) return false;
  }
}

/**
 * Sends `name` (an entry the risk rules must refuse) and waits until sierra-order shows its refusal or an entry
 * reaches the broker (the failure the caller looks for), at most REFUSAL_GRACE_MS.
 */
async function injectRefused(nodeRed: RunningNodeRed, broker: Broker, name: string, sent: number): Promise<void> {
  const shown = statusTexts(nodeRed.outputSinceStart()).length;
  await inject(nodeRed, name);
  await waitFor(async () => {
    if (statusTexts(nodeRed.outputSinceStart()).slice(shown).some((t) => /^refused: /.test(t))) return true;
    return (await broker.state()).received.slice(sent).some((r) => r.type === 'single' && r.side === 1);
  }, REFUSAL_GRACE_MS);
}

async function waitReady(nodeRed: RunningNodeRed): Promise<string | null> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const texts = statusTexts(nodeRed.outputSinceStart());
    const last = texts[texts.length - 1];
    if (last !== undefined && !NOT_READY.test(last)) return last;
    await sleep(100);
  }
  return null;
}

async function inject(nodeRed: RunningNodeRed, name: string): Promise<void> {
  const res = await fetch(`${nodeRed.url}/inject/crash-inject-${name}`, { method: 'POST' });
  if (!res.ok) throw new Error(`POST /inject/crash-inject-${name} answered ${res.status}`);
}

// ---- the session -----------------------------------------------------------------------------------------------

interface Findings {
  notReady: string[];
  duplicates: string[];
  overMaxPosition: string[];
  orphans: string[];
  tradesOverLimit: string[];
  entryAfterLimit: string[];
  killSwitchLost: string[];
  journal: string[];
  journalSeen: number;
  killSwitchIterations: number;
  limitReachedAt: number | null;
  iterations: number;
  requests: number;
  tradesOpened: number;
  durationMs: number;
}

describe('e2e crash: kill -9 of the real node-red at 50 random instants of a trading session', function () {
  this.timeout(SESSION_BUDGET_MS);
  let broker: Broker | undefined;
  let nodeRed: RunningNodeRed | undefined;
  const f: Findings = {
    notReady: [],
    duplicates: [],
    overMaxPosition: [],
    orphans: [],
    tradesOverLimit: [],
    entryAfterLimit: [],
    killSwitchLost: [],
    journal: [],
    journalSeen: 0,
    killSwitchIterations: 0,
    limitReachedAt: null,
    iterations: 0,
    requests: 0,
    tradesOpened: 0,
    durationMs: 0,
  };
  const logTail = (): string => (nodeRed ? nodeRed.output().slice(-4000) : '');

  before(async function () {
    buildOnce();
    const started = Date.now();
    broker = await startBroker();
    nodeRed = await startNodeRed(crashFlow(broker.dtcPort), { nodesExcludes: UNUSED_CORE_NODES, startupTimeoutMs: READY_TIMEOUT_MS });
    if ((await waitReady(nodeRed)) === null) throw new Error(`sierra-order never became ready:\n${logTail()}`);
    const random = rng(SEED);
    const between = ([lo, hi]: readonly [number, number]): number => lo + random.next() * (hi - lo);
    const pick = (): string => {
      let u = random.next();
      for (const [name, p] of MIX) if ((u -= p) < 0) return name;
      return MIX[0][0];
    };

    for (let i = 1; i <= ITERATIONS; i++) {
      f.iterations = i;
      const killSwitch = i % KILL_SWITCH_EVERY === 0;
      // 1. The session runs: order messages at random gaps, the kill -9 at a random instant.
      const killAt = Date.now() + between(KILL_AFTER_MS);
      const sends: Promise<void>[] = [];
      while (Date.now() < killAt) {
        sends.push(inject(nodeRed, pick()).catch(() => undefined)); // a message may die with the process
        await sleep(Math.min(between(ORDER_GAP_MS), Math.max(0, killAt - Date.now())));
      }
      if (killSwitch) {
        f.killSwitchIterations++;
        // The kill switch is set (and journaled, in the same turn) once sierra-order shows HALTED: only then is it
        // "set just before kill -9". The inject's HTTP answer comes before the message reaches sierra-order, and on a
        // busy machine a fixed pause did not always cover that hop (the kill -9 then came before the kill).
        const running = nodeRed;
        const shown = statusTexts(running.outputSinceStart()).length;
        await inject(running, 'kill');
        await waitFor(() => statusTexts(running.outputSinceStart()).slice(shown).some((t) => /^HALTED/.test(t)), REFUSAL_GRACE_MS);
        await sleep(between([0, 300])); // the kill switch's cancels and flatten are in flight
      }
      const before = await broker.state();
      const limitReached = replayFills(before.fills).tradesOpened >= MAX_TRADES;
      await nodeRed.killHard();
      await Promise.all(sends);

      // 2. Restart on the same user dir; wait until sierra-order is connected and reconciled.
      // A start slowed by a busy machine may take what is left of the session's budget (less a minute for the checks).
      try {
        await nodeRed.restart(Math.max(READY_TIMEOUT_MS, started + SESSION_BUDGET_MS - 60_000 - Date.now()));
      } catch (err) {
        f.notReady.push(`#${i}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
        break;
      }
      const status = await waitReady(nodeRed);
      if (status === null) {
        f.notReady.push(`#${i}: not ready within ${READY_TIMEOUT_MS / 1000} s (last status: ${statusTexts(nodeRed.outputSinceStart()).pop() ?? 'none'})`);
        continue;
      }

      // 3. The kill switch set before the kill is still HALTED, and refuses an entry.
      if (killSwitch) {
        if (!/^HALTED/.test(statusTexts(nodeRed.outputSinceStart()).pop() ?? '')) {
          f.killSwitchLost.push(`#${i}: status after the restart "${statusTexts(nodeRed.outputSinceStart()).pop() ?? ''}", not HALTED`);
        }
        const sent = (await broker.state()).received.length;
        await injectRefused(nodeRed, broker, 'buy', sent);
        const entries = (await broker.state()).received.slice(sent).filter((r) => r.type === 'single' && r.side === 1);
        if (entries.length > 0) f.killSwitchLost.push(`#${i}: a buy reached the broker after the restart while HALTED (${entries[0].clientOrderIds[0]})`);
      }
      // 4. trades-today reached before the kill still counts: a new entry does not reach the broker.
      if (limitReached) {
        f.limitReachedAt ??= i;
        const sent = (await broker.state()).received.length;
        await inject(nodeRed, 'flatten');
        await waitFor(async () => (await broker!.state()).positions.every((p) => p.quantity === 0), GRACE_MS);
        const flatAt = (await broker.state()).fills.length;
        await injectRefused(nodeRed, broker, 'buy', sent);
        const after = await broker.state();
        const opened = after.fills.slice(flatAt).length;
        const entries = after.received.slice(sent).filter((r) => r.type === 'single' && r.side === 1);
        if (entries.length > 0 && !killSwitch) {
          f.entryAfterLimit.push(`#${i}: ${MAX_TRADES} trades were reached before the kill, yet a buy reached the broker after the restart (${entries[0].clientOrderIds[0]}, ${opened} fill(s))`);
        }
      }

      // 5. The broker's record, once it and the journal agree and no bracket child of a flat position is working, or
      // GRACE_MS have passed (then what is still wrong is reported below).
      let b = await broker.state();
      await waitFor(async () => {
        b = await broker!.state();
        const j = readJournal(nodeRed!.userDir);
        return orphanedChildren(b).length === 0 && (j === null || journalProblems(j, b, killSwitch).length === 0);
      }, GRACE_MS);
      const seen = new Map<string, number>();
      for (const r of b.received) for (const id of r.clientOrderIds) seen.set(id, (seen.get(id) ?? 0) + 1);
      for (const [id, n] of seen) {
        if (n > 1 && !f.duplicates.some((d) => d.includes(id))) f.duplicates.push(`#${i}: ClientOrderID ${id} submitted ${n} times`);
      }
      const replay = replayFills(b.fills);
      if (replay.maxAbsPosition > MAX_POSITION && f.overMaxPosition.length === 0) {
        f.overMaxPosition.push(`#${i}: the broker held ${replay.maxAbsPosition} contracts (max position ${MAX_POSITION})`);
      }
      if (replay.tradesOpened > MAX_TRADES && f.tradesOverLimit.length === 0) {
        f.tradesOverLimit.push(`#${i}: ${replay.tradesOpened} trades opened at the broker (max trades per day ${MAX_TRADES})`);
      }
      f.requests = b.received.length;
      f.tradesOpened = replay.tradesOpened;

      // 6. No orphan: every working order is one the restarted process reported; no bracket child outlives a flat
      // position once its parent has filled.
      const reported = new Set(orderUpdates(nodeRed.outputSinceStart()).map((u) => u.clientOrderId));
      for (const o of b.orders.filter((x) => WORKING.has(x.status))) {
        if (!reported.has(o.clientOrderId)) f.orphans.push(`#${i}: working order ${o.clientOrderId} (${o.serverOrderId}) was never reported by the restarted process`);
      }
      for (const { child, parent } of orphanedChildren(b)) {
        f.orphans.push(`#${i}: bracket child ${child} still working ${GRACE_MS / 1000} s after the reconcile while the position is flat (parent ${parent} filled)`);
      }

      // 7. The journal, if there is one, agrees with the broker after the reconcile.
      const j = readJournal(nodeRed.userDir);
      if (j) {
        f.journalSeen++;
        f.journal.push(...journalProblems(j, b, killSwitch).map((p) => `#${i}: ${p}`));
      }

      if (killSwitch) await inject(nodeRed, 'resume');
    }
    f.durationMs = Date.now() - started;
  });

  after(async function () {
    this.timeout(60_000);
    // The figures, for the README (notes/crash.md).
    console.log(
      `      crash session: ${f.iterations} kill -9, ${f.killSwitchIterations} with the kill switch, ${f.requests} order requests at the broker, ` +
        `${f.tradesOpened} trades opened, limit reached at #${f.limitReachedAt ?? '-'}, journal read ${f.journalSeen}×, ${(f.durationMs / 1000).toFixed(0)} s`,
    );
    if (process.env.CRASH_LOG && nodeRed) fs.writeFileSync(process.env.CRASH_LOG, nodeRed.output()); // every run's log, to read
    await nodeRed?.stop();
    await broker?.stop();
  });

  const none = (list: string[], what: string) => assert.deepStrictEqual(list, [], `${what}:\n${list.slice(0, 30).join('\n')}`);

  it('comes back connected and reconciled after every kill -9', () => none(f.notReady, 'restarts that never became ready'));
  it('never submits one ClientOrderID twice', () => none(f.duplicates, 'duplicate ClientOrderIDs at the broker'));
  it('never holds more than max position at the broker', () => none(f.overMaxPosition, 'position above the limit'));
  it('leaves no orphaned order: every working order is known after the restart, no bracket child outlives a flat position', () =>
    none(f.orphans, 'orphaned orders'));
  it('keeps max trades per day across restarts (counted at the broker)', () => none(f.tradesOverLimit, 'trades over the daily maximum'));
  it('accepts no new entry after a restart once max trades per day was reached before the kill', function () {
    if (f.limitReachedAt === null) this.skip(); // the session never reached the limit: nothing to check
    none(f.entryAfterLimit, 'entries after the limit');
  });
  it('keeps a kill switch set HALTED just before kill -9 HALTED after the restart', () => none(f.killSwitchLost, 'kill switch lost'));
  it('has a journal that agrees with the broker after each reconcile (when the build keeps one)', function () {
    if (f.journalSeen === 0) this.skip(); // no journal in this build: the outside checks above carry the test
    none(f.journal, 'journal and broker disagree');
  });
});
