/**
 * The admin API on the primary thread (Envoy's admin endpoints and formats). It reads the shared
 * stats table directly, so no request here ever messages a worker. Mutating endpoints are POST
 * only; a GET on them answers 400, as Envoy does.
 */
import * as http from 'node:http';
import type { AdminConfig, Bootstrap, HttpConnectionManagerConfig } from '../config/bootstrap';
import type { Gauge, StatsStore } from '../stats/store';
import { HistogramIntervals } from '../stats/histogram-intervals';
import type { HostTable } from '../upstream/host-table';
import type { OutlierReadouts } from '../upstream/outlier/primary-detectors';
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../common/log';
import { nativeStatus } from '../native';
import { VERSION } from '../common/version';
import { renderStatsText, renderStatsJson, renderPrometheus, type StatsQuery } from './stats-format';
import { renderClustersJson, renderClustersText } from './clusters';
import { renderCerts } from './certs';
import type { AccessLogger } from '../access-log/api';
import { logAdminRequest } from './request-log';
import { closeAccessLogSinks } from '../access-log/sinks';
import { HeapGauges } from '../stats/heap-gauges';
import type { DynamicResourcesView } from '../worker/dynamic-resources';

/** What the admin needs from the process it administers (implemented by the Primary). */
/** A reload's result: applied (the config generation now serving), or why the old config stays. */
export type ReloadResult = { ok: true; generation: number } | { ok: false; errors: string };

export interface ServerState {
  readonly state: 'LIVE' | 'DRAINING';
  readonly uptimeSeconds: number;
  readonly concurrency: number;
  readonly stats: StatsStore;
  /** Per-host counters of every worker (for /clusters). */
  readonly hostTable: HostTable;
  /** What the outlier detectors computed at their last interval (for /clusters). */
  readonly outlierDetectors: OutlierReadouts;
  /** What the workers run: the static resources and the accepted xDS ones. */
  readonly bootstrap: Bootstrap;
  /** The bootstrap's own resources (/config_dump's static ones). */
  readonly statics: Bootstrap;
  /** The accepted xDS resources and those an update is warming (/config_dump's dynamic ones). */
  readonly dynamicResources: DynamicResourcesView;
  readonly ports: ReadonlyMap<string, number>;
  /** Per listener: served by the workers' native engine, or by Node's sockets. */
  readonly listenerPaths: ReadonlyMap<string, 'native' | 'js'>;
  readonly options: { commandLine: Record<string, unknown>; rawConfig: unknown; drainTimeS: number };
  healthCheckFailed: boolean;
  drainAndExit(): Promise<never>;
  drainListeners(): void;
  /** Re-reads the bootstrap and applies it (a Legate extension: SIGHUP, `legate reload`). */
  reload(): Promise<ReloadResult>;
  setLogLevel(level: LogLevel): void;
  crashWorker(index: number): boolean;
  allocateInWorker(index: number, bytes: number): boolean;
  collectGarbage(): void;
}

type Handler = (url: URL, res: http.ServerResponse) => void;

interface Endpoint {
  help: string;
  mutates: boolean;
  handle: Handler;
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly endpoints: Map<string, Endpoint>;
  private readonly intervals: HistogramIntervals;
  private readonly serverGauges: ServerGauges;
  port = 0;

  constructor(
    private readonly s: ServerState,
    private readonly config: AdminConfig,
    /** `admin.access_log`, built on the primary's own sinks. */
    private readonly accessLoggers: readonly AccessLogger[] = [],
  ) {
    this.intervals = new HistogramIntervals(s.stats);
    this.serverGauges = new ServerGauges(s.stats);
    this.endpoints = this.buildEndpoints();
    this.server = http.createServer((req, res) => this.dispatch(req, res));
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.address.port, this.config.address.address, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        this.port = typeof a === 'object' && a !== null ? a.port : this.config.address.port;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.intervals.close();
    closeAccessLogSinks();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private dispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
    logAdminRequest(req, res, this.accessLoggers);
    const url = new URL(req.url ?? '/', 'http://admin');
    const ep = this.endpoints.get(url.pathname);
    if (ep === undefined) {
      send(res, 404, 'text/plain', `invalid path. admin commands are:\n${this.helpText()}`);
      return;
    }
    if (ep.mutates && req.method !== 'POST') {
      send(res, 400, 'text/plain', 'This endpoint requires POST.\n');
      return;
    }
    ep.handle(url, res);
  }

