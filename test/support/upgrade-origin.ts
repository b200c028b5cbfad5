/**
 * An origin for upgrade tests on 127.0.0.1: a `ws` WebSocket echo server and a few raw upgrade
 * protocols chosen by path, answering on the socket node:http hands over with the `upgrade` event:
 *
 * - `/ws`: WebSocket echo (text stays text, binary stays binary); a message `close-me` makes the
 *   server close with code 4002 "server bye"; close codes it receives are recorded.
 * - `/echo` (`Upgrade: echo`): 101, then every byte back; on the client's FIN it writes `bye` and
 *   ends (client half-closes first).
 * - `/fin-first` (`Upgrade: echo`): 101 and `hello`, then FIN at once; it records what the client
 *   still sends after that (upstream half-closes first).
 * - `/greet` (`Upgrade: echo`): 101 with `greeting:` in the same write, then as `/echo`.
 * - `/sink` (`Upgrade: echo`): 101, then reads nothing until `resumeSinks()`; then counts what
 *   arrives and, on the client's FIN, answers `received <n>` and ends.
 * - `/source/<n>` (`Upgrade: echo`): 101, then `n` bytes (flow-controlled), then FIN; `sourceSent()`
 *   is what the kernel has taken of them so far.
 * - `/refuse`: an ordinary 400 to the upgrade request.
 * - `/no-upgrade-field`: a 101 without an Upgrade field (a broken upstream).
 * - `/unasked-101`, an ordinary request: a 101 all the same (a broken upstream).
 * - anything else: 200 `plain` (for ordinary requests too).
 *
 * It records each upgrade socket's close, so tests can see a reset reach the origin.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { WebSocketServer } from 'ws';

export interface UpgradeOrigin {
  port: number;
  /** Close codes and reasons the WebSocket server received, in order. */
  closesReceived: { code: number; reason: string }[];
  /** What `/fin-first` clients sent after the origin's FIN, one entry per connection once it ended. */
  afterFin: string[];
  /** Upgrade sockets (any path) still open. */
  readonly openSockets: number;
  /** Upgrade requests received, with their headers. */
  upgradeRequests: { url: string; headers: http.IncomingHttpHeaders }[];
  /** `/sink` sockets start reading. */
  resumeSinks(): void;
  /** Bytes the `/source` sockets handed to the kernel so far. */
  sourceSent(): number;
  close(): Promise<void>;
}

const SWITCH_TO_ECHO = 'HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n';

export function startUpgradeOrigin(): Promise<UpgradeOrigin> {
  const server = http.createServer((req, res) => {
    if (req.url === '/unasked-101') {
      req.socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
      return;
    }
    res.setHeader('content-length', 5);
    res.end('plain');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  const sockets = new Set<net.Socket>();
  const sinks: net.Socket[] = [];
  const sources: net.Socket[] = [];
  const origin: UpgradeOrigin = {
    port: 0,
    closesReceived: [],
    afterFin: [],
    get openSockets() {
      return sockets.size;
    },
    upgradeRequests: [],
    resumeSinks: () => {
      for (const s of sinks) s.resume();
    },
    sourceSent: () => sources.reduce((sum, s) => sum + s.bytesWritten - s.writableLength, 0),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'close-me') ws.close(4002, 'server bye');
      else ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => origin.closesReceived.push({ code, reason: reason.toString() }));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    origin.upgradeRequests.push({ url: req.url!, headers: req.headers });
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    switch (req.url) {
      case '/ws':
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
        return;
      case '/echo':
        socket.allowHalfOpen = true;
        socket.write(SWITCH_TO_ECHO);
        if (head.length > 0) socket.write(head);
        socket.on('data', (d: Buffer) => socket.write(d));
        socket.on('end', () => socket.end('bye'));
        return;
      case '/fin-first': {
        socket.allowHalfOpen = true;
        socket.end(SWITCH_TO_ECHO + 'hello');
        let late = head.toString('latin1');
        socket.on('data', (d: Buffer) => (late += d.toString('latin1')));
        socket.on('end', () => origin.afterFin.push(late));
        return;
      }
      case '/greet':
        socket.allowHalfOpen = true;
        socket.write(SWITCH_TO_ECHO + 'greeting:');
        if (head.length > 0) socket.write(head);
        socket.on('data', (d: Buffer) => socket.write(d));
        socket.on('end', () => socket.end('bye'));
        return;
      case '/sink': {
        socket.allowHalfOpen = true;
        socket.write(SWITCH_TO_ECHO);
        let received = head.length;
        socket.pause();
        sinks.push(socket);
        socket.on('data', (d: Buffer) => (received += d.length));
        socket.on('end', () => socket.end(`received ${received}`));
        return;
      }
      case '/refuse':
        socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 7\r\nconnection: close\r\n\r\nrefused');
        return;
      case '/no-upgrade-field':
        socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\n\r\n');
        return;
      default:
        if (req.url!.startsWith('/source/')) {
          socket.write(SWITCH_TO_ECHO);
          sources.push(socket);
          writeBytes(socket, Number(req.url!.slice('/source/'.length)));
          return;
        }
        socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      origin.port = (server.address() as net.AddressInfo).port;
      resolve(origin);
    });
  });
}

/** Writes `total` bytes (a repeating pattern) as fast as `socket` takes them, then ends it. */
function writeBytes(socket: net.Socket, total: number): void {
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
}
