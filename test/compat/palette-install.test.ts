// A palette install into a plain Node-RED, with no extra step: the packed tarball installed by npm into a fresh user
// dir (offline, from npm's cache: see support/palette-install.ts), the node-red devDependency's binary started on it,
// the example imported as the editor does (GET /library/examples/flows/<module>/<name>) and deployed (POST /flows);
// the flow's own Debug nodes, read through the editor's /comms socket, must show a Battle Navale signal and a fill.
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { freshDir, installOffline, packTarball, startPlainNodeRed, type DebugMessage, type PlainNodeRed } from './support/palette-install';

const EXAMPLE = 'mia-ia-pipeline';
/** Simulators at 40× real time: the first fill comes about 60 s after the deploy on a quiet machine. */
const FILL_TIMEOUT_MS = 180_000;

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined, log: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s; Node-RED log:\n${log().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('compat: palette install of the packed tarball into a plain Node-RED', function () {
  this.timeout(FILL_TIMEOUT_MS + 240_000);
  let workDir: string;
  let userDir: string;
  let nodeRed: PlainNodeRed | undefined;
  let debug: { messages: DebugMessage[]; close(): void } | undefined;
  let manifest: ReturnType<typeof installOffline>['manifest'];

  before(function () {
    this.timeout(300_000);
    workDir = freshDir('mia-palette-');
    userDir = path.join(workDir, 'userdir');
    fs.mkdirSync(userDir);
    const tarball = packTarball(workDir);
    ({ manifest } = installOffline(tarball, userDir));
  });

  after(async () => {
    debug?.close();
    await nodeRed?.stop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('ships what a palette install needs and nothing that needs unshipped files', () => {
    const installed = path.join(userDir, 'node_modules', ...manifest.name.split('/'));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else files.push(path.relative(installed, path.join(dir, e.name)));
      }
    };
    walk(installed);
    assert.ok(files.includes(`examples/${EXAMPLE}.json`), 'the example flow is not shipped under examples/');
    const maps = files.filter((f) => f.endsWith('.map'));
    assert.deepStrictEqual(maps, [], 'source maps shipped without their sources');
    const pkg = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string>; repository?: unknown; bugs?: unknown };
    // npm runs these on an install of a tarball or registry package; they must not need test/tools/ (not shipped).
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      assert.strictEqual(pkg.scripts?.[hook], undefined, `the published package runs "${hook}" on install`);
    }
    assert.ok(pkg.repository && pkg.bugs, 'no repository or bugs URL');
    assert.ok(fs.existsSync(path.join(userDir, 'node_modules', '@flowfuse', 'node-red-dashboard', 'package.json')), 'Dashboard 2.0 was not installed along');
  });

  it('starts with every node type of the package and of Dashboard 2.0 loaded', async function () {
    this.timeout(90_000);
    nodeRed = await startPlainNodeRed(userDir);
    const sets = await nodeRed.getJson<{ module: string; types: string[]; enabled: boolean; err?: string }[]>('/nodes');
    const types = (module: string) => sets.filter((s) => s.module === module && s.enabled && !s.err).flatMap((s) => s.types);
    assert.strictEqual(types(manifest.name).length, Object.keys(manifest['node-red'].nodes).length, `package sets: ${JSON.stringify(sets.filter((s) => s.module === manifest.name))}`);
    for (const t of ['ui-base', 'ui-chart', 'ui-table', 'ui-text', 'ui-gauge', 'ui-button']) {
      assert.ok(types('@flowfuse/node-red-dashboard').includes(t), `${t} is not loaded`);
    }
  });

  it('imports the example from Import › Examples, deploys it with no missing type, and shows a signal and a fill', async function () {
    const running = nodeRed;
    if (!running) this.skip();
    const flow = await running.getJson<{ type: string }[]>(`/library/examples/flows/${manifest.name}/${EXAMPLE}`);
    assert.ok(Array.isArray(flow) && flow.length > 20, 'the examples endpoint did not return the flow');
    const known = new Set((await running.getJson<{ types: string[] }[]>('/nodes')).flatMap((s) => s.types));
    const core = new Set(['tab', 'group', 'inject', 'debug', 'change', 'switch', 'status', 'comment', 'catch', 'function', 'link in', 'link out', 'link call', 'junction']);
    const unknown = [...new Set(flow.map((n) => n.type))].filter((t) => !known.has(t) && !core.has(t));
    assert.deepStrictEqual(unknown, [], 'the editor would say "Imported unrecognised types"');

    debug = await running.debugMessages();
    const logStart = running.output().length;
    await running.postFlows(flow);
    const messages = debug.messages;
    await waitFor('Battle Navale signal in the Debug sidebar', FILL_TIMEOUT_MS, () => messages.find((m) => m.name === 'signals'), running.output);
    const fill = await waitFor('fill in the Debug sidebar', FILL_TIMEOUT_MS, () => messages.find((m) => m.topic === 'fill'), running.output);
    assert.match(fill.msg, /"price":\d+(\.\d+)?/);
    const log = running.output().slice(logStart);
    assert.doesNotMatch(log, /missing (node )?types|Flows stopped/i);
    assert.doesNotMatch(log, /\[error\]/, 'an [error] line in the Node-RED log after the deploy');
  });
});
