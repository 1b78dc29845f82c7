#!/usr/bin/env node
'use strict';
// Runs every test/bench/*.bench.ts in its own process (so one benchmark's heap and JIT state do not colour the
// next), prints a table and writes bench-results.json. Benchmarks measure; they never fail a build.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..', '..');
const benchDir = path.join(root, 'test', 'bench');
const only = process.argv.slice(2);
const files = fs
  .readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const results = [];
for (const file of files) {
  process.stderr.write(`bench: ${file}\n`);
  const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(benchDir, file)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // Simulated markets open on one known day, so a figure can be compared from one day to the next.
    env: { ...process.env, MIA_SIM_DATE: process.env.MIA_SIM_DATE || '2026-03-03' },
  });
  for (const line of (run.stdout || '').split('\n')) {
    if (line.startsWith('BENCH_RESULT ')) results.push({ file, ...JSON.parse(line.slice('BENCH_RESULT '.length)) });
  }
  if (run.status !== 0) {
    process.stderr.write(`bench: ${file} exited with ${run.status}\n${run.stderr}\n`);
    results.push({ file, id: `${file}:error`, value: NaN, unit: '', baseline: NaN, ratio: NaN, goal: 'runs' });
  }
}

const fmt = (n) => (typeof n === 'number' && Number.isFinite(n) ? (Math.abs(n) >= 1000 ? n.toExponential(3) : n.toPrecision(4)) : String(n));
const rows = results.map((r) => [r.id, fmt(r.value), r.unit, fmt(r.baseline), fmt(r.ratio), r.goal]);
const header = ['id', 'value', 'unit', 'baseline', 'ratio', 'goal'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));

fs.writeFileSync(
  path.join(root, 'bench-results.json'),
  JSON.stringify(results.map(({ id, value, unit, baseline, ratio, goal, note }) => ({ id, value, unit, baseline, ratio, goal, note })), null, 2),
);
