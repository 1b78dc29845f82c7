// Whether anything still listens on a loopback port: after a close or a redeploy, nothing may accept connections
// where a simulator did.
import net from 'net';

/** Whether something accepts a TCP connection on 127.0.0.1:port (false when the connection is refused or fails). */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** After a redeploy nothing may still listen where the simulator did: resolves on a refused connection only. */
export function assertPortClosed(port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      reject(new Error(`the simulator port ${port} still accepts connections after redeploy`));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve() : reject(err)));
  });
}
