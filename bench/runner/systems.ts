/**
 * The systems under test, each with an equivalent config: nginx (1 or 2 workers), HAProxy (1 or 2
 * threads), Legate (from Envoy YAML, `--concurrency 2` as the project runs it), and `direct` (no
 * proxy: the load goes straight to the origin, the ceiling every proxy is compared against).
 */
import { join } from 'node:path';
import { failoverVars, type FailoverSpec } from './failover';
import { writeConfig } from './templates';
import { NGINX_STREAM_MODULE } from './tools';

/**
 * How a system is configured: `http` (HTTP/1.1 both sides), `tcp` (L4), `h2` (HTTP/2 h2c from
 * clients, HTTP/1.1 keep-alive to the origin), `grpc` (h2c both sides, to a gRPC origin).
 */
export type ProxyMode = 'http' | 'tcp' | 'h2' | 'grpc';
const BOTH_MODES: readonly ProxyMode[] = ['http', 'tcp'];
const EVERY_MODE: readonly ProxyMode[] = ['http', 'tcp', 'h2', 'grpc'];
/** peak_ewma exists only in Legate; nginx and HAProxy run least-connections for it. */
export type LbPolicy = 'round_robin' | 'least_request' | 'peak_ewma';

export interface SystemContext {
  benchDir: string;
  repoRoot: string;
  runDir: string;
  mode: ProxyMode;
  /** The port the system listens on. */
  port: number;
  upstreamPorts: number[];
  lb: LbPolicy;
  /** Health checking and retries for a failover scenario (see failover.ts); null for the plain configs. */
  failover: FailoverSpec | null;
}

export interface SystemLaunch {
  command: string;
  args: string[];
  /** The config file written for this run (kept in the results directory); socat has none. */
  configPath?: string;
}

export interface SystemDef {
  name: string;
  description: string;
  /** The proxy modes it can be configured for (checked when a scenario is loaded). */
  modes: readonly ProxyMode[];
  /** External programs (or modules, see tools.ts) it needs in this mode; installed if missing. */
  requires(mode: ProxyMode): string[];
  /** null for `direct`, which starts nothing. */
  launch(ctx: SystemContext): SystemLaunch | null;
}

function upstreamVars(ctx: SystemContext, name: string): Record<string, string> {
  const least = ctx.lb !== 'round_robin';
  const failover = failoverVars(ctx.failover);
  return {
    ...failover,
    NAME: name,
    NGINX_SERVERS: ctx.upstreamPorts
      .map((p) => `        server 127.0.0.1:${p}${failover.NGINX_SERVER_PARAMS};`)
      .join('\n'),
    NGINX_LB: least ? 'least_conn;' : '',
    HAPROXY_SERVERS: ctx.upstreamPorts
      .map((p, i) => `    server o${i} 127.0.0.1:${p}${failover.HAPROXY_SERVER_PARAMS}`)
      .join('\n'),
    HAPROXY_GRPC_SERVERS: ctx.upstreamPorts
      .map((p, i) => `    server o${i} 127.0.0.1:${p} proto h2`)
      .join('\n'),
    HAPROXY_LB: least ? 'balance leastconn' : 'balance roundrobin',
    LEGATE_ENDPOINTS: ctx.upstreamPorts
      .map(
        (p) =>
          `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`,
      )
      .join('\n'),
    LEGATE_LB: ctx.lb.toUpperCase(),
  };
}

function nginx(workers: number): SystemDef {
  const name = `nginx-${workers}w`;
  return {
    name,
    description: `nginx, worker_processes ${workers}, upstream keepalive 64`,
    modes: EVERY_MODE,
    requires: (mode) => (mode === 'tcp' ? ['nginx', 'nginx-stream-module'] : ['nginx']),
    launch(ctx) {
      const configPath = writeConfig(
        ctx.benchDir,
        `nginx-${ctx.mode}.conf`,
        ctx.runDir,
        `${name}-${ctx.mode}.conf`,
        {
          ...upstreamVars(ctx, name),
          PORT: ctx.port,
          WORKERS: workers,
          NGINX_STREAM_MODULE,
        },
      );
      return {
        command: 'nginx',
        args: ['-c', configPath, '-e', join(ctx.runDir, `${name}.err`)],
        configPath,
      };
    },
  };
}

