// The package on the next Node-RED major: the node tests and a real start, on Node-RED 5 and Node 22, through
// test/tools/compat-node-red-5.js (cold: npm-installs node@22 and node-red@5 once, about 15 s; then cached).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';

interface Part {
  ok: boolean;
  passing?: number;
  failing?: number;
  provedV5?: boolean;
  types?: number;
  declared?: number;
  problems?: string[];
}

interface Summary {
  prepare: { ok: boolean; error?: string; nodeVersion?: string; nodeRedVersion?: string };
  nodeTests: Part | null;
  runtime: Part | null;
}

const repoRoot = path.join(__dirname, '..', '..');

describe('compat: Node-RED 5 on Node 22', function () {
  this.timeout(15 * 60_000);
  let summary: Summary;
  let output = '';

  before(async function () {
    // The script's parts may take what this hook's timeout allows (less 30 s to read its summary).
    const env = { ...process.env, COMPAT_BUDGET_MS: String(this.timeout() - 30_000) };
    const child = spawn(process.execPath, [path.join(repoRoot, 'test', 'tools', 'compat-node-red-5.js')], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    const line = output.split('\n').find((l) => l.startsWith('COMPAT-NR5 '));
    assert.ok(line, `test/tools/compat-node-red-5.js gave no summary:\n${output.slice(-4000)}`);
    summary = JSON.parse(line.slice('COMPAT-NR5 '.length)) as Summary;
    assert.ok(summary.prepare.ok, summary.prepare.error);
  });

  it('installs Node 22 and Node-RED 5 (once, from the npm registry)', () => {
    assert.match(summary.prepare.nodeVersion ?? '', /^v22\./);
    assert.match(summary.prepare.nodeRedVersion ?? '', /^5\./);
  });

  it('passes every node test against Node-RED 5', () => {
    const part = summary.nodeTests;
    assert.ok(part?.provedV5, 'the node tests did not load Node-RED 5');
    assert.equal(part.failing, 0, output.slice(-6000));
    assert.ok((part.passing ?? 0) > 0 && part.ok, output.slice(-6000));
  });

  it('starts the real node-red 5 with every declared node type loaded', () => {
    const part = summary.runtime;
    assert.deepEqual(part?.problems, []);
    assert.ok(part.ok && part.types === part.declared, output.slice(-6000));
  });
});
