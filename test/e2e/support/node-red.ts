// A real Node-RED for the end-to-end tests: the node-red binary (not the test helper, which skips Node-RED's own
// start-up checks) on an ephemeral loopback port, with a temporary user dir prepared exactly as `npm start` does.
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { nodeRedCommand, prepareUserDir } from '../../tools/local-node-red';
import { onFreeLoopbackPort } from '../../support/free-port';

export type FlowNode = { id: string; type: string; [property: string]: unknown };

export interface RunningNodeRed {
  /** http://127.0.0.1:<port>, without a trailing slash */
  readonly url: string;
  readonly userDir: string;
  /** Everything Node-RED printed so far (for failure messages). */
  output(): string;
  /** GET an admin API path as JSON. */
  getJson<T>(apiPath: string): Promise<T>;
  /** Replaces every flow, as the editor's full deploy does. */
  deploy(flow: FlowNode[]): Promise<void>;
  /** Stops Node-RED (flows closed, process gone) and removes the user dir. */
  stop(): Promise<void>;
  /** `kill -9`: SIGKILL, nothing closed, nothing flushed; resolves once the process is gone. The user dir stays. */
  killHard(): Promise<void>;
  /**
   * Starts node-red again on the same user dir and port (flows.json, flows_cred.json and the credential secret kept,
   * as `npm start` keeps them), once the last process is gone. Resolves when it answers and its flows started;
   * rejects after `timeoutMs` (default: the start's timeout).
   */
  restart(timeoutMs?: number): Promise<void>;
  /** What the current process printed since it started. */
  outputSinceStart(): string;
}

const STARTUP_TIMEOUT_MS = 45000;
const STOP_TIMEOUT_MS = 15000;

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilAnswering(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`node-red exited with code ${child.exitCode} while starting:\n${output()}`);
    try {
      const res = await fetch(`${url}/settings`, { headers: { Accept: 'application/json' } });
      // Flows start after the HTTP server: wait for them too, so a deploy never races the first start.
      if (res.ok && /Started flows/.test(output())) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`node-red did not answer within ${timeoutMs / 1000} s:\n${output()}`);
}

export interface StartOptions {
  /** Node-RED's own node files not to load (settings.nodesExcludes), for a test that restarts Node-RED many times. */
  nodesExcludes?: string[];
  /** How long a start may take before it fails (default 45 s). */
  startupTimeoutMs?: number;
}

/** Starts the real node-red with this package and Dashboard 2.0 installed, deploying `flow` (default: empty). */
export async function startNodeRed(flow: FlowNode[] = [], options: StartOptions = {}): Promise<RunningNodeRed> {
  const { nodesExcludes = [], startupTimeoutMs = STARTUP_TIMEOUT_MS } = options;
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-e2e-userdir-'));
  const flowFile = path.join(userDir, 'initial-flow.json');
  fs.writeFileSync(flowFile, JSON.stringify(flow));
  prepareUserDir({ userDir, flowFile, nodesExcludes });

  let port = 0;
  let url = '';
  let log = '';
  let runLog = '';
  let child: ChildProcess | undefined;
  const output = () => log;
  const launch = (): ChildProcess => {
    runLog = '';
    const [command, args] = nodeRedCommand(userDir);
    const started = spawn(command, args, { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (chunk: Buffer): void => {
      log += chunk.toString();
      runLog += chunk.toString();
    };
    started.stdout?.on('data', append);
    started.stderr?.on('data', append);
    return started;
  };

  const stop = async () => {
    const running = child;
    if (running && running.exitCode === null && running.signalCode === null) {
      running.kill('SIGINT'); // Node-RED closes its flows on SIGINT, as on Ctrl-C
      const killer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited(running);
      clearTimeout(killer);
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  };
  const killHard = async () => {
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited(child);
  };
  const restart = async (timeoutMs = startupTimeoutMs) => {
    await killHard();
    prepareUserDir({ userDir, keepFlows: true, nodesExcludes });
    log += '\n---- node-red restarted on the same user dir ----\n';
    const started = (child = launch());
    await waitUntilAnswering(url, started, () => runLog, timeoutMs);
  };

  try {
    await onFreeLoopbackPort(async (free) => {
      if (port) log += `\n---- port ${port} was taken by another process: node-red starts again on port ${free} ----\n`;
      port = free;
      url = `http://127.0.0.1:${port}`;
      const started = (child = launch());
      await waitUntilAnswering(url, started, () => runLog, startupTimeoutMs);
    });
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    userDir,
    output,
    stop,
    killHard,
    restart,
    outputSinceStart: () => runLog,
    async getJson<T>(apiPath: string): Promise<T> {
      const res = await fetch(`${url}${apiPath}`, { headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error(`GET ${apiPath} answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as T;
    },
    async deploy(nodes: FlowNode[]): Promise<void> {
      const res = await fetch(`${url}/flows`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(nodes),
      });
      if (!res.ok) throw new Error(`POST /flows answered ${res.status}: ${await res.text()}`);
    },
  };
}
