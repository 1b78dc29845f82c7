'use strict';
// A loopback port for a server that another process opens (node-red, redis-server). A port found free is not reserved:
// while the suites run side by side, another process can be given it before ours listens (seen: a node-red of the e2e
// suite exiting on "port in use" in a test:busy run). onFreeLoopbackPort starts again on another port when that
// happened, and only then.
const net = require('net');

/** A loopback port that was free just now. */
function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether a start failed because another process had the port (the error's message holds the server's output). */
function portWasTaken(err) {
  return /port in use|EADDRINUSE|Address already in use/i.test(err instanceof Error ? err.message : String(err));
}

const ATTEMPTS = 5;

/**
 * `start(port)` on a free loopback port; when it fails because the port was taken meanwhile, again on another, at most
 * `attempts` times in all. Any other failure is passed on at once.
 */
async function onFreeLoopbackPort(start, attempts = ATTEMPTS) {
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= attempts || !portWasTaken(err)) throw err;
    }
  }
}

module.exports = { freeLoopbackPort, onFreeLoopbackPort, portWasTaken };
