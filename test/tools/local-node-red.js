'use strict';
// How this repository runs the real Node-RED on itself: shared by `npm start` (test/tools/start.js) and the end-to-end
// tests (test/e2e/support/), so what the tests prove is what a developer runs.
//
//   buildIfStale()       run test/tools/build.js when dist/ is missing or older than the sources
//   prepareUserDir(opts) write a project-local Node-RED user dir (never ~/.node-red): settings.js, a credential secret
//                        kept across starts, this package and Dashboard 2.0 made loadable, the flow file to deploy
//   nodeRedCommand(dir)  the argv that starts the real node-red binary on that user dir
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');

const repoRoot = path.join(__dirname, '..', '..');
const pkg = require(path.join(repoRoot, 'package.json'));
const dashboardDir = path.dirname(require.resolve('@flowfuse/node-red-dashboard/package.json', { paths: [repoRoot] }));
const nodeRedBin = require.resolve('node-red/red.js', { paths: [repoRoot] });

// What the build reads; editing any of these makes dist/ stale.
const buildSources = ['lib', 'nodes', 'icons', 'flows', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

function* filesUnder(target) {
  let stat;
  try {
    stat = fs.statSync(target);
  } catch {
    return;
  }
  if (!stat.isDirectory()) {
    yield { file: target, mtimeMs: stat.mtimeMs };
    return;
  }
  for (const entry of fs.readdirSync(target)) yield* filesUnder(path.join(target, entry));
}

/** Why dist/ must be rebuilt, or null when it is up to date. */
function staleReason() {
  const dist = path.join(repoRoot, 'dist');
  if (!fs.existsSync(dist)) return 'dist/ is missing';
  if (fs.existsSync(path.join(repoRoot, 'flows')) && !fs.existsSync(path.join(repoRoot, 'examples'))) {
    return 'examples/ is missing';
  }
  // The build deletes dist/ then writes every file, so its oldest output marks when it last ran.
  let builtAt = Infinity;
  for (const out of ['dist', 'examples']) {
    for (const { mtimeMs } of filesUnder(path.join(repoRoot, out))) builtAt = Math.min(builtAt, mtimeMs);
  }
  for (const source of buildSources) {
    for (const { file, mtimeMs } of filesUnder(path.join(repoRoot, source))) {
      if (mtimeMs > builtAt) return `${path.relative(repoRoot, file)} changed since the last build`;
    }
  }
  return null;
}

/**
 * Builds when dist/ is stale. Returns the reason it built, or null. Throws with the compiler's output when the build
 * fails, so the caller can show what to fix.
 */
function buildIfStale({ quiet = false } = {}) {
  const reason = staleReason();
  if (!reason) return null;
  if (!quiet) console.log(`build: ${reason}; running test/tools/build.js`);
  try {
    execFileSync(process.execPath, [path.join(repoRoot, 'test', 'tools', 'build.js')], {
      cwd: repoRoot,
      stdio: quiet ? 'pipe' : 'inherit',
      encoding: 'utf8',
    });
  } catch (err) {
    const output = `${err.stdout || ''}${err.stderr || ''}`.trim();
    throw new Error(`the build failed (npm run build): fix the errors above and start again${output ? `\n${output}` : ''}`, {
      cause: err,
    });
  }
  return reason;
}

/** Points <userDir>/node_modules/<name> at dir, replacing whatever was there (a stale link or an old copy). */
function linkModule(userDir, name, dir) {
  const link = path.join(userDir, 'node_modules', ...name.split('/'));
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(dir, link, 'dir');
}

/** The secret Node-RED encrypts flows_cred.json with: generated once, kept in the user dir, readable only by us. */
function ensureCredentialSecret(userDir) {
  const file = path.join(userDir, 'credential-secret');
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  return file;
}

function settingsSource(nodesExcludes = []) {
  // Regenerated at each start; the secret lives in its own file so regenerating never orphans flows_cred.json.
  return `'use strict';
// Written by test/tools/local-node-red.js at each start: edit that script, not this file.
const fs = require('fs');
const path = require('path');

module.exports = {
  uiHost: '127.0.0.1',
  uiPort: process.env.PORT || 1880,
  flowFile: 'flows.json',
  flowFilePretty: true,
  credentialSecret: fs.readFileSync(path.join(__dirname, 'credential-secret'), 'utf8').trim(),
  logging: { console: { level: 'info', metrics: false, audit: false } },
  // Nothing beyond loopback: no update check, no consent prompt, no welcome tour over the editor.
  telemetry: { enabled: false, updateNotification: false },
  editorTheme: { tours: false, projects: { enabled: false } },
  externalModules: { autoInstall: false },
  exportGlobalContextKeys: false,${nodesExcludes.length ? `\n  // Node-RED's own node files this run does not load (a test's shorter start-up).\n  nodesExcludes: ${JSON.stringify(nodesExcludes)},` : ''}
};
`;
}

/**
 * Prepares a Node-RED user dir that loads this package (from the repository itself) and Dashboard 2.0.
 *
 * @param {object} options
 * @param {string} options.userDir   created if missing
 * @param {string|null} [options.flowFile]  a flow export to deploy as flows.json; null deploys an empty flow
 * @param {boolean} [options.keepFlows]  keep an existing flows.json (the user's edits) instead of a fresh copy
 * @param {string[]} [options.nodesExcludes]  Node-RED node files not to load (settings.nodesExcludes), e.g. '10-mqtt.js'
 * @returns {{ userDir: string, flowSource: string }} flowSource says what flows.json holds
 */
function prepareUserDir({ userDir, flowFile = null, keepFlows = false, nodesExcludes = [] }) {
  fs.mkdirSync(userDir, { recursive: true });
  ensureCredentialSecret(userDir);
  fs.writeFileSync(path.join(userDir, 'settings.js'), settingsSource(nodesExcludes));

  // A package.json naming both modules keeps an `npm install` in the user dir (Palette Manager) from pruning the links.
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    `${JSON.stringify(
      {
        name: 'mia-ia-node-red-userdir',
        private: true,
        description: 'Node-RED user dir written by test/tools/local-node-red.js',
        dependencies: { [pkg.name]: `file:${repoRoot}`, '@flowfuse/node-red-dashboard': `file:${dashboardDir}` },
      },
      null,
      2,
    )}\n`,
  );
  linkModule(userDir, pkg.name, repoRoot);
  linkModule(userDir, '@flowfuse/node-red-dashboard', dashboardDir);

  const target = path.join(userDir, 'flows.json');
  let flowSource;
  if (keepFlows && fs.existsSync(target)) {
    flowSource = 'kept from the last run';
  } else if (flowFile && fs.existsSync(flowFile)) {
    fs.copyFileSync(flowFile, target);
    flowSource = path.relative(repoRoot, flowFile);
  } else {
    fs.writeFileSync(target, '[]\n');
    flowSource = 'an empty flow';
  }
  return { userDir, flowSource };
}

/** argv for the real node-red binary (not the test helper, which skips Node-RED's own start-up checks). */
function nodeRedCommand(userDir) {
  return [process.execPath, [nodeRedBin, '--userDir', userDir]];
}

module.exports = { repoRoot, staleReason, buildIfStale, prepareUserDir, nodeRedCommand };