  private helpText(): string {
    const lines: string[] = [];
    for (const [p, e] of this.endpoints) lines.push(`  ${p}: ${e.help}`);
    return lines.join('\n') + '\n';
  }

  private buildEndpoints(): Map<string, Endpoint> {
    const s = this.s;
    const get = (help: string, handle: Handler): Endpoint => ({ help, mutates: false, handle });
    const post = (help: string, handle: Handler): Endpoint => ({ help, mutates: true, handle });
    const help = get('print out list of admin commands', (_u, res) =>
      send(res, 200, 'text/plain', this.helpText()),
    );
    return new Map<string, Endpoint>([
      ['/', help],
      ['/help', help],
      [
        '/ready',
        get('print server state, return 200 if LIVE, otherwise return 503', (_u, res) =>
          send(res, s.state === 'LIVE' ? 200 : 503, 'text/plain', `${s.state}\n`),
        ),
      ],
      [
        '/server_info',
        get('print server version/status information', (_u, res) => sendJson(res, this.serverInfo())),
      ],
      ['/config_dump', get('dump current Envoy configs', (_u, res) => sendJson(res, this.configDump()))],
      [
        '/stats',
        get('print server stats', (u, res) => {
          const q = this.statsQuery(u);
          if (q instanceof Error) return send(res, 400, 'text/plain', `${q.message}\n`);
          const format = u.searchParams.get('format');
          if (format === 'json') return sendJson(res, renderStatsJson(s.stats, this.intervals, q));
          if (format === 'prometheus') return send(res, 200, PROM_TYPE, renderPrometheus(s.stats, q));
          if (format !== null && format !== 'text')
            return send(res, 400, 'text/plain', `unsupported format '${format}'\n`);
          send(res, 200, 'text/plain', renderStatsText(s.stats, this.intervals, q));
        }),
      ],
      [
        '/stats/prometheus',
        get('print server stats in prometheus format', (u, res) => {
          const q = this.statsQuery(u);
          if (q instanceof Error) return send(res, 400, 'text/plain', `${q.message}\n`);
          send(res, 200, PROM_TYPE, renderPrometheus(s.stats, q));
        }),
      ],
      ['/listeners', get('print listener info', (u, res) => this.listeners(u, res))],
      ['/certs', get('print certs on machine', (_u, res) => sendJson(res, renderCerts(s.bootstrap)))],
      ['/clusters', get('upstream cluster status', (u, res) => this.clusters(u, res))],
      [
        '/memory',
        get('print current allocation/heap usage', (_u, res) => sendJson(res, this.serverGauges.memory())),
      ],
      ['/runtime', get('print runtime values', (_u, res) => sendJson(res, { entries: {}, layers: [] }))],
      [
        '/quitquitquit',
        post('exit the server', (_u, res) => {
          send(res, 200, 'text/plain', 'OK\n');
          res.on('finish', () => void s.drainAndExit());
        }),
      ],
      [
        '/healthcheck/fail',
        post('cause the server to fail health checks', (_u, res) => {
          s.healthCheckFailed = true;
          send(res, 200, 'text/plain', 'OK\n');
        }),
      ],
      [
        '/healthcheck/ok',
        post('cause the server to pass health checks', (_u, res) => {
          s.healthCheckFailed = false;
          send(res, 200, 'text/plain', 'OK\n');
        }),
      ],
      [
        '/drain_listeners',
        post('drain listeners', (_u, res) => {
          s.drainListeners();
          send(res, 200, 'text/plain', 'OK\n');
        }),
      ],
      [
        '/reset_counters',
        post('reset all counters to zero', (_u, res) => {
          s.stats.resetCounters();
          send(res, 200, 'text/plain', 'OK\n');
        }),
      ],
      ['/logging', post('query/change logging levels', (u, res) => this.logging(u, res))],
      [
        '/reload',
        post('re-read the config file and apply it (Legate extension)', (_u, res) => {
          void s
            .reload()
            .then((r) =>
              r.ok
                ? send(res, 200, 'text/plain', `OK: reload ${r.generation} applied\n`)
                : send(res, 400, 'text/plain', `${r.errors}\n`),
            );
        }),
      ],
      ...(process.env.LEGATE_TEST_HOOKS === '1' ? this.testHooks() : []),
    ]);
  }

