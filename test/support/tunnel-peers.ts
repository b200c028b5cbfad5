/**
 * Peers for tunnel tests on 127.0.0.1: a tiny HTTP forward proxy answering CONNECT and an HTTPS
 * origin with the test CA's certificate (a TCP echo server is test/l4/fixtures.ts's). Each closes
 * what it accepted.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { pem } from '../tls/fixtures';

export interface ConnectProxy {
  port: number;
  /** The CONNECT targets asked for, in order, with the request's header fields. */
  requests: { target: string; headers: http.IncomingHttpHeaders }[];
  /** Answer CONNECT with this status instead of 200 (and close). */
  refuseWith: number;
  close(): Promise<void>;
}

/**
 * A forward proxy (Node's `connect` event) that answers CONNECT with 200 and relays to the
 * target, half-close included.
 */
export async function startConnectProxy(): Promise<ConnectProxy> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const server = http.createServer((_req, res) => res.end());
  const proxy: ConnectProxy = {
    port: 0,
    requests: [],
    refuseWith: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url!;
    proxy.requests.push({ target, headers: req.headers });
    track(client);
    if (proxy.refuseWith !== 0) {
      client.end(`HTTP/1.1 ${proxy.refuseWith} No\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const colon = target.lastIndexOf(':');
    const upstream = net.connect({
      host: target.slice(0, colon),
      port: Number(target.slice(colon + 1)),
      allowHalfOpen: true,
    });
    track(upstream);
    client.allowHalfOpen = true;
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.port = (server.address() as net.AddressInfo).port;
  return proxy;
}

/** An HTTPS origin with the test CA's certificate for 127.0.0.1: every request gets `over tls`. */
export async function startTlsOrigin(): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer({ cert: pem('server-rsa.crt'), key: pem('server-rsa.key') }, (s) =>
    s.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\nover tls\r\n'),
  );
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
