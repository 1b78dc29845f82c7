// The test support's start on a free loopback port: a server process that lost its port to another process (the
// suites run side by side) starts again on another port; any other failure is passed on at once.
import assert from 'node:assert/strict';
import net from 'node:net';
import { onFreeLoopbackPort, portWasTaken } from '../../support/free-port';

describe('test support: a server process started on a free loopback port', () => {
  it('starts again on another port when the port was taken meanwhile, and gives what the start gave', async () => {
    const ports: number[] = [];
    const result = await onFreeLoopbackPort(async (port) => {
      ports.push(port);
      if (ports.length === 1) throw new Error(`[error] Unable to listen on http://127.0.0.1:${port}/\n[error] Error: port in use`);
      return `up on ${port}`;
    });
    assert.equal(ports.length, 2);
    assert.equal(result, `up on ${ports[1]}`);
  });

  it('passes any other failure on at once, without a second start', async () => {
    let starts = 0;
    await assert.rejects(
      onFreeLoopbackPort(async () => {
        starts += 1;
        throw new Error('node-red exited with code 1 while starting: settings.js has a syntax error');
      }),
      /syntax error/,
    );
    assert.equal(starts, 1);
  });

  it('gives up after the attempts it was given, with the last failure', async () => {
    let starts = 0;
    await assert.rejects(
      onFreeLoopbackPort(async () => {
        starts += 1;
        throw new Error(`redis-server exited (1) before listening: Address already in use (${starts})`);
      }, 3),
      /Address already in use \(3\)/,
    );
    assert.equal(starts, 3);
  });

  it('hands out a port nothing listens on, and knows the messages of node-red, redis-server and Node', async () => {
    const port = await onFreeLoopbackPort(async (p) => p);
    await new Promise<void>((resolve, reject) => {
      const server = net.createServer().once('error', reject);
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
    assert.ok(portWasTaken(new Error('Error: port in use')));
    assert.ok(portWasTaken(new Error('# Warning: Could not create server TCP listening socket 127.0.0.1:6379: bind: Address already in use')));
    assert.ok(portWasTaken(Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:1880'), { code: 'EADDRINUSE' })));
    assert.ok(!portWasTaken(new Error('node-red did not answer within 45 s')));
  });
});
