#!/usr/bin/env node
'use strict';
// Runs this package against Node-RED 5 on Node 22 (Node-RED 5 refuses to start on Node 20; docs/node-red.md,
// "Versions"). The dev dependency stays Node-RED 4.1 on Node 20; this script proves the same code on the next major:
//
//   1. prepare  (once, cached in node_modules/.cache/compat-nr5/): npm-install node@22, node-red@5 and
//               node-red-node-test-helper into that folder. Re-used while package versions below are unchanged.
//   2. node tests  the node tests (test/node/**/*.test.ts) under Node 22, with require('node-red') and
//               require('node-red-node-test-helper') redirected to that install (test/compat/use-node-red-5.cjs)
//   3. runtime  the real node-red 5 binary on a temp user dir holding this package (built dist/), as `npm start`
//               does (test/tools/local-node-red.js); GET /nodes must list every type package.json declares, unfailed
//
// Prints one line per part and, last, `COMPAT-NR5 {"nodeTests":…,"runtime":…}` for test/compat/node-red-5.test.ts.
// Exit code 0 only if both parts passed. Options: --only=node-tests|runtime, --reinstall.

const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const { spawn, spawnSync } = require('child_process');
const { setTimeout, clearTimeout } = require('timers');
const { repoRoot, buildIfStale, prepareUserDir } = require('./local-node-red');
const { onFreeLoopbackPort, portWasTaken } = require('../support/free-port');

const SPECS = { node: 'node@22', 'node-red': 'node-red@5', 'node-red-node-test-helper': 'node-red-node-test-helper@^0.3.6' };
const cacheDir = process.env.COMPAT_NR5_CACHE || path.join(repoRoot, 'node_modules', '.cache', 'compat-nr5');
const marker = path.join(cacheDir, 'installed.json');
const args = process.argv.slice(2);
const only = (args.find((a) => a.startsWith('--only=')) || '').slice('--only='.length) || null;

function fail(message) {
  console.error(`compat-nr5: ${message}`);
  process.exitCode = 1;
}

