#!/usr/bin/env node
'use strict';
// `npm start`: run the real Node-RED on this repository, with the example pipeline deployed.
//
//   npm start                      editor http://127.0.0.1:1880, dashboard http://127.0.0.1:1880/dashboard
//   PORT=1890 npm start            another port (Node-RED always binds 127.0.0.1 only)
//   npm start -- --keep-flows      keep the flows you deployed last time (also MIA_KEEP_FLOWS=1)
//
// Each start rebuilds dist/ if the sources changed, then prepares the project-local user dir .userdir/ (never
// ~/.node-red): settings.js, a credential secret generated once and kept in .userdir/credential-secret (credentials you
// enter stay encrypted in .userdir/flows_cred.json), and links that load this package and Dashboard 2.0. Unless you
// keep your flows, flows.json is a fresh copy of flows/mia-ia-pipeline.json (an empty flow until that file exists).
// Ctrl-C stops Node-RED (it closes every flow and simulator) and then this script; nothing is left running.
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { setTimeout } = require('timers');
const { repoRoot, buildIfStale, prepareUserDir, nodeRedCommand } = require('./local-node-red');

// Node-RED gets 15 s to close its flows; past this we stop waiting.
const STOP_GRACE_MS = 20000;

function main() {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--keep-flows');
  if (unknown.length > 0) {
    console.error(`start: unknown option ${unknown.join(' ')} (known: --keep-flows)`);
    process.exit(2);
  }
  const keepFlows = args.includes('--keep-flows') || /^(1|true|yes)$/i.test(process.env.MIA_KEEP_FLOWS || '');
  const port = process.env.PORT || '1880';

  try {
    buildIfStale();
  } catch (err) {
    console.error(`start: ${err.message}`);
    process.exit(1);
  }

  const pipeline = path.join(repoRoot, 'flows', 'mia-ia-pipeline.json');
  const { userDir, flowSource } = prepareUserDir({
    userDir: path.join(repoRoot, '.userdir'),
    flowFile: fs.existsSync(pipeline) ? pipeline : null,
    keepFlows,
  });

  console.log(`start: user dir ${path.relative(repoRoot, userDir)}/, flows: ${flowSource}`);
  console.log(`start: editor    http://127.0.0.1:${port}/`);
  console.log(`start: dashboard http://127.0.0.1:${port}/dashboard`);
  console.log('start: Ctrl-C to stop');

  const [command, argv] = nodeRedCommand(userDir);
  const child = spawn(command, argv, { cwd: repoRoot, stdio: 'inherit', env: { ...process.env, PORT: port } });

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    // A terminal's Ctrl-C already reached Node-RED (same process group); signalling again is harmless.
    if (child.exitCode === null) child.kill(signal);
    setTimeout(() => {
      if (child.exitCode === null) {
        console.error(`start: Node-RED did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
        child.kill('SIGKILL');
      }
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGTERM'));
  // Last resort if this script itself dies: never leave Node-RED running without its parent.
  process.on('exit', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  child.on('error', (err) => {
    console.error(`start: could not run Node-RED: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (!stopping && code !== 0) console.error(`start: Node-RED exited (${signal || `code ${code}`})`);
    process.exit(stopping ? 0 : code === null ? 1 : code);
  });
}

main();
