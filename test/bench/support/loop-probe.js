// Loaded into a benchmarked Node-RED with NODE_OPTIONS="--require <this file>" (plain JavaScript: it runs before
// anything else). Two jobs, both driven by environment variables so the process under test needs no other change:
// - MIA_BENCH_EPOCH (epoch ms): Date.now() starts there and runs at the real rate, so the simulators (which start at
//   the latest weekday 10:00 New York before Date.now()) follow the same market day whatever day the bench runs;
// - MIA_LOOP_PROBE_FILE: every 10 ms a timer notes how late it fired (the event loop's delay) and the samples are
//   appended to that file as "epochMs delayMs" lines, four times a second.
/* global performance, setTimeout, setInterval, clearInterval */
'use strict';
const fs = require('fs');

// Node-RED starts child processes of its own (npm): NODE_OPTIONS reaches them too, and only Node-RED is measured.
const isNodeRed = /node-red/.test(process.argv[1] || '');

const epoch = Number(process.env.MIA_BENCH_EPOCH);
if (isNodeRed && Number.isFinite(epoch) && epoch > 0) {
  const realNow = Date.now.bind(Date);
  const offset = epoch - realNow();
  Date.now = () => realNow() + offset;
}

const file = process.env.MIA_LOOP_PROBE_FILE;
if (isNodeRed && file) {
  const INTERVAL_MS = 10;
  let lines = [];
  let expected = performance.now() + INTERVAL_MS;
  const tick = () => {
    const now = performance.now();
    lines.push(`${Math.round(performance.timeOrigin + now)} ${(now - expected).toFixed(2)}`);
    expected = now + INTERVAL_MS;
    setTimeout(tick, INTERVAL_MS).unref();
  };
  setTimeout(tick, INTERVAL_MS).unref();
  setInterval(() => {
    if (lines.length === 0) return;
    const chunk = `${lines.join('\n')}\n`;
    lines = [];
    fs.appendFile(file, chunk, () => undefined);
  }, 250).unref();
}

// MIA_PROBE_CPU_PROF_DIR: a CPU profile starts when the file <dir>/start appears and is written to
// <dir>/node-red.cpuprofile when <dir>/stop appears (--cpu-prof is not allowed in NODE_OPTIONS, and Node-RED stops on
// SIGUSR2).
const profDir = process.env.MIA_PROBE_CPU_PROF_DIR;
if (isNodeRed && profDir) {
  const inspector = require('inspector');
  const path = require('path');
  const session = new inspector.Session();
  session.connect();
  let state = 'idle';
  const poll = setInterval(() => {
    if (state === 'idle' && fs.existsSync(path.join(profDir, 'start'))) {
      state = 'profiling';
      session.post('Profiler.enable', () => session.post('Profiler.start'));
    } else if (state === 'profiling' && fs.existsSync(path.join(profDir, 'stop'))) {
      state = 'done';
      clearInterval(poll);
      session.post('Profiler.stop', (err, result) => {
        if (!err) fs.writeFileSync(path.join(profDir, 'node-red.cpuprofile'), JSON.stringify(result.profile));
      });
    }
  }, 250);
  poll.unref();
}
