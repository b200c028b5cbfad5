/**
 * Shared by the L4 tests: tcp_proxy configs, upstream servers (echo, hashing sink, scripted), and
 * bounded one-connection clients. Every server and socket here is closed by its test.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { NativeEngine } from '../../src/engine/native-engine';
import { loadNative } from '../../src/native';
import { indent, tcpProxyListener } from '../integration/harness';

const STEP_TIMEOUT_MS = 10_000;

/** Rejects after `ms` unless `promise` settles first. */
export function within<T>(promise: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Whether tests in this process run with the addon (LEGATE_NATIVE=0 runs the suite without it). */
export function addonActive(): boolean {
  return loadNative() !== null;
}

/** One way Legate can run tcp_proxy sessions, selected by `env`, and how its startup log names it. */
export interface L4Path {
  name: 'engine' | 'splice' | 'JS';
  env: Record<string, string>;
  /** What the startup log says after `tcp_proxy '<prefix>' `. */
  log: string;
}

const ENGINE_PATH: L4Path = {
  name: 'engine',
  env: { LEGATE_ENGINE: 'native' },
  log: 'runs on the native engine',
};
const SPLICE_PATH: L4Path = { name: 'splice', env: { LEGATE_ENGINE: 'js' }, log: 'relays with splice' };
const JS_PATH: L4Path = { name: 'JS', env: { LEGATE_NATIVE: '0' }, log: 'relays with JS streams' };

/**
 * Every tcp_proxy path this process can run, each selected explicitly (so CI's LEGATE_ENGINE=js
 * pass still covers the engine, as the HTTP matrix does): the native engine, the splice relay on
 * Node sockets (both with the addon), and the JS relay (always).
 */
export function l4Paths(): L4Path[] {
  return [
    ...(addonActive() && NativeEngine.unavailableReason({}) === null ? [ENGINE_PATH] : []),
    ...(addonActive() ? [SPLICE_PATH] : []),
    JS_PATH,
  ];
}

/** The tcp_proxy path a plain tcp_proxy listener gets in this process's environment. */
export function defaultL4Path(): L4Path {
  if (NativeEngine.unavailableReason() === null) return ENGINE_PATH;
  return addonActive() ? SPLICE_PATH : JS_PATH;
}

/** Open fds of process `pid` ('self' for this one). */
export function openFdCount(pid: number | 'self' = 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * The fd count of `pid` once it stopped changing (the same over 3 readings 100 ms apart, within
 * 5 s): the proxy closes its side of a connection a moment after the client saw it end.
 */
export async function settledFdCount(pid: number): Promise<number> {
  let last = openFdCount(pid);
  for (let same = 0, i = 0; same < 3 && i < 50; i++) {
    await within(new Promise((resolve) => setTimeout(resolve, 100)), 'fd settle');
    const now = openFdCount(pid);
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

export interface TcpProxyYamlOptions {
  /** Upstream ports of cluster `up` (127.0.0.1). */
  upstreamPorts: number[];
  /** Extra TcpProxy fields, YAML lines at the typed_config's indentation (10 spaces added). */
  tcpProxyExtra?: string;
  /** Extra listener fields (4 spaces added). */
  listenerExtra?: string;
  /** Extra cluster fields (4 spaces added). */
  clusterExtra?: string;
}

/** Admin on a free port, listener `tcp` on a free port, tcp_proxy with stat_prefix `l4` to cluster `up`. */
export function tcpProxyYaml(o: TcpProxyYamlOptions): string {
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
${indent(tcpProxyListener({ cluster: 'up', listenerExtra: o.listenerExtra, tcpProxyExtra: o.tcpProxyExtra }), 2)}
  clusters:
  - name: up
    connect_timeout: 5s
    type: STATIC
${indent(o.clusterExtra ?? '', 4)}
    load_assignment:
      cluster_name: up
      endpoints:
      - lb_endpoints:
${o.upstreamPorts.map((p) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n')}
`;
}

export interface Upstream {
  port: number;
  server: net.Server;
  /** Sockets currently open on the server side. */
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/** A half-open capable server on 127.0.0.1:0 running `onSocket` for each connection. */
export async function startUpstream(onSocket: (socket: net.Socket) => void): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // resets are part of what these tests provoke
    onSocket(socket);
  });
  // A deep accept queue: the 1,000-connection test opens all of them at once.
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Echoes every byte; half-closes after the client's FIN. */
export function startEcho(): Promise<Upstream> {
  return startUpstream((socket) => socket.pipe(socket));
}

/**
 * Hashes everything it receives; after the client's FIN it answers with the hex SHA-256 and the
 * byte count (`<hex> <bytes>`), then closes.
 */
export function startHashSink(): Promise<Upstream> {
  return startUpstream((socket) => {
    const hash = createHash('sha256');
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    socket.on('end', () => socket.end(`${hash.digest('hex')} ${bytes}`));
  });
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function refusedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Connects a client to 127.0.0.1:port: half-open capable by default (it keeps its side open after
 * the peer's FIN), else it closes as soon as the peer's FIN arrives.
 */
export async function connect(port: number, allowHalfOpen = true): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen });
  await within(once(socket, 'connect'), `connect to ${port}`);
  return socket;
}

export interface Outcome {
  data: Buffer;
  /** The peer's FIN arrived. */
  ended: boolean;
  /** The error the socket failed with (e.g. ECONNRESET), if any. */
  errorCode: string | null;
}

/** Everything `socket` reads until it closes. */
export function collect(socket: net.Socket, what = 'socket close', ms = STEP_TIMEOUT_MS): Promise<Outcome> {
  const chunks: Buffer[] = [];
  const outcome: Outcome = { data: Buffer.alloc(0), ended: false, errorCode: null };
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('end', () => (outcome.ended = true));
  socket.on('error', (err: NodeJS.ErrnoException) => (outcome.errorCode = err.code ?? err.message));
  return within(
    new Promise<Outcome>((resolve) =>
      socket.once('close', () => resolve({ ...outcome, data: Buffer.concat(chunks) })),
    ),
    what,
    ms,
  ).catch((err: unknown) => {
    socket.destroy();
    throw err;
  });
}

/**
 * Sends `totalBytes` of pseudo-random data through `port` to a hash sink and returns both
 * digests. Each 1 MiB block carries its index, so a lost, repeated or reordered block changes
 * the hash.
 */
export async function hashedUpload(
  port: number,
  totalBytes: number,
  ms: number,
): Promise<{ sent: string; received: string; receivedBytes: number }> {
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
  const socket = await connect(port);
  const reply = collect(socket, 'hash sink reply', ms);
  const hash = createHash('sha256');
  for (let sent = 0, index = 0; sent < totalBytes; index++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(block.length, totalBytes - sent)));
    chunk.writeUInt32LE(index, 0);
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) await within(once(socket, 'drain'), 'upload drain', ms);
  }
  socket.end();
  const outcome = await reply;
  const [received = '', bytes = '0'] = outcome.data.toString().split(' ');
  return { sent: hash.digest('hex'), received, receivedBytes: Number(bytes) };
}

/**
 * An echo upstream whose connects hang until `release()`: it runs in a child process that is
 * stopped (SIGSTOP) once its accept queue (backlog 1) is full, so the kernel drops further SYNs
 * and a proxy's connect stays pending (its SYN is retried after 1 s). After `release()` the child
 * runs again and echoes, half-closing after the peer's FIN, like `startEcho`.
 */
export interface StalledUpstream {
  port: number;
  release(): void;
  close(): Promise<void>;
}

export async function startStalledUpstream(): Promise<StalledUpstream> {
  const script =
    "const s = require('net').createServer({ allowHalfOpen: true }, (c) => { c.on('error', () => {}); c.pipe(c); });" +
    "s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const [line] = (await within(once(child.stdout!, 'data'), 'stalled upstream port')) as [Buffer];
  const port = Number(line.toString().trim());
  child.kill('SIGSTOP');
  // Linux queues backlog + 1 completed handshakes; these fill the queue.
  const fillers = await Promise.all([connect(port), connect(port)]);
  for (const f of fillers) f.on('error', () => {});
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    child.kill('SIGCONT');
    for (const f of fillers) f.destroy();
  };
  return {
    port,
    release,
    close: async () => {
      release();
      child.kill('SIGKILL');
      await exited;
    },
  };
}
