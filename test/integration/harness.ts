/**
 * End-to-end harness: runs the real `legate` binary as a child process on 127.0.0.1, with real
 * origin servers and real clients. Everything it starts is stopped by `stop()` / `closeAll()`.
 */
import { REPO_ROOT } from '../repo-root';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';

export { REPO_ROOT };
/**
 * The CLI entry of the build these tests were compiled into (dist/ or a helper's own outDir), so a
 * test always runs the proxy code it was built with.
 */
const LEGATE_BIN = path.join(__dirname, '..', '..', 'src', 'cli', 'run.js');

export interface LegateProcess {
  proc: ChildProcess;
  /** Bound port per listener name. */
  ports: Map<string, number>;
  adminPort: number | null;
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  concurrency?: number;
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Legates a test file starts as it goes (`start`), stopped together by `stopAll` (in `after`). */
export function legateSet(): {
  start(yaml: string, opts?: StartOptions): Promise<LegateProcess>;
  stopAll(): Promise<void>;
} {
  const started: LegateProcess[] = [];
  return {
    async start(yaml, opts = { concurrency: 1 }) {
      const lp = await startLegate(yaml, opts);
      started.push(lp);
      return lp;
    },
    async stopAll() {
      for (const lp of started.splice(0)) await lp.stop();
    },
  };
}

/** An origin and a Legate in front of it, started before a file's tests and stopped after them. */
export interface ProxiedOrigin {
  readonly origin: Origin;
  readonly legate: LegateProcess;
  /** The `proxy` listener's port. */
  readonly port: number;
}

/**
 * Registers the file's `before` / `after` hooks: an origin answering with `handler`, and Legate
 * (one worker) on the config `yaml` makes for the origin's port. The fields are there once `before` ran.
 */
export function proxiedOrigin(
  yaml: (originPort: number) => string,
  handler?: OriginHandler,
  opts: StartOptions = { concurrency: 1 },
): ProxiedOrigin {
  const fixture = {} as { origin: Origin; legate: LegateProcess; port: number };
  before(async () => {
    fixture.origin = await startOrigin(handler);
    fixture.legate = await startLegate(yaml(fixture.origin.port), opts);
    fixture.port = fixture.legate.ports.get('proxy')!;
  });
  after(async () => {
    await fixture.legate?.stop(); // undefined when it failed to start
    await fixture.origin?.close();
  });
  return fixture;
}

/** Writes `yaml` to a temp file and starts `legate -c file`; resolves once it logs "legate ready". */
export function startLegate(yaml: string, opts: StartOptions = {}): Promise<LegateProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-test-'));
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(file, yaml);
  return startLegateArgs(['-c', file, ...(opts.args ?? [])], opts);
}

/** Starts Legate on `yaml`, runs `body` with it, and stops it whatever `body` does. */
export async function withLegate<T>(
  yaml: string,
  opts: StartOptions,
  body: (lp: LegateProcess) => Promise<T>,
): Promise<T> {
  const lp = await startLegate(yaml, opts);
  try {
    return await body(lp);
  } finally {
    await lp.stop();
  }
}

export function startLegateArgs(args: string[], opts: StartOptions = {}): Promise<LegateProcess> {
  const proc = spawn(
    process.execPath,
    [LEGATE_BIN, '--concurrency', String(opts.concurrency ?? 2), '--drain-time-s', '5', ...args],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const ports = new Map<string, number>();
  let adminPort: number | null = null;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`legate did not become ready in time:\n${out}`));
    }, opts.timeoutMs ?? 15_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      for (const m of out.matchAll(/listener '([^']+)' listening on \S+:(\d+)/g))
        ports.set(m[1]!, Number(m[2]));
      const a = /admin listening on \S+:(\d+)/.exec(out);
      if (a) adminPort = Number(a[1]);
      if (out.includes('legate ready')) {
        clearTimeout(timer);
        resolve({
          proc,
          ports,
          adminPort,
          output: () => out,
          exited,
          stop: (signal = 'SIGTERM') => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`legate exited with ${code} before it was ready:\n${out}`));
    });
  });
}

