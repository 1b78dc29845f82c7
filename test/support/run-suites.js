#!/usr/bin/env node
'use strict';
// `npm test`: lint, type-check and every test suite, several at a time, then the plain closing line CI reads
// ("N passed, N failed"). Most suites spend their time waiting on sockets, child processes and a browser rather than
// on the CPU, so running a few side by side shortens the run even on two cores. Each suite is its own mocha process
// (one Node-RED test helper per process); its output is printed whole when it ends, so suites never interleave.
//
//   npm test                       everything (MIA_TEST_JOBS=N: CPU-bound suites at once, default 2;
//                                  MIA_TEST_WAIT_JOBS=N: wait-bound suites and shards at once beside them, default 6)
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
const { SHARDS } = require('./shards');
/**
 * Two kinds of suite. CPU-bound ones (`cpu`) share a pool of MIA_TEST_JOBS processes (default 2, one per core of the
 * reference machine). Wait-bound ones (`wait`) spend most of their time waiting on IBKR's one-live-orders-read-per-5-s
 * rule, real-time simulators, sockets and child processes: they run in their own lanes beside the CPU pool
 * (MIA_TEST_WAIT_JOBS, default 6), the longest split into shards (test/support/shards.js). Longest first in each.
 *
 * Measured on the 2-core reference machine, 6 Dec 2026, before the split (`/usr/bin/time` of
 * `node test/support/run-suites.js <suite>`, two at a time, load average 1–8 from other work):
 * wall s / CPU s (user+sys, child processes included)
 *   wait: security 309 / 18, compat 254 / 31, node 243 / 14, unit 145 / 31, soak 98 / 21, flow 77 / 12, faults 55 / 6
 *   cpu:  e2e 224 / 85, crash 154 / 64, fuzz 81 / 65, lint 19 / 13, typecheck 12 / 14
 * 381 CPU seconds in all: about 190 s on two cores is the floor; the wait-bound suites cost little of it.
 * Two suites at a time, as before, took 774 s quiet. This way (same day, 10:13 UTC, load average 3–9 from other work
 * on the machine, green): 293 s in all for 408 CPU seconds; crash 229 s, security 182 (its longest shard,
 * ibkr-order-state), compat 163, unit 141, e2e 118 + 48 (statistics), fuzz 117, soak 108, node 106 (longest shard),
 * flow 94, faults 60, typecheck 16, lint 15.
 */
const SUITES = [
  { name: 'crash', kind: 'cpu', args: mocha('test/e2e/crash.test.ts'), build: true },
  { name: 'e2e', kind: 'cpu', args: mocha(...SHARDS.e2e[0]), build: true },
  { name: 'fuzz', kind: 'cpu', args: mocha('test/fuzz/**/*.test.ts') },
  { name: 'lint', kind: 'cpu', args: [eslintBin, '.'], check: true },
  { name: 'typecheck', kind: 'cpu', args: [tscBin, '-p', 'tsconfig.json', '--noEmit'], check: true },
  // Last: the strategy-statistics replay (CPU-bound, 46 CPU s in 54 s alone) waits at most 150 s for the replayed
  // day; by then the wait-bound lanes have ended and it has about a core to itself. At load 10 beside them it failed.
  { name: 'e2e', kind: 'cpu', args: mocha(...SHARDS.e2e[1]), build: true },
  { name: 'flow', kind: 'cpu', args: mocha(...SHARDS.flow.replayOfLive) },
  // build: admin-and-secrets runs the real node-red binary on dist/ (a Node-RED started while the build rewrote dist/
  // answered 404 for every admin route of the package: seen in a test:busy run on a stale dist/).
  { name: 'security', kind: 'wait', shards: SHARDS.security.map((globs) => mocha(...globs)), build: true },
  { name: 'compat', kind: 'wait', args: mocha('test/compat/**/*.test.ts'), build: true },
  { name: 'node', kind: 'wait', shards: SHARDS.node.map((globs) => mocha(...globs)) },
  { name: 'unit', kind: 'wait', args: mocha('test/unit/**/*.test.ts') },
  { name: 'soak', kind: 'wait', args: mocha('test/soak/**/*.test.ts') },
  { name: 'flow', kind: 'wait', args: mocha(...SHARDS.flow.rest) },
  { name: 'faults', kind: 'wait', args: mocha('test/faults/**/*.test.ts') },
];

