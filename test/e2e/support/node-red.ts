// A real Node-RED for the end-to-end tests: the node-red binary (not the test helper, which skips Node-RED's own
// start-up checks) on an ephemeral loopback port, with a temporary user dir prepared exactly as `npm start` does.
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { nodeRedCommand, prepareUserDir } from '../../../scripts/local-node-red';

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
}

const STARTUP_TIMEOUT_MS = 45000;
const STOP_TIMEOUT_MS = 15000;

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilAnswering(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`node-red exited with code ${child.exitCode} while starting:\n${output()}`);
    try {
      const res = await fetch(`${url}/settings`, { headers: { Accept: 'application/json' } });
      // Flows start after the HTTP server: wait for them too, so a deploy never races the first start.
      if (res.ok && /Started flows/.test(output())) return;
    } catch {
      // not listening yet
    }
    await sleep(150);
  }
  throw new Error(`node-red did not answer within ${STARTUP_TIMEOUT_MS / 1000} s:\n${output()}`);
}

/** Starts the real node-red with this package and Dashboard 2.0 installed, deploying `flow` (default: empty). */
export async function startNodeRed(flow: FlowNode[] = []): Promise<RunningNodeRed> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-e2e-userdir-'));
  const flowFile = path.join(userDir, 'initial-flow.json');
  fs.writeFileSync(flowFile, JSON.stringify(flow));
  prepareUserDir({ userDir, flowFile });

  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const [command, args] = nodeRedCommand(userDir);
  const child = spawn(command, args, { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const output = () => log;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT'); // Node-RED closes its flows on SIGINT, as on Ctrl-C
      const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited(child);
      clearTimeout(killer);
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  };

  try {
    await waitUntilAnswering(url, child, output);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    userDir,
    output,
    stop,
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
