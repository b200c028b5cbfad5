import type * as net from 'node:net';

/**
 * Resets `socket` (RST), or closes it when its FIN may still be on its way out: libuv refuses to
 * reset a socket with a shutdown pending, and Node then never closes it (no 'close', and a worker
 * thread spins forever at exit). Its peer has had, or is getting, our FIN either way.
 */
export function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded && !socket.writableFinished) socket.destroy();
  else socket.resetAndDestroy();
}
