/**
 * Per-worker listening sockets on one shared port (Envoy's `enable_reuse_port`, its default).
 * Node 20's `net` has no `reusePort`, so the addon opens SO_REUSEPORT sockets and each worker
 * serves its own with `net.Server.listen({ fd })`; the kernel spreads connections across them.
 */
import type net from 'node:net';
import { loadNative } from './bindings';

export interface SharedListenSocket {
  /** Listening fd, owned by the caller until handed to `listenOnFd` (then the server owns it). */
  fd: number;
  /** The bound port: the one asked for, or the kernel's pick when asked for port 0. */
  port: number;
}

/**
 * Opens one SO_REUSEPORT listening socket. For a listener on port 0, open the first socket with
 * port 0 and every further one with the returned `port`, so all workers share one port.
 *
 * Returns null when the addon is not active: the caller then serves the listener from one thread
 * with a plain `net.Server`. Throws a Node-style system error (e.g. `code: 'EADDRINUSE'`) when the
 * OS refuses, and a TypeError when `host` is not an IP literal.
 */
export function openSharedListenSocket(
  host: string,
  port: number,
  backlog: number,
  ipv4Compat = false,
): SharedListenSocket | null {
  const native = loadNative();
  if (native === null) return null;
  const fd = native.listenReusePort(host, port, backlog, ipv4Compat);
  try {
    return { fd, port: native.localPort(fd) };
  } catch (err) {
    native.close(fd);
    throw err;
  }
}

/**
 * Makes `server` accept on an already-listening fd (from `openSharedListenSocket`, possibly opened
 * on another thread of this process). Works inside worker threads. `callback` gets null once the
 * server is listening, or the error it emitted instead. On success the server owns the fd and
 * `server.close()` closes it.
 */
export function listenOnFd(server: net.Server, fd: number, callback: (err: Error | null) => void): void {
  const onError = (err: Error): void => {
    server.off('listening', onListening);
    callback(err);
  };
  const onListening = (): void => {
    server.off('error', onError);
    callback(null);
  };
  server.once('error', onError);
  server.once('listening', onListening);
  server.listen({ fd });
}
