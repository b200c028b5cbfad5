/**
 * Harness for connection-pool tests: real upstream servers on 127.0.0.1:0, a pool over the real
 * upstream codec, and a request helper that plays the router's part (PoolCallbacks + ResponseDecoder).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';
import { monotonicMs } from '../../src/common/timer-wheel';
import type { RequestEncoder, ResponseDecoder, ResponseHead, StreamResetReason } from '../../src/http/codec';
import { createClientConnection } from '../../src/http/client-connection';
import { HeaderMap } from '../../src/http/header-map';
import { Http1ConnPool, type ConnPoolOptions } from '../../src/upstream/conn-pool';
import type { PoolCallbacks, PoolFailureReason } from '../../src/upstream/pool';
import { Host } from '../../src/upstream/host';
import { tcpSocketConnector, withCodec } from '../../src/upstream/transport';
import { HostTable } from '../../src/upstream/host-table';
import { localCircuitBreaker } from '../../src/upstream/circuit-breakers';
import { defaultThresholds } from '../../src/config/circuit-breakers';
import { clusterConfig, endpoint, withTimeout } from './helpers';

export interface Outcome {
  kind: 'response' | 'failure' | 'reset';
  status: number;
  body: string;
  reused: boolean;
  reason: PoolFailureReason | StreamResetReason | '';
  detail: string;
}

/** One request through the pool, as the router would make it. */
export class TestRequest implements PoolCallbacks, ResponseDecoder {
  readonly done: Promise<Outcome>;
  /** True once onPoolReady or onPoolFailure ran. */
  called = false;
  /** Callbacks that arrived after the outcome was settled (a codec or pool bug if nonzero). */
  lateCalls = 0;
  private settled = false;
  private resolve!: (o: Outcome) => void;
  private readonly outcome: Outcome = {
    kind: 'response',
    status: 0,
    body: '',
    reused: false,
    reason: '',
    detail: '',
  };
  private readonly chunks: Buffer[] = [];

  constructor(private readonly path = '/') {
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }

  onPoolReady(encoder: RequestEncoder, _host: Host, reused: boolean): void {
    this.called = true;
    this.outcome.reused = reused;
    const headers = new HeaderMap();
    headers.add('host', 'upstream.test');
    encoder.encodeHeaders(
      {
        method: 'GET',
        path: this.path,
        protocol: 'HTTP/1.1',
        headers,
        keepAlive: true,
        contentLength: -1,
        chunked: false,
        upgrade: false,
      },
      -1,
      true,
    );
  }

  onPoolFailure(reason: PoolFailureReason, detail: string): void {
    this.called = true;
    this.finish({ kind: 'failure', reason, detail });
  }

  decode1xxHeaders(): void {}
  decodeHeaders(head: ResponseHead, endStream: boolean): void {
    this.outcome.status = head.status;
    if (endStream) this.finish({});
  }
  decodeData(data: Buffer, endStream: boolean): void {
    if (this.settled) {
      this.lateCalls++;
      return;
    }
    this.chunks.push(Buffer.from(data));
    if (endStream) this.finish({});
  }
  decodeTrailers(): void {
    this.finish({});
  }
  onResetStream(reason: StreamResetReason): void {
    this.finish({ kind: 'reset', reason });
  }

  // The pool tests send small bodies: upload flow control never engages.
  onAboveWriteBufferHighWatermark(): void {}
  onBelowWriteBufferLowWatermark(): void {}

  private finish(update: Partial<Outcome>): void {
    if (this.settled) {
      this.lateCalls++;
      return;
    }
    this.settled = true;
    this.resolve({ ...this.outcome, ...update, body: Buffer.concat(this.chunks).toString() });
  }
}

/** Sends one request; `done` also checks that no callback arrives after the request completed. */
export function send(pool: Http1ConnPool, path = '/'): { request: TestRequest; done: Promise<Outcome> } {
  const request = new TestRequest(path);
  pool.newStream(request, request);
  const done = withTimeout(request.done, 5000).then(async (outcome) => {
    await new Promise((resolve) => setImmediate(resolve));
    if (request.lateCalls > 0) throw new Error(`${request.lateCalls} callbacks after the request completed`);
    return outcome;
  });
  return { request, done };
}

/**
 * A pool for `port` on 127.0.0.1, in a table of its own, under a circuit breaker of its own with
 * Envoy's default thresholds except `maxConnections` / `maxPendingRequests` when given.
 */
export function makePool(
  port: number,
  options: Partial<ConnPoolOptions> & { maxConnections?: number; maxPendingRequests?: number } = {},
): { pool: Http1ConnPool; table: HostTable; host: Host } {
  const { maxConnections, maxPendingRequests, ...poolOptions } = options;
  const d = defaultThresholds();
  const config = clusterConfig({ endpoints: [endpoint('127.0.0.1', port)] });
  config.circuitBreakers = [
    {
      ...d,
      maxConnections: maxConnections ?? d.maxConnections,
      maxPendingRequests: maxPendingRequests ?? d.maxPendingRequests,
    },
    d,
  ];
  const table = HostTable.allocate([config]);
  const host = new Host(0, '127.0.0.1', port, 1, 0);
  const pool = new Http1ConnPool(host, table, {
    connectTimeoutMs: 5000,
    idleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    circuitBreaker: localCircuitBreaker(config),
    connector: withCodec(tcpSocketConnector, createClientConnection),
    nowMs: monotonicMs,
    ...poolOptions,
  });
  return { pool, table, host };
}

/** A node:http upstream that answers with the id of the connection the request came on. */
export interface TestServer {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Connections currently open. */
  open: number;
  close(): Promise<void>;
}

export async function startServer(
  options: { closeIdleAfterMs?: number; delayMs?: (path: string) => number } = {},
): Promise<TestServer> {
  const ids = new WeakMap<net.Socket, number>();
  const server = http.createServer((req, res) => {
    const delay = options.delayMs?.(req.url ?? '') ?? 0;
    const answer = (): void => {
      res.setHeader('content-type', 'text/plain');
      res.end(`conn-${ids.get(req.socket)}`);
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
    const closeAfter = options.closeIdleAfterMs;
    if (closeAfter !== undefined) res.on('finish', () => setTimeout(() => req.socket.end(), closeAfter));
  });
  const state: TestServer = {
    port: 0,
    connections: 0,
    open: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket: net.Socket) => {
    ids.set(socket, ++state.connections);
    state.open++;
    socket.on('close', () => state.open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/** A port on 127.0.0.1 where nothing listens (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A listener on 127.0.0.1 whose connects hang: a worker thread listens with backlog 1 and then
 * blocks (so nothing is ever accepted), and filler connections fill the kernel's accept queue, after
 * which the kernel drops further SYNs. `release()` unblocks the worker, which closes and exits.
 */
export async function unresponsiveListener(): Promise<{ port: number; release(): Promise<void> }> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0, 20000);
       server.close();
       process.exit(0);
     });`,
    { eval: true, workerData: gate },
  );
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const port = await withTimeout(new Promise<number>((resolve) => worker.once('message', resolve)), 5000);
  const fillers: net.Socket[] = [];
  // Open fillers until one hangs: the accept queue is then full (bounded: a few connections).
  for (let i = 0; i < 8; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) break;
  }
  return {
    port,
    release: async () => {
      for (const s of fillers) s.destroy();
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      await withTimeout(exited, 5000);
    },
  };
}
