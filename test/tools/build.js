#!/usr/bin/env node
'use strict';
// Build: TypeScript → dist/, then put each node's editor files and the icons beside its compiled .js (where
// Node-RED looks for them), and copy flows/ to examples/ (the only folder Import › Examples reads).
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..', '..');
const dist = path.join(root, 'dist');

function copyDir(from, to) {
  if (!fs.existsSync(from)) return;
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyDir(src, dst);
    else fs.copyFileSync(src, dst);
  }
}

fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

const nodesDir = path.join(root, 'nodes');
const declared = Object.values(require(path.join(root, 'package.json'))['node-red'].nodes);
for (const type of fs.readdirSync(nodesDir)) {
  const srcDir = path.join(nodesDir, type);
  if (!fs.existsSync(path.join(srcDir, `${type}.html`))) continue; // shared helpers, not a node
  const outDir = path.join(dist, 'nodes', type);
  fs.copyFileSync(path.join(srcDir, `${type}.html`), path.join(outDir, `${type}.html`));
  copyDir(path.join(srcDir, 'locales'), path.join(outDir, 'locales'));
  copyDir(path.join(root, 'icons'), path.join(outDir, 'icons'));
  const entry = `dist/nodes/${type}/${type}.js`;
  if (!declared.includes(entry)) throw new Error(`package.json "node-red.nodes" does not list ${entry}`);
}
for (const entry of declared) {
  if (!fs.existsSync(path.join(root, entry))) console.warn(`build: warning: ${entry} is declared but was not built`);
}

const examples = path.join(root, 'examples');
fs.rmSync(examples, { recursive: true, force: true });
copyDir(path.join(root, 'flows'), examples);
console.log('build: dist/ and examples/ are ready');