/** Runs `legate` to completion (validate mode, --print-config, --version …). */
export function runLegate(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [LEGATE_BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Origin {
  port: number;
  server: http.Server;
  /** Requests the origin received, in order. */
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }[];
  /** Distinct TCP connections the origin accepted. */
  connections: number;
  close(): Promise<void>;
}

export type OriginHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

/** A node:http origin on 127.0.0.1:port (0 = any) that records what it receives. */
export function startOrigin(handler?: OriginHandler, port = 0): Promise<Origin> {
  const origin: Origin = {
    port: 0,
    requests: [],
    connections: 0,
    server: http.createServer({ keepAliveTimeout: 60_000 }),
    close: () =>
      new Promise((resolve) => {
        origin.server.close(() => resolve());
        origin.server.closeAllConnections();
      }),
  };
  origin.server.on('connection', () => origin.connections++);
  origin.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      origin.requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (handler) handler(req, res, body);
      else {
        const text = `origin ${origin.port} ${req.method} ${req.url}\n`;
        res.setHeader('content-type', 'text/plain');
        // Explicit, so HEAD responses carry it too (node:http omits it for HEAD otherwise).
        res.setHeader('content-length', Buffer.byteLength(text));
        res.end(text);
      }
    });
  });
  return new Promise((resolve) => {
    origin.server.listen(port, '127.0.0.1', () => {
      origin.port = (origin.server.address() as net.AddressInfo).port;
      resolve(origin);
    });
  });
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request with node:http (no keep-alive agent unless given). */
export function request(
  port: number,
  opts: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    agent?: http.Agent;
  } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: opts.headers,
        agent: opts.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
    req.end(opts.body);
  });
}

/** Sends raw bytes and collects everything until the server closes (or `untilMs`). */
export function rawExchange(port: number, data: string | Buffer, untilMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => sock.destroy(), untilMs);
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('error', (err) => {
      clearTimeout(timer);
      if (out) resolve(out);
      else reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.write(data);
  });
}

/** The HCM's usual http_filters: the router alone. */
export const ROUTER_FILTER = `- name: envoy.filters.http.router
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;

/** A YAML listener+cluster config with one HCM; `routes` and `clusters` are YAML fragments. */
export function httpProxyYaml(p: {
  listenerPort?: number;
  virtualHosts: string;
  clusters: string;
  hcmExtra?: string;
  /** Extra fields of the route configuration (YAML lines). */
  routeConfigExtra?: string;
  /** The HCM's `http_filters` items (YAML); default: the router alone. */
  httpFilters?: string;
  /** Extra fields of the `proxy` listener (YAML lines). */
  listenerExtra?: string;
  /** More listeners after `proxy` (list items, e.g. `tcpProxyListener`). */
  extraListeners?: string;
  admin?: boolean;
}): string {
  return `${p.admin === false ? '' : 'admin:\n  address:\n    socket_address: { address: 127.0.0.1, port_value: 0 }\n'}static_resources:
  listeners:
  - name: proxy
    address:
      socket_address: { address: 127.0.0.1, port_value: ${p.listenerPort ?? 0} }
${indent(p.listenerExtra ?? '', 4)}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
${indent(p.hcmExtra ?? '', 10)}
          route_config:
            name: local_route
${indent(p.routeConfigExtra ?? '', 12)}
            virtual_hosts:
${indent(p.virtualHosts, 12)}
          http_filters:
${indent(p.httpFilters ?? ROUTER_FILTER, 10)}
${indent(p.extraListeners ?? '', 2)}
  clusters:
${indent(p.clusters, 2)}
`;
}

/**
 * An HCM's `access_log` field (YAML lines): one file logger writing `format` (an Envoy format
 * string, a newline added) to `file`.
 */
export function fileAccessLogYaml(file: string, format: string): string {
  return `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file}
    log_format:
      text_format_source:
        inline_string: "${format}\\n"`;
}

/** The lines of access log `file` once it has `atLeast` of them (file loggers flush every second); throws after `timeoutMs`. */
export async function accessLogLines(file: string, atLeast: number, timeoutMs = 6000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.length >= atLeast) return lines;
    if (Date.now() > deadline) throw new Error(`${lines.length} of ${atLeast} access-log lines in ${file}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A tcp_proxy listener (a `listeners` item) on a free port, stat_prefix `l4`, to `cluster`;
 * `listenerExtra` adds listener fields, `tcpProxyExtra` TcpProxy fields (YAML lines).
 */
export function tcpProxyListener(o: {
  name?: string;
  cluster: string;
  listenerExtra?: string;
  tcpProxyExtra?: string;
}): string {
  return `- name: ${o.name ?? 'tcp'}
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${indent(o.listenerExtra ?? '', 2)}
  filter_chains:
  - filters:
    - name: envoy.filters.network.tcp_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
        stat_prefix: l4
        cluster: ${o.cluster}
${indent(o.tcpProxyExtra ?? '', 8)}`;
}

/**
 * The common case: every request to cluster `o` (the origins at `ports`, or one list per priority
 * level), with optional extras (see catchAllVirtualHost and staticCluster).
 */
