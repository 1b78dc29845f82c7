#!/usr/bin/env node
'use strict';
// `npm test`: lint, type-check and every test suite, several at a time, then the plain closing line CI reads
// ("N passed, N failed"). Most suites spend their time waiting on sockets, child processes and a browser rather than
// on the CPU, so running a few side by side shortens the run even on two cores. Each suite is its own mocha process
// (one Node-RED test helper per process); its output is printed whole when it ends, so suites never interleave.
//
//   npm test                       everything (MIA_TEST_JOBS=N sets how many run at once; default 2)
//   npm test -- unit node          only the named suites (lint and typecheck are suites too)
//
// Before anything runs, the system programs the suites need are checked (Chromium for the browser tests,
// redis-server for the clustered limiter): installed from Debian's packages when missing and this user may
// (root with apt-get), otherwise one line says what to install and the run fails. Nothing is skipped silently.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const repo = path.resolve(__dirname, '..', '..');
// The packages' own command files (eslint's package exports do not list its bin, so they are found by path).
const bin = (pkg, file) => path.join(path.dirname(require.resolve(`${pkg}/package.json`, { paths: [repo] })), file);
const mochaBin = bin('mocha', 'bin/mocha.js');
const eslintBin = bin('eslint', 'bin/eslint.js');
const tscBin = bin('typescript', 'bin/tsc');

const mocha = (...globs) => [mochaBin, ...globs];
/**
 * Longest first (2-core reference machine, 6 Dec 2026, 2 at a time: compat 257 s, node 214, crash 190, e2e 173,
 * unit 132, soak 110, fuzz ~100, flow 78, faults 59, lint 18, typecheck 8; security about 6 minutes, most of it
 * waiting on IBKR's one-live-orders-read-per-5-s rule, which the simulator enforces): with a pool, the slowest suites
 * start at once and the short ones fill the end. The kill -9 crash test is its own suite: it waits on 50 Node-RED
 * restarts, so it runs beside the others rather than after the rest of e2e.
 */
const SUITES = [
  { name: 'security', args: mocha('test/security/**/*.test.ts') },
  { name: 'compat', args: mocha('test/compat/**/*.test.ts'), build: true },
  { name: 'crash', args: mocha('test/e2e/crash.test.ts'), build: true },
  { name: 'node', args: mocha('test/node/**/*.test.ts') },
  { name: 'e2e', args: mocha('test/e2e/**/*.test.ts', '--ignore', 'test/e2e/crash.test.ts'), build: true },
  { name: 'unit', args: mocha('test/unit/**/*.test.ts') },
  { name: 'soak', args: mocha('test/soak/**/*.test.ts') },
  { name: 'fuzz', args: mocha('test/fuzz/**/*.test.ts') },
  { name: 'flow', args: mocha('test/flow/**/*.test.ts') },
  { name: 'faults', args: mocha('test/faults/**/*.test.ts') },
  { name: 'typecheck', args: [tscBin, '-p', 'tsconfig.json', '--noEmit'], check: true },
  { name: 'lint', args: [eslintBin, '.'], check: true },
];

const SUMMARY = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$/m;

function which(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).stdout.trim();
}