/** Installs the three packages unless the cache already holds them for the same specs. Returns the Node 22 binary. */
function prepare() {
  if (!args.includes('--reinstall') && fs.existsSync(marker)) {
    const cached = JSON.parse(fs.readFileSync(marker, 'utf8'));
    if (JSON.stringify(cached.specs) === JSON.stringify(SPECS) && fs.existsSync(cached.nodeBinary)) return { ...cached, cached: true };
  }
  fs.rmSync(cacheDir, { recursive: true, force: true });
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(path.join(cacheDir, 'package.json'), `${JSON.stringify({ name: 'compat-nr5', private: true }, null, 2)}\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const install = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--omit=dev', '--loglevel=error', ...Object.values(SPECS)], {
    cwd: cacheDir,
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  if (install.status !== 0) {
    const output = `${install.stdout || ''}${install.stderr || ''}`.trim();
    const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(output);
    throw new Error(
      offline
        ? `could not reach the npm registry to install ${Object.values(SPECS).join(', ')} (needed once, then cached in ${cacheDir}). ` +
            `Check the network or the npm registry setting, then run again.\n${output}`
        : `npm install of ${Object.values(SPECS).join(', ')} failed in ${cacheDir}:\n${output}`,
    );
  }
  const nodeBinary = path.join(cacheDir, 'node_modules', '.bin', 'node');
  const version = spawnSync(nodeBinary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (!/^v22\./.test(version)) throw new Error(`the node@22 package gave ${version || 'no binary'} at ${nodeBinary}, not Node 22`);
  const nodeRedVersion = require(path.join(cacheDir, 'node_modules', 'node-red', 'package.json')).version;
  const installed = { specs: SPECS, nodeBinary, nodeVersion: version, nodeRedVersion, cached: false };
  fs.writeFileSync(marker, `${JSON.stringify(installed, null, 2)}\n`);
  return installed;
}

/**
 * The whole run's deadline: COMPAT_BUDGET_MS (test/compat/node-red-5.test.ts passes what its mocha timeout allows)
 * from the start, else 14 minutes. The node tests may take what is left of it, less RUNTIME_RESERVE_MS for part 3:
 * on a busy machine they take longer than on a quiet one, and a fixed cap shorter than the budget failed them.
 */
const runStarted = Date.now();
const runDeadline = runStarted + (Number(process.env.COMPAT_BUDGET_MS) || 14 * 60_000);
const RUNTIME_RESERVE_MS = 2 * 60_000;

/**
 * Part 2: the node tests under Node 22 against Node-RED 5, in the same shards as `npm test`'s node suite
 * (test/support/shards.js), side by side: they wait on the simulators' clocks and rate limits, not on the CPU.
 */
async function runNodeTests(env) {
  const mocha = require.resolve('mocha/bin/mocha.js', { paths: [repoRoot] });
  const hook = path.join(repoRoot, 'test', 'compat', 'use-node-red-5.cjs');
  const { SHARDS } = require(path.join(repoRoot, 'test', 'support', 'shards.js'));
  const timeoutMs = Math.max(60_000, runDeadline - RUNTIME_RESERVE_MS - Date.now());
  const shard = (globs) =>
    new Promise((resolve) => {
      const child = spawn(env.nodeBinary, [mocha, '--require', hook, ...globs], {
        cwd: repoRoot,
        env: { ...process.env, COMPAT_NODE_RED_DIR: path.join(cacheDir, 'node_modules') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c) => (output += c));
      child.stderr.on('data', (c) => (output += c));
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (status) => {
        clearTimeout(killer);
        const passing = Number((/(\d+) passing/.exec(output) || [])[1] || 0);
        const failing = Number((/(\d+) failing/.exec(output) || [])[1] || 0);
        const pending = Number((/(\d+) pending/.exec(output) || [])[1] || 0);
        // Every shard must have loaded Node-RED 5 (the line test/compat/use-node-red-5.cjs prints).
        const provedV5 = output.includes(`[compat] node-red ${env.nodeRedVersion}`);
        resolve({ ok: status === 0 && passing > 0 && provedV5, passing, failing, pending, provedV5, output });
      });
    });
  const parts = await Promise.all(SHARDS.node.map(shard));
  const sum = (k) => parts.reduce((n, p) => n + p[k], 0);
  const ok = parts.every((p) => p.ok);
  const output = parts.filter((p) => !p.ok).map((p) => p.output.slice(-6000)).join('\n');
  return { ok, passing: sum('passing'), failing: sum('failing'), pending: sum('pending'), provedV5: parts.every((p) => p.provedV5), shards: parts.length, output };
}

function getJson(port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { Accept: 'application/json' }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${urlPath}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Part 3: the real node-red 5 binary with this package; every declared type listed and loaded. */
async function runRuntime(env) {
  buildIfStale({ quiet: true });
  try {
    return await onFreeLoopbackPort((port) => runRuntimeOn(env, port));
  } catch (err) {
    return { ok: false, problems: [err.message.slice(0, 300)], output: err.message.slice(-6000) };
  }
}

/** Part 3 on one port; throws when node-red lost the port to another process (runRuntime then takes another). */
async function runRuntimeOn(env, port) {
  const pkg = require(path.join(repoRoot, 'package.json'));
  const declared = Object.keys(pkg['node-red'].nodes);
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compat-nr5-userdir-'));
  prepareUserDir({ userDir });
  const redJs = path.join(cacheDir, 'node_modules', 'node-red', 'red.js');
  const child = spawn(env.nodeBinary, [redJs, '--userDir', userDir], {
    cwd: userDir,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const deadline = Date.now() + 90_000;
    let sets;
    while (!sets) {
      if (child.exitCode !== null) throw new Error(`node-red ${env.nodeRedVersion} exited (${child.exitCode}) before serving /nodes`);
      if (Date.now() > deadline) throw new Error(`node-red ${env.nodeRedVersion} did not serve /nodes within 90 s`);
      if (/Server now running/.test(output)) sets = await getJson(port, '/nodes').catch(() => undefined);
      if (!sets) await new Promise((r) => setTimeout(r, 250));
    }
    const version = /Node-RED version: v?(\S+)/.exec(output);
    const ours = sets.filter((s) => s.module === pkg.name);
    const problems = [];
    for (const type of declared) {
      const set = ours.find((s) => (s.types || []).includes(type));
      if (!set) problems.push(`${type}: not listed by GET /nodes`);
      else if (set.err) problems.push(`${type}: ${set.err}`);
      else if (set.enabled === false || set.loaded === false) problems.push(`${type}: not enabled/loaded`);
    }
    for (const set of ours) if (set.err && !problems.some((p) => p.includes(String(set.err)))) problems.push(`${set.name}: ${set.err}`);
    return {
      ok: problems.length === 0 && Boolean(version) && version[1] === env.nodeRedVersion,
      nodeRed: version ? version[1] : 'unknown',
      types: declared.length - problems.length,
      declared: declared.length,
      problems,
      output: problems.length ? output.slice(-6000) : '',
    };
  } catch (err) {
    if (portWasTaken(output)) throw new Error(`node-red ${env.nodeRedVersion} could not listen on port ${port}:\n${output.slice(-6000)}`, { cause: err });
    return { ok: false, problems: [err.message], output: output.slice(-6000) };
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

async function main() {
  const started = Date.now();
  const summary = { nodeTests: null, runtime: null };
  let env;
  try {
    env = prepare();
  } catch (err) {
    fail(err.message);
    console.log(`COMPAT-NR5 ${JSON.stringify({ ...summary, prepare: { ok: false, error: err.message } })}`);
    return;
  }
  const prepared = Date.now();
  console.log(
    `prepare: Node ${env.nodeVersion}, node-red ${env.nodeRedVersion} (${env.cached ? 'cached' : `installed in ${((prepared - started) / 1000).toFixed(1)} s`}) in ${cacheDir}`,
  );
  if (!only || only === 'node-tests') {
    const t = Date.now();
    summary.nodeTests = await runNodeTests(env);
    summary.nodeTests.seconds = Math.round((Date.now() - t) / 100) / 10;
    const n = summary.nodeTests;
    console.log(`node tests on Node-RED ${env.nodeRedVersion}: ${n.ok ? 'passed' : 'FAILED'} (${n.passing} passing, ${n.failing} failing, ${n.pending} pending, ${n.seconds} s)`);
    if (!n.ok) fail(`node tests failed against node-red ${env.nodeRedVersion}${n.provedV5 ? '' : ' (node-red 5 was not the one loaded)'}:\n${n.output}`);
  }
  if (!only || only === 'runtime') {
    const t = Date.now();
    summary.runtime = await runRuntime(env);
    summary.runtime.seconds = Math.round((Date.now() - t) / 100) / 10;
    const r = summary.runtime;
    console.log(`node-red ${env.nodeRedVersion} start: ${r.ok ? 'passed' : 'FAILED'} (${r.types ?? 0}/${r.declared ?? '?'} types loaded, ${r.seconds} s)`);
    if (!r.ok) fail(`node-red ${env.nodeRedVersion} did not load every node:\n  ${r.problems.join('\n  ')}\n${r.output}`);
  }
  const strip = (part) => part && { ...part, output: undefined };
  console.log(
    `COMPAT-NR5 ${JSON.stringify({
      prepare: { ok: true, cached: env.cached, nodeVersion: env.nodeVersion, nodeRedVersion: env.nodeRedVersion, seconds: (prepared - started) / 1000 },
      nodeTests: strip(summary.nodeTests),
      runtime: strip(summary.runtime),
      seconds: (Date.now() - started) / 1000,
    })}`,
  );
}

main().catch((err) => {
  fail(err.stack || String(err));
});
