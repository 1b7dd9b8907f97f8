/**
 * Opens the TCP connection to a host's sshd before the SSH library is even loaded, so the
 * network round trip and sshd's per-connection start-up overlap the verifier's own start-up.
 * The socket stays paused (data is buffered) until ssh2 takes it over. node:net only.
 */
import { connect, type Socket } from 'node:net';

export interface Preconnected {
  /** Resolves with the connected socket, or rejects with the connect error (with its `code`). */
  socket: Promise<Socket>;
  /** Destroys the socket (when it is not going to be used). */
  discard(): void;
}

export function preconnect(host: string, port: number, timeoutMs: number): Preconnected {
  const sock = connect({ host, port });
  sock.pause();
  // Errors after the connect reach ssh2's own listener; this one keeps an early one from throwing.
  sock.on('error', () => undefined);
  const socket = new Promise<Socket>((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`connect ETIMEDOUT ${host}:${port}`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  socket.catch(() => undefined);
  return { socket, discard: () => sock.destroy() };
}