/** The mocha (or tsc, eslint) processes of `suites`, in order: a suite, or each of its shards ("node 2/3"). */
function jobsOf(suites) {
  const jobs = suites.flatMap((suite) => (suite.shards ?? [suite.args]).map((args) => ({ suite, args })));
  const count = (name) => jobs.filter((j) => j.suite.name === name).length;
  const seen = {};
  for (const job of jobs) {
    const { name } = job.suite;
    seen[name] = (seen[name] ?? 0) + 1;
    job.label = count(name) > 1 ? `${name} ${seen[name]}/${count(name)}` : name;
  }
  return jobs;
}

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

async function run(job) {
  const { suite } = job;
  if (suite.build) {
    const build = await buildOnce();
    if (!build.ok) return { job, suite, code: 1, signal: null, output: `the build (test/tools/build.js) failed:
${build.output}
0 passed, 1 failed
`, seconds: build.seconds };
  }
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, job.args, { cwd: repo, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('close', (code, signal) => resolve({ job, suite, code: code ?? 1, signal, output, seconds: (Date.now() - started) / 1000 }));
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

const FAILING_EXCERPT_CHARS = 6000;

/** Mocha's "N failing" section of a suite's output (or the output's end when there is none), cut to a readable size. */
function failingPart(output) {
  const start = output.search(/^\s*\d+ failing/m);
  const part = start >= 0 ? output.slice(start) : output;
  return part.length > FAILING_EXCERPT_CHARS ? `${part.slice(0, FAILING_EXCERPT_CHARS)}\n[… ${part.length - FAILING_EXCERPT_CHARS} more characters]` : part;
}

async function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !SUITES.some((s) => s.name === w));
  const names = [...new Set(SUITES.map((s) => s.name))];
  if (unknown.length) {
    console.error(`npm test: unknown suite ${unknown.join(', ')}; the suites are ${names.join(', ')}.`);
    process.exit(2);
  }
  const suites = wanted.length ? SUITES.filter((s) => wanted.includes(s.name)) : SUITES;
  if (suites.some((s) => s.name === 'e2e' || s.name === 'unit' || s.name === 'node')) ensureSystemPrograms();
  // Two CPU-bound suites at a time: on the 2-core reference machine a third beside the crash test's Node-RED restarts
  // and the browser made real-time tests late (stream heartbeats, editor loads); two keeps them on time.
  const jobs = Math.max(1, Number(process.env.MIA_TEST_JOBS) || 2);
  // Wait-bound suites and shards: six at once, beside the CPU pool (together they use about half a core).
  const waitJobs = Math.max(1, Number(process.env.MIA_TEST_WAIT_JOBS) || 6);
  const started = Date.now();
  const jobsAll = jobsOf(suites);
  const queues = { cpu: jobsAll.filter((j) => j.suite.kind === 'cpu'), wait: jobsAll.filter((j) => j.suite.kind === 'wait') };
  const results = [];
  async function worker(queue) {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const result = await run(job);
      const counts = tally(result);
      results.push({ ...result, counts });
      const verdict = counts.failed ? 'FAILED' : 'ok';
      process.stdout.write(`\n===== ${job.label}: ${verdict} in ${result.seconds.toFixed(0)} s =====\n${result.output}\n`);
    }
  }
  await Promise.all([
    ...Array.from({ length: Math.min(jobs, queues.cpu.length) }, () => worker(queues.cpu)),
    ...Array.from({ length: Math.min(waitJobs, queues.wait.length) }, () => worker(queues.wait)),
  ]);
  // The failures again, last: a CI log is often read from its end, where the suites' own output has scrolled away.
  for (const r of results.filter((x) => x.counts.failed)) {
    console.log(`\n===== what ${r.job.label} reported as failing =====\n${failingPart(r.output)}`);
  }
  const total = results.reduce((t, r) => ({ passed: t.passed + r.counts.passed, failed: t.failed + r.counts.failed, skipped: t.skipped + r.counts.skipped }), { passed: 0, failed: 0, skipped: 0 });
  console.log(`\nsuites (${jobs} CPU-bound and up to ${waitJobs} wait-bound at a time, ${((Date.now() - started) / 1000).toFixed(0)} s in all):`);
  for (const r of results) console.log(`  ${r.job.label.padEnd(14)} ${String(r.seconds.toFixed(0)).padStart(4)} s  ${r.counts.failed ? 'FAILED' : 'ok'}  (${r.counts.passed} passed, ${r.counts.failed} failed)`);
  console.log(`\n${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
  process.exitCode = total.failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