function haproxy(threads: number): SystemDef {
  const name = `haproxy-${threads}t`;
  return {
    name,
    description: `HAProxy, nbthread ${threads}, http-reuse always`,
    modes: EVERY_MODE,
    requires: () => ['haproxy'],
    launch(ctx) {
      const configPath = writeConfig(
        ctx.benchDir,
        `haproxy-${ctx.mode}.cfg`,
        ctx.runDir,
        `${name}-${ctx.mode}.cfg`,
        {
          ...upstreamVars(ctx, name),
          PORT: ctx.port,
          THREADS: threads,
        },
      );
      return { command: 'haproxy', args: ['-db', '-f', configPath], configPath };
    },
  };
}

/**
 * Legate from the Envoy YAML template, with the given downstream HTTP/1.1 codec; `legate-js` is
 * Legate with the native engine turned off (LEGATE_ENGINE=js: Node's sockets; for tcp_proxy, the
 * splice relay thread).
 */
function legate(codec: 'legate' | 'uws', engine: 'native' | 'js' = 'native'): SystemDef {
  const name = codec === 'uws' ? 'legate-uws' : engine === 'js' ? 'legate-js' : 'legate';
  const how =
    codec === 'uws'
      ? 'the uWS HTTP/1.1 codec'
      : engine === 'js'
        ? "Legate's codec on Node's sockets"
        : 'the native HTTP engine';
  return {
    name,
    description: `Legate from Envoy YAML, --concurrency 2, ${how}`,
    // HTTP/2 listeners run on the JS path (and uWS speaks HTTP/1.1 only).
    modes: engine === 'native' && codec === 'legate' ? EVERY_MODE : BOTH_MODES,
    requires: () => [],
    launch(ctx) {
      const configPath = writeConfig(
        ctx.benchDir,
        `legate-${ctx.mode}.yaml.tmpl`,
        ctx.runDir,
        `${name}-${ctx.mode}.yaml`,
        {
          ...upstreamVars(ctx, 'legate'),
          PORT: ctx.port,
        },
      );
      const args = [join(ctx.repoRoot, 'bin', 'legate.js'), '-c', configPath, '--concurrency', '2'];
      if (codec === 'uws' && ctx.mode === 'http') args.push('--http1-codec', 'uws');
      // env(1) execs node in its place: the bench measures the same pid.
      if (engine === 'js')
        return { command: 'env', args: ['LEGATE_ENGINE=js', process.execPath, ...args], configPath };
      return { command: process.execPath, args, configPath };
    },
  };
}

const direct: SystemDef = {
  name: 'direct',
  description: 'no proxy: load goes straight to the origin',
  // Not `h2`: the HTTP/1.1 origin does not speak HTTP/2.
  modes: ['http', 'tcp', 'grpc'],
  requires: () => [],
  launch: () => null,
};

/**
 * socat as the simplest possible L4 relay: a forked process per connection, so it is the floor a
 * connection-rate scenario compares the event-driven proxies against. TCP mode only; one upstream.
 */
const socat: SystemDef = {
  name: 'socat',
  description: 'socat TCP-LISTEN,fork: one forked relay process per connection',
  modes: ['tcp'],
  requires: () => ['socat'],
  launch(ctx) {
    const args = [
      `TCP-LISTEN:${ctx.port},bind=127.0.0.1,fork,reuseaddr,backlog=4096`,
      `TCP:127.0.0.1:${ctx.upstreamPorts[0]}`,
    ];
    return { command: 'socat', args };
  },
};

export const SYSTEMS: ReadonlyMap<string, SystemDef> = new Map(
  [
    direct,
    nginx(1),
    nginx(2),
    haproxy(1),
    haproxy(2),
    legate('legate'),
    legate('legate', 'js'),
    legate('uws'),
    socat,
  ].map((s) => [s.name, s]),
);