  /**
   * Only with LEGATE_TEST_HOOKS=1: lets the end-to-end tests crash a worker on purpose, and list
   * the declared stats no thread bound (names that could only ever read 0).
   */
  private testHooks(): [string, Endpoint][] {
    const workerHook =
      (hook: (index: number, u: URL) => boolean): Handler =>
      (u, res) => {
        const ok = hook(Number(u.searchParams.get('index') ?? '0'), u);
        send(res, ok ? 200 : 404, 'text/plain', ok ? 'OK\n' : 'no such worker\n');
      };
    const crash = workerHook((index) => this.s.crashWorker(index));
    const allocate = workerHook((index, u) =>
      this.s.allocateInWorker(index, Number(u.searchParams.get('bytes') ?? '0')),
    );
    const unbound: Handler = (_u, res) =>
      send(res, 200, 'application/json', JSON.stringify(this.s.stats.unboundNames()));
    return [
      ['/debug/crash_worker', { help: 'test hook: crash a worker', mutates: true, handle: crash }],
      [
        '/debug/worker_allocate',
        { help: 'test hook: a worker allocates and keeps ?bytes= of heap', mutates: true, handle: allocate },
      ],
      [
        '/debug/gc',
        {
          help: 'test hook: every thread collects garbage',
          mutates: true,
          handle: (_u, res) => {
            this.s.collectGarbage();
            send(res, 200, 'text/plain', 'OK\n');
          },
        },
      ],
      [
        '/debug/unbound_stats',
        { help: 'test hook: declared stats no thread bound', mutates: false, handle: unbound },
      ],
    ];
  }

  private serverInfo(): unknown {
    const s = this.s;
    const uptime = `${s.uptimeSeconds}s`;
    return {
      version: `legate/${VERSION}`,
      state: s.state,
      hot_restart_version: 'disabled',
      command_line_options: {
        concurrency: s.concurrency,
        drain_time: `${s.options.drainTimeS}s`,
        restart_epoch: 0,
        ...s.options.commandLine,
      },
      node: { id: '', cluster: '' },
      uptime_current_epoch: uptime,
      uptime_all_epochs: uptime,
      legate: { native: nativeStatus(), listener_data_paths: Object.fromEntries(s.listenerPaths) },
    };
  }

  private configDump(): unknown {
    const s = this.s;
    return {
      configs: [
        { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: s.options.rawConfig },
        this.listenersDump(),
        this.clustersDump(),
        this.routesDump(),
      ],
    };
  }

  /**
   * Envoy's ListenersConfigDump: static listeners as Legate normalised them, dynamic ones as the
   * LDS file wrote them, each with its `active_state`, or `warming_state` while an update builds it.
   */
  private listenersDump(): unknown {
    const { statics, dynamicResources } = this.s;
    const lds = dynamicResources.listeners;
    const warming = dynamicResources.warmingResources.listeners;
    const names = new Set([...(lds?.resources ?? []).map((r) => r.name), ...warming.map((l) => l.name)]);
    return {
      '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      version_info: lds?.versionInfo ?? '',
      static_listeners: statics.listeners.map((l) => ({ listener: l })),
      dynamic_listeners: [...names].map((name) => {
        const active = lds?.resources.find((r) => r.name === name);
        const building = warming.find((l) => l.name === name);
        return {
          name,
          ...(active && lds
            ? {
                active_state: {
                  version_info: lds.versionInfo,
                  listener: active.raw,
                  last_updated: lds.lastUpdated,
                },
              }
            : {}),
          ...(building ? { warming_state: { listener: building } } : {}),
        };
      }),
    };
  }