export function catchAllYaml(
  ports: number[] | number[][],
  opts: {
    routeExtra?: string;
    routeFields?: string;
    hcmExtra?: string;
    routeConfigExtra?: string;
    clusterExtra?: string;
  } = {},
): string {
  return httpProxyYaml({
    hcmExtra: opts.hcmExtra,
    routeConfigExtra: opts.routeConfigExtra,
    virtualHosts: catchAllVirtualHost({ action: opts.routeExtra, routeFields: opts.routeFields }),
    clusters: staticCluster('o', ports, opts.clusterExtra),
  });
}

/**
 * The virtual host `all`: every domain, every path to `cluster` (default `o`). `action` adds route
 * action fields beside `cluster` (YAML lines), `routeFields` adds fields of the route itself
 * (typed_per_filter_config …), `routesBefore` adds routes (list items) matched first.
 */
export function catchAllVirtualHost(
  opts: { cluster?: string; action?: string; routeFields?: string; routesBefore?: string } = {},
): string {
  return `
- name: all
  domains: ["*"]
  routes:
${indent(opts.routesBefore ?? '', 2)}
  - match: { prefix: "/" }
    route:
      cluster: ${opts.cluster ?? 'o'}
${indent(opts.action ?? '', 6)}
${indent(opts.routeFields ?? '', 4)}`;
}

/**
 * A STATIC cluster YAML fragment (Envoy's default ROUND_ROBIN unless `extra` sets `lb_policy`).
 * `ports` lists the endpoints, or one list per priority level (P0 first).
 */
export function staticCluster(name: string, ports: number[] | number[][], extra = ''): string {
  const levels = (ports.length > 0 && Array.isArray(ports[0]) ? ports : [ports]) as number[][];
  return `- name: ${name}
  connect_timeout: 1s
  type: STATIC
${indent(extra, 2)}
  load_assignment:
    cluster_name: ${name}
    endpoints:
${levels
  .map(
    (level, priority) =>
      `    - ${priority > 0 ? `priority: ${priority}\n      ` : ''}lb_endpoints:\n` +
      level
        .map(
          (p) =>
            `      - endpoint:\n          address:\n            socket_address: { address: 127.0.0.1, port_value: ${p} }`,
        )
        .join('\n'),
  )
  .join('\n')}
`;
}

/**
 * A cluster's `health_checks` field: one check of `check` (e.g. `http_health_check: { path: /hc }`)
 * every `intervalS`. no_traffic_interval is the same: by Envoy's rule a cluster that never had
 * traffic is checked every 60 s, and tests start checking before any request.
 */
export function healthChecksYaml(
  check: string,
  o: { intervalS?: number; timeoutS?: number; unhealthyThreshold?: number; healthyThreshold?: number } = {},
): string {
  const interval = o.intervalS ?? 0.1;
  return `health_checks:
- timeout: ${o.timeoutS ?? 0.2}s
  interval: ${interval}s
  no_traffic_interval: ${interval}s
  unhealthy_threshold: ${o.unhealthyThreshold ?? 2}
  healthy_threshold: ${o.healthyThreshold ?? 2}
${indent(check, 2)}`;
}

/** Prefixes every non-blank line of `text` with `n` spaces (YAML fragments into their place). */
export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => pad + l)
    .join('\n');
}

/** GET the admin endpoint. */
export async function admin(lp: LegateProcess, p: string, method = 'GET'): Promise<SimpleResponse> {
  if (lp.adminPort === null) throw new Error('no admin port');
  return request(lp.adminPort, { path: p, method });
}

/** Reads a stat's value from /stats (sum over workers). */
export async function stat(lp: LegateProcess, name: string): Promise<number> {
  const r = await admin(lp, `/stats?filter=^${name.replace(/\./g, '\\.')}$`);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(r.body.toString());
  if (!m) throw new Error(`stat ${name} not found in:\n${r.body.toString()}`);
  return Number(m[1]);
}

/** One keep-alive connection: each `get` sends a request on it and resolves with the response text. */
export function keepAliveConnection(port: number): { get(): Promise<string>; close(): void } {
  const socket = net.connect(port, '127.0.0.1');
  let buffered = '';
  let waiting: ((text: string) => void) | null = null;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const end = buffered.indexOf('\r\n\r\n');
    const length = /content-length: (\d+)/i.exec(buffered.slice(0, end));
    if (end === -1 || length === null || buffered.length < end + 4 + Number(length[1])) return;
    const response = buffered.slice(0, end + 4 + Number(length[1]));
    buffered = buffered.slice(response.length);
    waiting?.(response);
  });
  return {
    get: () =>
      new Promise((resolve, reject) => {
        waiting = resolve;
        socket.once('error', reject);
        socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      }),
    close: () => socket.destroy(),
  };
}
