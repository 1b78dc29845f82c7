#!/usr/bin/env node
'use strict';
// `npm run test:busy`: the README's test command (`npm test`) beside two CPU-bound processes, one per core of the
// reference machine, as on a trader's busy CI runner or a laptop on battery. The suite must pass there too: a test
// that fails only on a busy machine tells a trader nothing about the product.
//
//   npm run test:busy              one run
//   npm run test:busy -- 3         three runs in a row; ends non-zero unless all three pass
const { spawn } = require('child_process');
const path = require('path');

const repo = path.resolve(__dirname, '..', '..');
const BURNERS = 2;
const runs = Math.max(1, Number(process.argv[2]) || 1);

function burner() {
  // A busy loop that yields nothing: one core's worth of load until killed.
  return spawn(process.execPath, ['-e', 'for (;;) { Math.sqrt(Math.random()); }'], { stdio: 'ignore' });
}

function npmTest() {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['test'], { cwd: repo, stdio: 'inherit' });
    child.on('close', (code) => resolve({ code: code ?? 1, seconds: (Date.now() - started) / 1000 }));
  });
}

async function main() {
  const burners = Array.from({ length: BURNERS }, burner);
  const stop = () => burners.forEach((b) => b.kill('SIGKILL'));
  process.on('exit', stop);
  process.on('SIGINT', () => process.exit(130));
  const results = [];
  for (let i = 1; i <= runs; i++) {
    console.log(`\ntest:busy: run ${i} of ${runs}, beside ${BURNERS} CPU-bound processes`);
    results.push(await npmTest());
  }
  stop();
  console.log('\ntest:busy results:');
  results.forEach((r, i) => console.log(`  run ${i + 1}: ${r.code === 0 ? 'green' : 'RED'} in ${(r.seconds / 60).toFixed(1)} min`));
  const green = results.filter((r) => r.code === 0).length;
  console.log(`test:busy: ${green}/${runs} green`);
  process.exitCode = green === runs ? 0 : 1;
}

void main();