  /**
   * Envoy's RoutesConfigDump: the connection managers' inline route configurations (as Legate
   * normalised them) and those RDS files delivered (as written).
   */
  private routesDump(): unknown {
    const statics: unknown[] = [];
    for (const l of this.s.statics.listeners)
      for (const chain of l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains)
        for (const f of chain.filters) {
          const hcm = f.config as Partial<HttpConnectionManagerConfig>;
          if (hcm.routeConfig !== undefined && !hcm.rds) statics.push({ route_config: hcm.routeConfig });
        }
    const seen = new Set<string>();
    const dynamic: unknown[] = [];
    for (const accepted of this.s.dynamicResources.routeConfigs)
      for (const r of accepted.resources) {
        if (seen.has(r.name)) continue;
        seen.add(r.name);
        dynamic.push({
          version_info: accepted.versionInfo,
          route_config: r.raw,
          last_updated: accepted.lastUpdated,
        });
      }
    return {
      '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      static_route_configs: statics,
      dynamic_route_configs: dynamic,
    };
  }

  /** Envoy's ClustersConfigDump, in the same terms as listenersDump. */
  private clustersDump(): unknown {
    const { statics, dynamicResources } = this.s;
    const cds = dynamicResources.clusters;
    return {
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      version_info: cds?.versionInfo ?? '',
      static_clusters: statics.clusters.map((c) => ({ cluster: c })),
      dynamic_active_clusters: (cds?.resources ?? []).map((r) => ({
        version_info: cds!.versionInfo,
        cluster: r.raw,
        last_updated: cds!.lastUpdated,
      })),
      dynamic_warming_clusters: dynamicResources.warmingResources.clusters.map((c) => ({ cluster: c })),
    };
  }

  private listeners(u: URL, res: http.ServerResponse): void {
    const s = this.s;
    const entries = s.bootstrap.listeners.map((l) => ({
      name: l.name,
      local_address: {
        socket_address: { address: l.address.address, port_value: s.ports.get(l.name) ?? l.address.port },
      },
      // Legate's own field (JSON only; the text form stays Envoy's): who serves the listener.
      legate_data_path: s.listenerPaths.get(l.name) ?? 'js',
    }));
    if (u.searchParams.get('format') === 'json') return sendJson(res, { listener_statuses: entries });
    const text = entries
      .map(
        (e) =>
          `${e.name}::${e.local_address.socket_address.address}:${e.local_address.socket_address.port_value}\n`,
      )
      .join('');
    send(res, 200, 'text/plain', text);
  }

  private clusters(u: URL, res: http.ServerResponse): void {
    const { bootstrap, hostTable, outlierDetectors } = this.s;
    if (u.searchParams.get('format') === 'json')
      return sendJson(res, renderClustersJson(bootstrap.clusters, hostTable, outlierDetectors));
    send(res, 200, 'text/plain', renderClustersText(bootstrap.clusters, hostTable, outlierDetectors));
  }

  /** `filter` (a regex) and `usedonly`; server gauges computed on read are brought up to date first. */
  private statsQuery(u: URL): StatsQuery | Error {
    const f = u.searchParams.get('filter');
    let filter: RegExp | null = null;
    if (f !== null && f !== '') {
      try {
        filter = new RegExp(f);
      } catch (err) {
        return new Error(`Invalid regex: ${(err as Error).message}`);
      }
    }
    this.serverGauges.refresh(this.s.uptimeSeconds);
    return { filter, usedOnly: u.searchParams.has('usedonly') };
  }