/** Chromium and redis-server: present, installed now, or a one-line instruction and exit 1. */
function ensureSystemPrograms() {
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  const missing = [];
  if (!fs.existsSync(chromium)) missing.push('chromium');
  if (!fs.existsSync(process.env.REDIS_SERVER || '/usr/bin/redis-server') && !which('redis-server')) missing.push('redis-server');
  if (missing.length === 0) return;
  const canInstall = typeof process.getuid === 'function' && process.getuid() === 0 && which('apt-get') !== '' && process.env.MIA_NO_INSTALL !== '1';
  if (!canInstall) {
    console.error(`npm test needs ${missing.join(' and ')}: install ${missing.length > 1 ? 'them' : 'it'} with "sudo apt-get install ${missing.join(' ')}" (Debian/Ubuntu), then run npm test again.`);
    process.exit(1);
  }
  console.log(`npm test: installing ${missing.join(', ')} from Debian's packages`);
  const install = spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`], { stdio: 'inherit' });
  if (install.status !== 0) {
    console.error(`npm test: apt-get could not install ${missing.join(' ')}; install ${missing.length > 1 ? 'them' : 'it'} by hand and run npm test again.`);
    process.exit(1);
  }
}

/**
 * dist/, built once for the suites that run the built package (the real node-red binary, Node-RED 5): before they
 * start, so that neither pays the build inside a mocha hook's timeout and the two never build into dist/ at once.
 */
let building;
function buildOnce() {
  building ??= new Promise((resolve) => {
    const started = Date.now();
    const script = "require('./test/tools/local-node-red').buildIfStale({ quiet: true })";
    const child = spawn(process.execPath, ['-e', script], { cwd: repo, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('close', (code) => resolve({ ok: code === 0, output, seconds: (Date.now() - started) / 1000 }));
  });
  return building;
}

async function run(suite) {
  if (suite.build) {
    const build = await buildOnce();
    if (!build.ok) return { suite, code: 1, signal: null, output: `the build (test/tools/build.js) failed:\n${build.output}\n0 passed, 1 failed\n`, seconds: build.seconds };
  }
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, suite.args, { cwd: repo, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('close', (code, signal) => resolve({ suite, code: code ?? 1, signal, output, seconds: (Date.now() - started) / 1000 }));
  });
}

function tally(result) {
  const { suite, code, output } = result;
  if (suite.check) return { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 };
  const m = SUMMARY.exec(output.split('\n').filter((l) => SUMMARY.test(l)).pop() || '');
  // A suite that ended without its summary (a crash, a hang killed by a signal) counts as one failure.
  if (!m) return { passed: 0, failed: 1, skipped: 0 };
  const counts = { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] || 0) };
  if (code !== 0 && counts.failed === 0) counts.failed = 1;
  return counts;
}

async function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !SUITES.some((s) => s.name === w));
  if (unknown.length) {
    console.error(`npm test: unknown suite ${unknown.join(', ')}; the suites are ${SUITES.map((s) => s.name).join(', ')}.`);
    process.exit(2);
  }
  const suites = wanted.length ? SUITES.filter((s) => wanted.includes(s.name)) : SUITES;
  if (suites.some((s) => s.name === 'e2e' || s.name === 'unit' || s.name === 'node')) ensureSystemPrograms();
  // Two at a time: on the 2-core reference machine a third suite beside the crash test's Node-RED restarts and the
  // browser made real-time tests late (stream heartbeats, editor loads); two keeps them on time.
  const jobs = Math.max(1, Number(process.env.MIA_TEST_JOBS) || 2);
  const started = Date.now();
  const queue = [...suites];
  const results = [];
  async function worker() {
    for (let suite = queue.shift(); suite; suite = queue.shift()) {
      const result = await run(suite);
      const counts = tally(result);
      results.push({ ...result, counts });
      const verdict = counts.failed ? 'FAILED' : 'ok';
      process.stdout.write(`\n===== ${suite.name}: ${verdict} in ${result.seconds.toFixed(0)} s =====\n${result.output}\n`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, suites.length) }, worker));
  const total = results.reduce((t, r) => ({ passed: t.passed + r.counts.passed, failed: t.failed + r.counts.failed, skipped: t.skipped + r.counts.skipped }), { passed: 0, failed: 0, skipped: 0 });
  console.log(`\nsuites (${jobs} at a time, ${((Date.now() - started) / 1000).toFixed(0)} s in all):`);
  for (const r of results) console.log(`  ${r.suite.name.padEnd(14)} ${String(r.seconds.toFixed(0)).padStart(4)} s  ${r.counts.failed ? 'FAILED' : 'ok'}  (${r.counts.passed} passed, ${r.counts.failed} failed)`);
  console.log(`\n${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
  process.exitCode = total.failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
