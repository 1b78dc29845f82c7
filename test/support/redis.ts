// A throwaway redis-server for tests: 127.0.0.1 on a free port, no persistence, its files in a temp dir that is
// removed on stop(). CI installs redis-server; locally a test skips with a clear message when it is missing.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onFreeLoopbackPort } from './free-port';
import { portAccepts } from './ports';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export interface TestRedis {
  host: string;
  port: number;
  stop(): Promise<void>;
}

export function redisServerAvailable(): boolean {
  return existsSync(REDIS_SERVER);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Registers, in the calling describe, one redis-server for its tests: started before the first, stopped after the last.
 * Where redis-server is missing the describe's tests are skipped, with one line naming what to install to run `tests`.
 * Its address is read inside a test (reading it elsewhere throws).
 */
export function useTestRedis(tests: string): { readonly host: string; readonly port: number } {
  let redis: TestRedis | undefined;
  before(async function () {
    if (!redisServerAvailable()) {
      // CI installs redis-server; a developer without it still runs every other test.
      console.warn(`      skipped: ${REDIS_SERVER} is missing (apt-get install redis-server to run ${tests})`);
      this.skip();
    }
    redis = await startTestRedis();
  });
  after(async () => {
    await redis?.stop();
    redis = undefined;
  });
  const started = (): TestRedis => {
    if (!redis) throw new Error('the test redis-server is not started: read its address inside a test');
    return redis;
  };
  return {
    get host() {
      return started().host;
    },
    get port() {
      return started().port;
    },
  };
}

/** Starts redis-server and resolves once it accepts connections (or rejects with its output after 10 s). */
export function startTestRedis(): Promise<TestRedis> {
  return onFreeLoopbackPort(startTestRedisOn);
}

async function startTestRedisOn(port: number): Promise<TestRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mia-redis-'));
  const child = spawn(
    REDIS_SERVER,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: '127.0.0.1', port, stop };
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}) before listening: ${output()}`);
    if (await portAccepts(port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on 127.0.0.1:${port} within 10 s: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
