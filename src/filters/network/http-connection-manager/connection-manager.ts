/**
 * The HTTP connection manager network filter, worker side (Envoy's ConnectionManagerImpl): one per
 * listener per worker. It takes accepted sockets, wraps each in the downstream HTTP/1.1 codec, and
 * makes one ActiveStream per request. Config-time work (route table, filter factories, stats
 * binding) happens once here, never per request.
 */
import type * as net from 'node:net';
import type { HttpConnectionManagerConfig } from '../../../config/bootstrap';
import type {
  RequestDecoder,
  ResponseEncoder,
  ResponseHead,
  ServerConnection,
  ServerConnectionCallbacks,
} from '../../../http/codec';
import { createServerConnection, type ServerCodecOptions } from '../../../http/server-connection';
import type { StreamFilter, HttpFilterFactory } from '../../http/api';
import { FilterStatus, type NetworkFilterContext, type TerminalNetworkFilter } from '../api';
import { compileRouteTable, type RouteTable } from '../../../router/route-table';
import type { WorkerServices } from '../../../worker/services';
import type { Counter, Gauge } from '../../../stats/store';
import type { Histogram } from '../../../stats/histogram';
import type { AccessLogger } from '../../../access-log/api';
import { createAccessLoggers } from '../../../access-log/access-logs';
import { buildAll, buildAt, buildEach } from '../../../config/build-error';
import { ActiveStream } from './active-stream';
import type { TimeoutTarget } from '../../../common/timer-wheel';

/** The stats one HCM updates, bound once (`http.<stat_prefix>.*`). */
export class HcmStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxDestroy: Counter;
  readonly cxProtocolError: Counter;
  readonly rqTotal: Counter;
  readonly rqHttp1: Counter;
  readonly rqActive: Gauge;
  readonly rqCompleted: Counter;
  readonly rqRxReset: Counter;
  readonly rqTxReset: Counter;
  readonly rqIdleTimeout: Counter;
  readonly rqTimeout: Counter;
  readonly rqHeaderTimeout: Counter;
  readonly cxIdleTimeout: Counter;
  readonly noRoute: Counter;
  readonly noCluster: Counter;
  readonly directResponse: Counter;
  readonly redirect: Counter;
  readonly rqXx: Counter[];
  readonly rqTime: Histogram;

  constructor(services: WorkerServices, statPrefix: string) {
    const p = `http.${statPrefix}.`;
    const s = services.stats;
    this.cxTotal = s.counter(p + 'downstream_cx_total');
    this.cxActive = s.gauge(p + 'downstream_cx_active');
    this.cxDestroy = s.counter(p + 'downstream_cx_destroy');
    this.cxProtocolError = s.counter(p + 'downstream_cx_protocol_error');
    this.rqTotal = s.counter(p + 'downstream_rq_total');
    this.rqHttp1 = s.counter(p + 'downstream_rq_http1_total');
    this.rqActive = s.gauge(p + 'downstream_rq_active');
    this.rqCompleted = s.counter(p + 'downstream_rq_completed');
    this.rqRxReset = s.counter(p + 'downstream_rq_rx_reset');
    this.rqTxReset = s.counter(p + 'downstream_rq_tx_reset');
    this.rqIdleTimeout = s.counter(p + 'downstream_rq_idle_timeout');
    this.rqTimeout = s.counter(p + 'downstream_rq_timeout');
    this.rqHeaderTimeout = s.counter(p + 'downstream_rq_header_timeout');
    this.cxIdleTimeout = s.counter(p + 'downstream_cx_idle_timeout');
    this.noRoute = s.counter(p + 'no_route');
    this.noCluster = s.counter(p + 'no_cluster');
    this.directResponse = s.counter(p + 'rq_direct_response');
    this.redirect = s.counter(p + 'rq_redirect');
    this.rqXx = [1, 2, 3, 4, 5].map((c) => s.counter(`${p}downstream_rq_${c}xx`));
    this.rqTime = s.histogram(p + 'downstream_rq_time');
  }
}

export class HttpConnectionManager implements TerminalNetworkFilter {
  readonly routeTable: RouteTable;
  readonly stats: HcmStats;
  readonly services: WorkerServices;
  /** `access_log[]`: called once per destroyed stream. */
  readonly accessLoggers: AccessLogger[];
  private readonly filterFactories: (() => StreamFilter)[];
  private readonly codecOptions: ServerCodecOptions;
  private readonly connections = new Set<DownstreamConnection>();
  private draining = false;
  private onDrained: (() => void) | null = null;

  constructor(
    readonly config: HttpConnectionManagerConfig,
    ctx: NetworkFilterContext,
  ) {
    this.services = ctx.services as WorkerServices;
    this.stats = new HcmStats(this.services, config.statPrefix);
    // Built together so that the primary's config check reports the problems of all three.
    [this.accessLoggers, this.routeTable, this.filterFactories] = buildAll(
      () => createAccessLoggers(config.accessLog, this.services.registry, this.services.accessLogSinks),
      () => compileRouteTable(config.routeConfig),
      () =>
        buildEach(config.httpFilters, (f) =>
          buildAt(f.at, () =>
            (
              this.services.registry.get('http_filter', f.name) as HttpFilterFactory<unknown>
            ).createFilterFactory(f.config, {
              workerIndex: ctx.workerIndex,
              configName: f.configName,
              services: this.services,
            }),
          ),
        ),
    );
    this.codecOptions = {
      maxRequestHeadersKb: config.maxRequestHeadersKb,
      maxRequestHeadersCount: config.maxRequestHeadersCount,
      headersWithUnderscoresAction: config.headersWithUnderscoresAction,
      acceptHttp10: config.acceptHttp10,
      maxRequestBodyBytes: 0,
    };
  }