  private logging(u: URL, res: http.ServerResponse): void {
    const level = u.searchParams.get('level');
    if (level !== null) {
      if (!(LOG_LEVELS as readonly string[]).includes(level)) {
        return send(
          res,
          400,
          'text/plain',
          `unknown level '${level}'; use one of ${LOG_LEVELS.join(', ')}\n`,
        );
      }
      setLogLevel(level as LogLevel);
      this.s.setLogLevel(level as LogLevel);
    }
    send(res, 200, 'text/plain', `active loggers:\n  legate: ${level ?? 'unchanged'}\n`);
  }
}

const PROM_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * `server.*` gauges that are facts about the process rather than counts: set on the primary's row
 * when the stats are read.
 */
class ServerGauges {
  private readonly uptime: Gauge;
  private readonly totalConnections: Gauge;
  private readonly physicalSize: Gauge;
  /** The primary's own heap (row 0); each worker publishes its own. */
  private readonly heap: HeapGauges;
  /** Positions of every `listener.<address>.downstream_cx_active` (not the per-worker ones). */
  private listenerActive: number[] = [];
  /** The stats generation `listenerActive` was read at (a reload moves positions). */
  private positionsAt = -1;

  constructor(private readonly stats: StatsStore) {
    this.uptime = stats.gauge('server.uptime');
    this.totalConnections = stats.gauge('server.total_connections');
    this.physicalSize = stats.gauge('server.memory_physical_size');
    this.heap = new HeapGauges(stats);
  }

  private listenerActivePositions(): number[] {
    if (this.positionsAt !== this.stats.generation) {
      this.positionsAt = this.stats.generation;
      this.listenerActive = [];
      this.stats.names.forEach((name, i) => {
        if (/^listener\..*\.downstream_cx_active$/.test(name) && !/\.worker_\d+\./.test(name))
          this.listenerActive.push(i);
      });
    }
    return this.listenerActive;
  }

  refresh(uptimeSeconds: number): void {
    this.uptime.set(uptimeSeconds);
    this.heap.publish();
    let connections = 0;
    for (const i of this.listenerActivePositions()) connections += this.stats.read(i);
    this.totalConnections.set(connections);
    this.physicalSize.set(process.memoryUsage.rss());
  }

  /**
   * Envoy's `/memory` over every thread: `allocated` and `heap_size` are the sums of each thread's
   * V8 heap (the primary's read now, the workers' as they last published, HEAP_PUBLISH_MS ago at
   * most), and `threads` lists each one; `total_physical_bytes` is the process's RSS. Envoy's
   * tcmalloc fields have no V8 counterpart and read 0.
   */
  memory(): unknown {
    // The primary's own figures directly: they stay right even when LEGATE_STATS=off.
    const main = this.heap.publish();
    const threads = [{ thread: 'main', allocated: main.allocated, heap_size: main.heapSize }];
    const stats = this.stats;
    const allocatedAt = stats.names.indexOf('server.memory_allocated');
    const heapSizeAt = stats.names.indexOf('server.memory_heap_size');
    for (let row = 1; row < stats.rows; row++) {
      threads.push({
        thread: `worker_${row - 1}`,
        allocated: stats.readRow(allocatedAt, row),
        heap_size: stats.readRow(heapSizeAt, row),
      });
    }
    let allocated = 0;
    let heapSize = 0;
    for (const t of threads) {
      allocated += t.allocated;
      heapSize += t.heap_size;
    }
    // Envoy writes its uint64 fields as JSON strings.
    return {
      allocated: String(allocated),
      heap_size: String(heapSize),
      pageheap_unmapped: '0',
      pageheap_free: '0',
      total_thread_cache: '0',
      total_physical_bytes: String(process.memoryUsage.rss()),
      threads: threads.map((t) => ({
        thread: t.thread,
        allocated: String(t.allocated),
        heap_size: String(t.heap_size),
      })),
    };
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache, max-age=0' });
  res.end(body);
}

function sendJson(res: http.ServerResponse, value: unknown): void {
  send(res, 200, 'application/json', JSON.stringify(value, null, 2) + '\n');
}
