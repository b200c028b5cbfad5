/**
 * A byte-level HTTP client for tests that must see exactly what went on the wire (header
 * injection, HEAD framing, keep-alive reuse), which undici would normalise or reject.
 */
import * as net from 'node:net';

export interface RawConnection {
  /** Sends `request` and resolves with the bytes received once `complete(received)` holds. */
  exchange(request: string, complete: (received: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): void;
}

export function openRaw(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let waiter: (() => void) | null = null;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      waiter?.();
    });
    socket.on('close', () => waiter?.());
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        exchange(request, complete, timeoutMs = 3000) {
          received = '';
          socket.write(request);
          return new Promise((done, fail) => {
            const timer = setTimeout(() => {
              waiter = null;
              fail(new Error(`raw exchange timed out; got ${JSON.stringify(received)}`));
            }, timeoutMs);
            waiter = () => {
              if (!complete(received) && !socket.destroyed) return;
              clearTimeout(timer);
              waiter = null;
              done(received);
            };
            waiter();
          });
        },
        close: () => socket.destroy(),
      }),
    );
  });
}

/** True once a full head plus `Content-Length` bytes of body (0 if absent) have arrived. */
export function headAndBody(received: string): boolean {
  const end = received.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const match = /\r\ncontent-length: *(\d+)/i.exec(received.slice(0, end));
  return received.length >= end + 4 + (match ? Number(match[1]) : 0);
}

/** True once a full head has arrived (for responses that must not carry a body). */
export function headOnly(received: string): boolean {
  return received.includes('\r\n\r\n');
}
