// The real node-red binary with adminAuth on: the same user dir as `npm start` (test/tools/local-node-red.js), plus two
// admin users with bcrypt password hashes, one with every permission and one read-only. Loopback only.
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { nodeRedCommand, prepareUserDir } from '../../tools/local-node-red';
import { onFreeLoopbackPort } from '../../support/free-port';

// Node-RED ships bcryptjs for adminAuth: use its own copy.
const bcrypt = require(require.resolve('bcryptjs', { paths: [path.dirname(require.resolve('node-red/package.json'))] })) as { hashSync(p: string, rounds: number): string };

export const ADMIN = { username: 'admin', password: 'admin-pass-1' };
export const READER = { username: 'reader', password: 'reader-pass-1' };

export interface SecureNodeRed {
  readonly url: string;
  readonly userDir: string;
  output(): string;
  /** An access token for a user (POST /auth/token, as the editor logs in). */
  token(user: { username: string; password: string }): Promise<string>;
  stop(): Promise<void>;
}

export function startSecureNodeRed(): Promise<SecureNodeRed> {
  return onFreeLoopbackPort(startSecureNodeRedOn);
}

async function startSecureNodeRedOn(port: number): Promise<SecureNodeRed> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-security-userdir-'));
  prepareUserDir({ userDir });
  const settingsFile = path.join(userDir, 'settings.js');
  const adminAuth = {
    type: 'credentials',
    users: [
      { username: ADMIN.username, password: bcrypt.hashSync(ADMIN.password, 8), permissions: '*' },
      { username: READER.username, password: bcrypt.hashSync(READER.password, 8), permissions: 'read' },
    ],
  };
  const settings = fs.readFileSync(settingsFile, 'utf8').replace('module.exports = {', `module.exports = {\n  adminAuth: ${JSON.stringify(adminAuth)},`);
  fs.writeFileSync(settingsFile, settings);

  const url = `http://127.0.0.1:${port}`;
  const [command, args] = nodeRedCommand(userDir);
  const child = spawn(command, args, { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(killer);
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`node-red exited while starting:\n${log}`);
    }
    if (/Started flows/.test(log)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`node-red did not start:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return {
    url,
    userDir,
    output: () => log,
    stop,
    async token(user) {
      const res = await fetch(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: 'node-red-admin', grant_type: 'password', scope: user === READER ? 'read' : '*', username: user.username, password: user.password }).toString(),
      });
      if (!res.ok) throw new Error(`POST /auth/token answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { access_token: string }).access_token;
    },
  };
}
