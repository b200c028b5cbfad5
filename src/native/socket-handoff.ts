/**
 * Moves an accepted connection from the thread that accepted it to another thread (Envoy's
 * `exact_balance`: one thread accepts, the least-loaded worker serves). Node 20 cannot transfer
 * a socket handle between worker threads, but threads share the fd table, so the accepting
 * thread passes a dup of the fd and the worker wraps it in a new `net.Socket`.
 *
 * The accepting server must use `pauseOnConnect: true` so its own socket never reads: bytes the
 * client sends stay in the kernel until the worker reads them.
 */
import net from 'node:net';
import { loadNative } from './bindings';

/** Node's private handle; its `fd` is the only way to reach an accepted socket's descriptor. */
export interface HandleWithFd {
  _handle?: { fd?: number } | null;
}

/**
 * Duplicates the fd of a freshly accepted (paused) socket and destroys the original, which
 * closes only this thread's descriptor: the connection stays open through the copy. Returns the
 * copy to post to a worker, or null (socket left untouched) when the addon is not active or the
 * socket has no fd. Throws a Node-style system error if dup fails (e.g. EMFILE).
 */
export function takeAcceptedSocketFd(socket: net.Socket): number | null {
  const native = loadNative();
  const fd = (socket as unknown as HandleWithFd)._handle?.fd;
  if (native === null || typeof fd !== 'number' || fd < 0) return null;
  const copy = native.dup(fd);
  socket.destroy();
  return copy;
}

/**
 * Wraps an fd from `takeAcceptedSocketFd` in a readable, writable, half-open-capable socket
 * that owns the fd from now on. Throws if `fd` is not an open socket.
 */
export function adoptSocketFd(fd: number): net.Socket {
  return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
}