  onNewConnection(socket: net.Socket): FilterStatus {
    if (this.draining) {
      socket.destroy();
      return FilterStatus.StopIteration;
    }
    const conn = new DownstreamConnection(this);
    conn.codec = createServerConnection(socket, conn, this.codecOptions);
    this.connections.add(conn);
    this.stats.cxTotal.inc();
    this.stats.cxActive.inc();
    return FilterStatus.StopIteration;
  }

  /** For codecs that own their sockets (uWS): requests arrive without a per-connection object. */
  httpCallbacks(): ServerConnectionCallbacks {
    return {
      newStream: (encoder: ResponseEncoder): RequestDecoder => new ActiveStream(this, encoder, null),
      onConnectionClose: () => {},
    };
  }

  createFilters(): StreamFilter[] {
    const f = this.filterFactories;
    const out = new Array<StreamFilter>(f.length);
    for (let i = 0; i < f.length; i++) out[i] = f[i]!();
    return out;
  }

  /** Headers every response gets on its way out: Server and Date. */
  finalizeResponseHeaders(head: ResponseHead): void {
    const h = head.headers;
    switch (this.config.serverHeaderTransformation) {
      case 'OVERWRITE':
        h.set('server', this.config.serverName);
        break;
      case 'APPEND_IF_ABSENT':
        if (!h.has('server')) h.add('server', this.config.serverName);
        break;
      case 'PASS_THROUGH':
        break;
    }
    if (!h.has('date')) h.add('date', this.services.date.get());
  }

  recordResponse(status: number): void {
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.stats.rqXx[cls - 1]!.inc();
    this.stats.rqCompleted.inc();
  }

  recordLocalReplyDetails(details: string): void {
    if (details === 'route_not_found') this.stats.noRoute.inc();
    else if (details === 'cluster_not_found') this.stats.noCluster.inc();
    else if (details === 'direct_response') this.stats.directResponse.inc();
  }

  connectionClosed(conn: DownstreamConnection): void {
    if (!this.connections.delete(conn)) return;
    this.stats.cxActive.dec();
    this.stats.cxDestroy.inc();
    if (this.draining && this.connections.size === 0) this.finishDrain();
  }

  drain(done: () => void): void {
    this.draining = true;
    this.onDrained = done;
    for (const conn of this.connections) conn.codec?.shutdownNotice();
    if (this.connections.size === 0) this.finishDrain();
  }

  private finishDrain(): void {
    const done = this.onDrained;
    this.onDrained = null;
    done?.();
  }
}

/**
 * Per downstream connection: gives the codec a stream per request, reports the close, and owns the
 * connection-level timeouts: `common_http_protocol_options.idle_timeout` (no request in flight for
 * that long → close) and `request_headers_timeout` (a request head that takes too long → close).
 */
export class DownstreamConnection implements ServerConnectionCallbacks {
  codec: ServerConnection | null = null;
  private readonly idleTimer: ConnectionTimer;
  private readonly headersTimer: ConnectionTimer;

  constructor(private readonly hcm: HttpConnectionManager) {
    this.idleTimer = new ConnectionTimer(this, 'idle');
    this.headersTimer = new ConnectionTimer(this, 'headers');
    hcm.services.timers.arm(this.idleTimer, hcm.config.idleTimeoutMs);
  }

  onRequestBegin(): void {
    this.hcm.services.timers.disarm(this.idleTimer);
    this.hcm.services.timers.arm(this.headersTimer, this.hcm.config.requestHeadersTimeoutMs);
  }

  newStream(encoder: ResponseEncoder): RequestDecoder {
    const timers = this.hcm.services.timers;
    timers.disarm(this.idleTimer);
    timers.disarm(this.headersTimer);
    return new ActiveStream(this.hcm, encoder, this);
  }

  /** The stream's exchange is over: the connection is idle until the next request begins. */
  streamDone(): void {
    this.hcm.services.timers.arm(this.idleTimer, this.hcm.config.idleTimeoutMs);
  }

  onTimer(kind: 'idle' | 'headers'): void {
    if (kind === 'idle') this.hcm.stats.cxIdleTimeout.inc();
    else this.hcm.stats.rqHeaderTimeout.inc();
    this.codec?.close();
  }

  onConnectionClose(): void {
    const timers = this.hcm.services.timers;
    timers.disarm(this.idleTimer);
    timers.disarm(this.headersTimer);
    this.hcm.connectionClosed(this);
  }
}

class ConnectionTimer implements TimeoutTarget {
  timerDeadline = 0;
  timerBucket = -1;
  constructor(
    private readonly conn: DownstreamConnection,
    private readonly kind: 'idle' | 'headers',
  ) {}
  onTimeout(): void {
    this.conn.onTimer(this.kind);
  }
}
