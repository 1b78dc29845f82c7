// A palette install as a user gets it, without the network: `npm pack` this repository, install the tarball with npm
// into a fresh Node-RED user dir, and run the plain node-red binary (the devDependency's) on it, on loopback.
//
// Offline: Node-RED's palette manager runs `npm install <module>` in the user dir, which needs the registry's package
// documents (packuments) to resolve version ranges; npm's cache holds only the tarballs of what `npm ci` installed, so
// `npm install --offline <tarball>` fails with ENOTCACHED. Instead the user dir gets a package-lock.json written from
// this repository's lockfile: the closure of what the *packed* package.json asks for (dependencies and
// peerDependencies, recursively, at the same tree positions), and `npm ci --offline --omit=dev` installs it from the
// cache by integrity. So npm, not a symlink, lays out node_modules, and a dependency missing from the packed manifest
// (e.g. Dashboard 2.0) is missing from the install. `npm ls` then checks that npm finds the tree complete.
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import WebSocket from 'ws';
import { buildIfStale } from '../../tools/local-node-red';
import { onFreeLoopbackPort } from '../../support/free-port';

export const repoRoot = path.join(__dirname, '..', '..', '..');
const nodeRedBin = require.resolve('node-red/red.js', { paths: [repoRoot] });
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  /** Node-RED's section: the node sets the package registers. */
  'node-red': { nodes: Record<string, string> };
}

/**
 * `npm pack` into `dir`; returns the tarball's path. dist/ is brought up to date first (the same build the prepack
 * script runs), and the pack then skips the prepack script: rebuilding dist/ here would delete it under the other
 * suites' running Node-RED instances (npm test runs suites side by side).
 */
export function packTarball(dir: string): string {
  buildIfStale({ quiet: true });
  const out = execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string }[];
  return path.join(dir, info.filename);
}

/** The package.json inside a tarball, read with tar (the packed manifest, not the repository's). */
export function packedManifest(tarball: string): Manifest {
  return JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Manifest;
}

/** Where Node's resolution finds `dep` from the package at `from` ('' = the root), in a lockfile's packages map. */
function resolveIn(packages: Record<string, LockEntry>, from: string, dep: string): string | null {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${dep}`;
    if (packages[candidate]) return candidate;
    if (!base) return null;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** A lockfile for a user dir depending on the tarball only: the packed manifest's closure, from the repo's lockfile. */
export function offlineLockfile(manifest: Manifest, tarballSpec: string): { lock: object; missing: string[] } {
  const repoLock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const source = repoLock.packages;
  const packages: Record<string, LockEntry> = {
    '': { name: 'palette-install-userdir', dependencies: { [manifest.name]: tarballSpec } },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: tarballSpec,
      dependencies: manifest.dependencies,
      peerDependencies: manifest.peerDependencies,
    },
  };
  const missing: string[] = [];
  const required = (entry: LockEntry | Manifest, optional: boolean) => [
    ...Object.keys(entry.dependencies ?? {}).map((d) => ({ dep: d, optional })),
    ...Object.keys((entry as LockEntry).optionalDependencies ?? {}).map((d) => ({ dep: d, optional: true })),
    ...Object.keys(entry.peerDependencies ?? {}).map((d) => ({ dep: d, optional: !!entry.peerDependenciesMeta?.[d]?.optional })),
  ];
  // The repository is the lockfile's root (''), so the packed package's own dependencies resolve from there.
  const queue: { from: string; dep: string; optional: boolean }[] = required(manifest, false).map((r) => ({ from: '', ...r }));
  while (queue.length > 0) {
    const { from, dep, optional } = queue.shift() as { from: string; dep: string; optional: boolean };
    const at = resolveIn(source, from, dep);
    if (!at) {
      if (!optional) missing.push(`${dep} (needed by ${from || manifest.name})`);
      continue;
    }
    if (packages[at]) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = source[at];
    packages[at] = entry;
    for (const r of required(source[at], false)) queue.push({ from: at, ...r });
  }
  return { lock: { name: 'palette-install-userdir', lockfileVersion: 3, requires: true, packages }, missing };
}

/**
 * A fresh user dir with the tarball installed by npm from the cache only (no network). Returns the user dir and what
 * npm printed.
 */
export function installOffline(tarball: string, userDir: string): { manifest: Manifest; npmOutput: string } {
  const manifest = packedManifest(tarball);
  const spec = `file:${path.relative(userDir, tarball)}`;
  const { lock, missing } = offlineLockfile(manifest, spec);
  if (missing.length > 0) throw new Error(`the repository's lockfile lacks ${missing.join(', ')}: run npm install in the repository`);
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    `${JSON.stringify({ name: 'palette-install-userdir', private: true, dependencies: { [manifest.name]: spec } }, null, 2)}\n`,
  );
  fs.writeFileSync(path.join(userDir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  const npmArgs = ['--offline', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];
  const npmOutput = execFileSync(npm, ['ci', ...npmArgs], { cwd: userDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  // npm's own check that the installed tree satisfies every dependency and peer (exit code 1 otherwise).
  execFileSync(npm, ['ls', '--all', '--omit=dev', '--offline'], { cwd: userDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { manifest, npmOutput };
}

export interface PlainNodeRed {
  readonly url: string;
  output(): string;
  getJson<T>(apiPath: string): Promise<T>;
  postFlows(nodes: unknown[]): Promise<void>;
  /** Every message the flow's Debug nodes send to the editor's sidebar (the /comms WebSocket), from now on. */
  debugMessages(): Promise<{ messages: DebugMessage[]; close(): void }>;
  stop(): Promise<void>;
}

export interface DebugMessage {
  id: string;
  name?: string;
  topic?: string;
  msg: string;
  format: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** The plain node-red binary on `userDir` with a minimal settings file: loopback, no telemetry, default everything else. */
export async function startPlainNodeRed(userDir: string): Promise<PlainNodeRed> {
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    "module.exports = { uiHost: '127.0.0.1', uiPort: Number(process.env.PORT), flowFile: 'flows.json', credentialSecret: 'palette-install-test', telemetry: { enabled: false, updateNotification: false } };\n",
  );
  return onFreeLoopbackPort((port) => startPlainNodeRedOn(userDir, port));
}

async function startPlainNodeRedOn(userDir: string, port: number): Promise<PlainNodeRed> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [nodeRedBin, '--userDir', userDir], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited(child);
      clearTimeout(killer);
    }
  };
  const deadline = Date.now() + 60000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node-red exited with code ${child.exitCode}:\n${log}`);
    try {
      const res = await fetch(`${url}/settings`, { headers: { Accept: 'application/json' } });
      if (res.ok && /Started flows|Flows stopped|Waiting for missing types/.test(log)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`node-red did not start within 60 s:\n${log}`);
    }
    await sleep(200);
  }
  return {
    url,
    output: () => log,
    stop,
    async getJson<T>(apiPath: string): Promise<T> {
      const res = await fetch(`${url}${apiPath}`, { headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error(`GET ${apiPath} answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as T;
    },
    async postFlows(nodes: unknown[]): Promise<void> {
      const res = await fetch(`${url}/flows`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(nodes),
      });
      if (!res.ok) throw new Error(`POST /flows answered ${res.status}: ${await res.text()}`);
    },
    async debugMessages() {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/comms`);
      const messages: DebugMessage[] = [];
      ws.on('message', (data) => {
        for (const m of JSON.parse(String(data)) as { topic: string; data: DebugMessage }[]) {
          if (m.topic === 'debug') messages.push(m.data);
        }
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ subscribe: 'debug' }));
      return { messages, close: () => ws.close() };
    },
  };
}

export function freshDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
