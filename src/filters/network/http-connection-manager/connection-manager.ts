/**
 * The HTTP connection manager network filter, worker side (Envoy's ConnectionManagerImpl): one per
 * listener per worker. It takes accepted sockets, wraps each in the downstream codec `codec_type`
 * calls for (HTTP/1, HTTP/2, or AUTO: ALPN on TLS, the client's first bytes on plaintext), and
 * makes one ActiveStream per request. Config-time work (route table, filter factories, stats
 * binding) happens once here, never per request.
 */
import { ForwardingRules } from './forwarding';
import { sameConfig } from '../../../config/same-config';
import { LocalReplyRewriter } from './local-reply';
import type * as net from 'node:net';
import type { HttpConnectionManagerConfig } from '../../../config/bootstrap';
import type {
  HandOffReason,
  ProxiedResponsePlan,
  RequestHead,
  RequestDecoder,
  ResponseEncoder,
  ResponseHead,
  ServerConnection,
  ServerConnectionCallbacks,
} from '../../../http/codec';
import { UPSTREAM_SERVICE_TIME_HEADER } from '../../../http/codec';
import { createServerConnection, type ServerCodecOptions } from '../../../http/server-connection';
import { isValidHeaderValue } from '../../../http/h1-serialize';
import {
  createHttp2ServerConnection,
  type Http2CodecStats,
  type Http2ServerOptions,
} from '../../../http/h2/server-connection';
import { detectServerProtocol } from '../../../http/protocol-detect';
import {
  ignoresRequestBody,
  ignoresResponseBody,
  type StreamFilter,
  type HttpFilterFactory,
} from '../../http/api';
import { FilterStatus, type NetworkFilterContext, type TerminalNetworkFilter } from '../api';
import { compileRouteTable, type MatchedRoute, type RouteTable } from '../../../router/route-table';
import type { WorkerServices } from '../../../worker/services';
import type { Counter, Gauge } from '../../../stats/store';
import type { Histogram } from '../../../stats/histogram';
import type { AccessLogger } from '../../../access-log/api';
import { createAccessLoggers } from '../../../access-log/access-logs';
import { buildAll, buildAt, buildEach } from '../../../config/build-error';
import { ActiveStream } from './active-stream';
import { appendVia } from './request-headers';
import type { TimeoutTarget } from '../../../common/timer-wheel';
import { UnstreamedRequestLog } from './unstreamed-request';
import type { ConnectionAddresses } from '../../../access-log/connection-log';
import { DRAIN_QUIET_MS } from '../../../common/drain';
import { downstreamInfoOf, type DownstreamConnectionInfo } from '../../../transport/api';

/** The stats one HCM updates, bound once (`http.<stat_prefix>.*`). */
export class HcmStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxDestroy: Counter;
  readonly cxProtocolError: Counter;
  readonly rqTotal: Counter;
  readonly rqHttp1: Counter;
  readonly rqHttp2: Counter;
  /** The HTTP/2 codec's: `http.<prefix>.downstream_cx_http2_*` and Envoy's `http2.*`. */
  readonly http2: Http2CodecStats;
  readonly rqActive: Gauge;
  readonly rqCompleted: Counter;
  readonly rqRxReset: Counter;
  readonly rqTxReset: Counter;
  readonly rqIdleTimeout: Counter;
  readonly rqTimeout: Counter;
  readonly rqHeaderTimeout: Counter;
  /** Streams ended by max_stream_duration. */
  readonly rqMaxDurationReached: Counter;
  /** Paths refused (400) or redirected (307) by normalize_path / path_with_escaped_slashes_action. */
  readonly rqFailedPathNormalization: Counter;
  readonly rqRedirectedWithNormalizedPath: Counter;
  readonly cxIdleTimeout: Counter;
  /** Connections closed or drained by max_requests_per_connection / max_connection_duration. */
  readonly cxMaxRequestsReached: Counter;
  readonly cxMaxDurationReached: Counter;
  readonly noRoute: Counter;
  readonly noCluster: Counter;
  readonly directResponse: Counter;
  readonly redirect: Counter;
  /** Requests whose headers reached the router (Envoy's router stat `rq_total`). */
  readonly routedTotal: Counter;
  readonly rqXx: Counter[];
  readonly rqTime: Histogram;
  /** Streams that switched protocols (WebSocket, CONNECT, …), and those still open. */
  readonly cxUpgradesTotal: Counter;
  readonly cxUpgradesActive: Gauge;
  /** Upgrade requests refused because their upgrade is not enabled (403). */
  readonly rqWsOnNonWsRoute: Counter;

  constructor(services: WorkerServices, statPrefix: string) {
    const p = `http.${statPrefix}.`;
    const s = services.stats;
    this.cxTotal = s.counter(p + 'downstream_cx_total');
    this.cxActive = s.gauge(p + 'downstream_cx_active');
    this.cxDestroy = s.counter(p + 'downstream_cx_destroy');
    this.cxProtocolError = s.counter(p + 'downstream_cx_protocol_error');
    this.rqTotal = s.counter(p + 'downstream_rq_total');
    this.rqHttp1 = s.counter(p + 'downstream_rq_http1_total');
    this.rqHttp2 = s.counter(p + 'downstream_rq_http2_total');
    this.http2 = {
      cxHttp2Total: s.counter(p + 'downstream_cx_http2_total'),
      cxHttp2Active: s.gauge(p + 'downstream_cx_http2_active'),
      prematureResets: s.counter(p + 'downstream_rq_too_many_premature_resets'),
      rxReset: s.counter('http2.rx_reset'),
      txReset: s.counter('http2.tx_reset'),
      rxMessagingError: s.counter('http2.rx_messaging_error'),
      keepaliveTimeout: s.counter('http2.keepalive_timeout'),
      streamsActive: s.gauge('http2.streams_active'),
    };
    this.rqActive = s.gauge(p + 'downstream_rq_active');
    this.rqCompleted = s.counter(p + 'downstream_rq_completed');
    this.rqRxReset = s.counter(p + 'downstream_rq_rx_reset');
    this.rqTxReset = s.counter(p + 'downstream_rq_tx_reset');
    this.rqIdleTimeout = s.counter(p + 'downstream_rq_idle_timeout');
    this.rqTimeout = s.counter(p + 'downstream_rq_timeout');
    this.rqHeaderTimeout = s.counter(p + 'downstream_rq_header_timeout');
    this.rqMaxDurationReached = s.counter(p + 'downstream_rq_max_duration_reached');
    this.rqFailedPathNormalization = s.counter(p + 'downstream_rq_failed_path_normalization');
    this.rqRedirectedWithNormalizedPath = s.counter(p + 'downstream_rq_redirected_with_normalized_path');
    this.cxIdleTimeout = s.counter(p + 'downstream_cx_idle_timeout');
    this.cxMaxRequestsReached = s.counter(p + 'downstream_cx_max_requests_reached');
    this.cxMaxDurationReached = s.counter(p + 'downstream_cx_max_duration_reached');
    this.noRoute = s.counter(p + 'no_route');
    this.noCluster = s.counter(p + 'no_cluster');
    this.directResponse = s.counter(p + 'rq_direct_response');
    this.redirect = s.counter(p + 'rq_redirect');
    this.routedTotal = s.counter(p + 'rq_total');
    this.rqXx = [1, 2, 3, 4, 5].map((c) => s.counter(`${p}downstream_rq_${c}xx`));
    this.rqTime = s.histogram(p + 'downstream_rq_time');
    this.cxUpgradesTotal = s.counter(p + 'downstream_cx_upgrades_total');
    this.cxUpgradesActive = s.gauge(p + 'downstream_cx_upgrades_active');
    this.rqWsOnNonWsRoute = s.counter(p + 'downstream_rq_ws_on_non_ws_route');
  }
}

/**
 * How a request whose head is still arriving is timed out: Envoy starts stream_idle_timeout,
 * request_headers_timeout and request_timeout at the request's first byte (its stream exists from
 * then), and header bytes reset none of them, so the shortest one set is the head's deadline.
 */
interface HeadTimeout {
  readonly ms: number;
  /** downstream_rq_idle_timeout, _header_timeout or _timeout. */
  readonly counter: Counter;
  /** The 408's body, as Envoy words it. */
  readonly body: string;
  /** Response flag for the access log ('SI' for stream_idle_timeout), or ''. */
  readonly flag: string;
}

function headTimeout(config: HttpConnectionManagerConfig, stats: HcmStats): HeadTimeout | null {
  const candidates: HeadTimeout[] = [
    { ms: config.streamIdleTimeoutMs, counter: stats.rqIdleTimeout, body: 'stream timeout', flag: 'SI' },
    {
      ms: config.requestHeadersTimeoutMs,
      counter: stats.rqHeaderTimeout,
      body: 'request header timeout',
      flag: '',
    },
    { ms: config.requestTimeoutMs, counter: stats.rqTimeout, body: 'request timeout', flag: '' },
  ];
  let shortest: HeadTimeout | null = null;
  for (const c of candidates) if (c.ms > 0 && (shortest === null || c.ms < shortest.ms)) shortest = c;
  return shortest;
}

export class HttpConnectionManager implements TerminalNetworkFilter {
  /** Replaced in place when only the routes change (reload, LDS, RDS): each request reads it once. */
  routeTable: RouteTable;
  readonly stats: HcmStats;
  /** x-forwarded-for, internal or edge, and the headers that follow from it (internal_only_headers: routes). */
  forwarding: ForwardingRules;
  /** `local_reply_config`; null when absent. */
  readonly localReplyRewriter: LocalReplyRewriter | null;
  /** Null when none of the per-request timeouts is set. */
  readonly headTimeout: HeadTimeout | null;
  readonly services: WorkerServices;
  /** `access_log[]`: called once per destroyed stream. */
  readonly accessLoggers: AccessLogger[];
  private readonly filterFactories: (() => StreamFilter)[];
  private readonly codecOptions: ServerCodecOptions;
  private readonly http2Options: Http2ServerOptions;
  private readonly connections = new Set<DownstreamConnection>();
  /** Set by drain(): new responses carry `Connection: close`, idle connections are closed. */
  draining = false;
  /** Monotonic time at which draining connections close, idle or not (drain_timeout). */
  drainDeadlineMs = 0;
  private onDrained: (() => void) | null = null;
  /** Requests served by a codec that owns its connections (uWS), which the HCM never sees. */
  private readonly codecOwned = new CodecOwnedConnections(this);
  /** `upgrade_configs`: enabled or not, by lower-cased upgrade type. */
  private readonly upgrades: ReadonlyMap<string, boolean>;

  constructor(
    /** Replaced with the routes (`replaceRoutes`); every other field stays the same. */
    public config: HttpConnectionManagerConfig,
    ctx: NetworkFilterContext,
  ) {
    this.services = ctx.services as WorkerServices;
    this.stats = new HcmStats(this.services, config.statPrefix);
    this.headTimeout = headTimeout(config, this.stats);
    this.forwarding = new ForwardingRules(config);
    this.localReplyRewriter = config.localReply === null ? null : new LocalReplyRewriter(config.localReply);
    this.upgrades = new Map(config.upgradeConfigs.map((u) => [u.upgradeType, u.enabled]));
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
              hcmStatPrefix: `http.${config.statPrefix}.`,
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
    this.http2Options = {
      protocol: config.http2,
      maxRequestHeadersKb: config.maxRequestHeadersKb,
      maxRequestHeadersCount: config.maxRequestHeadersCount,
      headersWithUnderscoresAction: config.headersWithUnderscoresAction,
    };
  }

  /**
   * Whether an upgrade of `upgradeType` (lower-cased; `connect` for CONNECT) may go ahead on `route`:
   * the route's own setting for it if it has one, else the HCM's, else not (Envoy's table in its
   * "HTTP upgrades" architecture overview).
   */
  upgradeEnabled(upgradeType: string, route: MatchedRoute | null): boolean {
    return route?.upgradeOverrides?.get(upgradeType) ?? this.upgrades.get(upgradeType) ?? false;
  }

  /**
   * When `next` differs from this config only in its routes (route_config, or what RDS delivered),
   * returns the swap that puts them in place — new requests on every connection are routed by them
   * at once, requests in flight keep the route they matched — else null (the listener is rebuilt).
   * Not when the routes change whether upgrades may happen: the engine decided at start whether to
   * hand upgrade requests over.
   */
  routeUpdate(next: HttpConnectionManagerConfig): (() => void) | null {
    if (!sameConfig({ ...this.config, routeConfig: null }, { ...next, routeConfig: null })) return null;
    const table = compileRouteTable(next.routeConfig);
    if (table.hasUpgradeOverrides !== this.routeTable.hasUpgradeOverrides) return null;
    return () => {
      this.routeTable = table;
      this.config = next;
      this.forwarding = new ForwardingRules(next);
    };
  }

  /** max_requests_per_connection or max_connection_duration: state per downstream connection. */
  get limitsConnections(): boolean {
    return this.config.maxRequestsPerConnection > 0 || this.config.maxConnectionDurationMs > 0;
  }

  /** Whether any upgrade may be enabled, here or on a route (the JS codecs serve them). */
  get mayUpgrade(): boolean {
    return this.upgrades.size > 0 || this.routeTable.hasUpgradeOverrides;
  }

  /**
   * Whether the native engine (HTTP/1 only) may serve this HCM's connections: HTTP1, or AUTO when it
   * hands those that open with the HTTP/2 preface back (`continueAsHttp2`).
   */
  get servesHttp1Only(): boolean {
    return this.config.codecType !== 'HTTP2';
  }

  /** codec_type AUTO: whether a plaintext connection's first bytes choose its codec. */
  get detectsHttp2(): boolean {
    return this.config.codecType === 'AUTO';
  }

  /**
   * The native engine handed connection `conn` back on `socket` (its fd, with the bytes it read and
   * no one answered put back): it opened with the HTTP/2 preface (AUTO), and continues with the
   * HTTP/2 codec, or its request asks for an upgrade, and continues with Legate's HTTP/1 codec, which
   * tunnels. It stays the same connection: counted once, its timers running on.
   */
  continueOnSocket(conn: DownstreamConnection, socket: net.Socket, reason: HandOffReason): void {
    if (reason === 'http2-preface') {
      conn.codec = createHttp2ServerConnection(socket, conn, this.http2Options, this.stats.http2);
    } else {
      conn.codec = createServerConnection(socket, conn, this.codecOptions);
      socket.resume();
    }
    if (this.draining || conn.isDraining) conn.codec.shutdownNotice();
  }

  onNewConnection(socket: net.Socket, peeked: Buffer | null): FilterStatus {
    if (peeked !== null) socket.unshift(peeked);
    this.acceptConnection(socket, (callbacks) => this.newServerConnection(socket, callbacks));
    return FilterStatus.StopIteration;
  }

  /**
   * The codec for one connection: `codec_type`, or for AUTO what the connection negotiated (ALPN
   * `h2` on TLS) or, on plaintext, what its first bytes are (the HTTP/2 preface or not).
   */
  private newServerConnection(socket: net.Socket, callbacks: ServerConnectionCallbacks): ServerConnection {
    const http1 = (): ServerConnection => {
      const codec = createServerConnection(socket, callbacks, this.codecOptions);
      // A listener filter may have stopped reading to inspect the first bytes: the codec reads now.
      // (The HTTP/2 session reads the socket's handle itself, and takes what is buffered first.)
      if (socket.isPaused()) socket.resume();
      return codec;
    };
    const http2 = (): ServerConnection =>
      createHttp2ServerConnection(socket, callbacks, this.http2Options, this.stats.http2);
    switch (this.config.codecType) {
      case 'HTTP1':
        return http1();
      case 'HTTP2':
        return http2();
      case 'AUTO': {
        const tls = downstreamInfoOf.get(socket)?.tls;
        if (tls) return tls.alpn === 'h2' ? http2() : http1();
        return detectServerProtocol(
          socket,
          (isHttp2) => (isHttp2 ? http2() : http1()),
          () => callbacks.onConnectionClose(),
        );
      }
    }
  }

  /**
   * Serves a connection whose codec `codec` builds (Legate's on a socket, or the native engine's);
   * `peer` gives its addresses for the requests it answers without a stream.
   */
  acceptConnection(peer: ConnectionAddresses, codec: (conn: DownstreamConnection) => ServerConnection): void {
    const conn = new DownstreamConnection(this, peer);
    conn.codec = codec(conn);
    this.connections.add(conn);
    this.stats.cxTotal.inc();
    this.stats.cxActive.inc();
    // Accepted just as draining began (or handed over by exact_balance): it may carry a request.
    if (this.draining) conn.startDrain();
  }

  /** What the native engine's codec needs to serve this HCM's connections as Legate's codec would. */
  get codecSettings(): Readonly<ServerCodecOptions> {
    return this.codecOptions;
  }

  /** For codecs that own their sockets (uWS): requests arrive without a per-connection object. */
  httpCallbacks(): ServerConnectionCallbacks {
    const codecOwned = this.codecOwned;
    codecOwned.inUse = true;
    return {
      newStream: (encoder: ResponseEncoder): RequestDecoder => {
        codecOwned.streamBegun();
        return new ActiveStream(this, encoder, null);
      },
      onConnectionClose: () => {},
    };
  }

  /**
   * Whether the filters before the router leave request bodies alone, and those after it response
   * bodies: then bodies may move natively between engine connections. The same for every stream of
   * this HCM (same factories), so it is worked out on the first.
   */
  filtersIgnoreBodies(filters: readonly StreamFilter[]): { request: boolean; response: boolean } {
    if (this.bodyAgnostic === null) {
      const others = filters.slice(0, -1);
      this.bodyAgnostic = {
        request: others.every(ignoresRequestBody),
        response: others.every(ignoresResponseBody),
      };
    }
    return this.bodyAgnostic;
  }
  private bodyAgnostic: { request: boolean; response: boolean } | null = null;

  /** A stream of `conn` (null for uWS) ended. */
  streamDone(conn: DownstreamConnection | null, stream: ActiveStream): void {
    if (conn !== null) conn.streamDone(stream);
    else this.codecOwned.streamDone();
  }

  createFilters(): StreamFilter[] {
    const f = this.filterFactories;
    const out = new Array<StreamFilter>(f.length);
    for (let i = 0; i < f.length; i++) out[i] = f[i]!();
    return out;
  }

  /**
   * Headers every response gets on its way out: Server and Date, and per the config the request's
   * x-request-id (`always_set_request_id_in_response`) and Via.
   */
  finalizeResponseHeaders(head: ResponseHead, request: RequestHead | null): void {
    const h = head.headers;
    const config = this.config;
    if (config.alwaysSetRequestIdInResponse) {
      const id = request?.headers.get('x-request-id');
      if (id !== undefined) h.set('x-request-id', id);
    }
    if (config.via !== '') appendVia(h, config.via);
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
    // Envoy's drain for HTTP/1: the client learns not to reuse the connection (not on an upgrade).
    if (this.draining && head.status !== 101) h.set('connection', 'close');
  }

  /**
   * The connection manager's edits of every upstream response head, for codecs that write them
   * natively (ResponseEncoder.writeProxiedHeadFrom); null when the stream's `filters` or the access
   * logs need the head as a HeaderMap: any filter but the router, an access log reading a response
   * header other than the service time (which the stream knows: ActiveStream.responseHeader). The
   * same for every stream (same factories), so it is worked out on the first.
   */
  proxiedResponsePlan(filters: readonly StreamFilter[]): ProxiedResponsePlan | null {
    if (this.responsePlan === undefined)
      this.responsePlan = planProxiedResponses(this.config, filters.length, this.accessLoggers);
    return this.responsePlan;
  }
  private responsePlan: ProxiedResponsePlan | null | undefined = undefined;

  recordResponse(status: number): void {
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.stats.rqXx[cls - 1]!.inc();
    this.stats.rqCompleted.inc();
  }

  /**
   * A request answered before it became a stream (refused by the codec, or timed out while its head
   * was arriving), counted and logged as Envoy counts and logs its stream: a request, a response of
   * `status`, an access-log line with `flag`.
   */
  recordUnstreamedReply(
    peer: ConnectionAddresses,
    startMs: number,
    status: number,
    flag: string,
    bodyBytes: number,
  ): void {
    const stats = this.stats;
    stats.rqTotal.inc();
    stats.rqHttp1.inc();
    this.recordResponse(status);
    const now = this.services.now();
    stats.rqTime.record(now - startMs);
    const loggers = this.accessLoggers;
    if (loggers.length === 0) return;
    new UnstreamedRequestLog(peer, startMs, now, status, flag).logEnd(now, 0, bodyBytes, loggers);
  }

  recordLocalReplyDetails(details: string): void {
    if (details === 'route_not_found') this.stats.noRoute.inc();
    else if (details === 'cluster_not_found') this.stats.noCluster.inc();
    else if (details === 'direct_response') this.stats.directResponse.inc();
    else if (details === 'redirect') this.stats.redirect.inc();
  }

  connectionClosed(conn: DownstreamConnection): void {
    if (!this.connections.delete(conn)) return;
    this.stats.cxActive.dec();
    this.stats.cxDestroy.inc();
    this.finishDrainIfDone();
  }

  /**
   * Envoy's drain sequence for HTTP/1, on every connection at once: responses carry
   * `Connection: close`, in-flight requests are answered, idle connections close once quiet
   * (common/drain.ts) and at the latest at drain_timeout. `done` runs when none is left.
   */
  drain(done: () => void): void {
    this.draining = true;
    this.onDrained = done;
    this.drainDeadlineMs = this.services.now() + this.config.drainTimeoutMs;
    for (const conn of this.connections) conn.startDrain();
    this.codecOwned.startDrain();
    this.finishDrainIfDone();
  }

  finishDrainIfDone(): void {
    if (this.onDrained === null || this.connections.size > 0 || !this.codecOwned.drained) return;
    const done = this.onDrained;
    this.onDrained = null;
    done();
  }
}

/**
 * The connections of a codec that owns them (uWS), seen only through their streams: they are
 * closed all together by their listener once the HCM's drain is done, so they count as drained
 * when no stream is in flight and none has ended for DRAIN_QUIET_MS (or at drain_timeout).
 */
class CodecOwnedConnections implements TimeoutTarget {
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  /** httpCallbacks() was asked for: a codec owns this listener's connections. */
  inUse = false;
  drained = true;
  private activeStreams = 0;
  private quietSinceMs = 0;

  constructor(private readonly hcm: HttpConnectionManager) {}

  streamBegun(): void {
    this.activeStreams++;
  }

  streamDone(): void {
    this.activeStreams--;
    this.quietSinceMs = this.hcm.services.now();
    if (this.hcm.draining) this.check();
  }

  startDrain(): void {
    if (!this.inUse) return;
    this.drained = false;
    this.check();
  }

  onTimeout(): void {
    this.check();
  }

  private check(): void {
    if (this.drained || this.activeStreams > 0) return;
    const hcm = this.hcm;
    const wait = Math.min(this.quietSinceMs + DRAIN_QUIET_MS, hcm.drainDeadlineMs) - hcm.services.now();
    if (wait > 0) {
      hcm.services.timers.arm(this, wait);
      return;
    }
    this.drained = true;
    hcm.finishDrainIfDone();
  }
}

/**
 * Per downstream connection: gives the codec a stream per request, reports the close, and owns the
 * timeouts that run while no stream does: `common_http_protocol_options.idle_timeout` (no request
 * in flight for that long → close) and, from a request's first byte until its head is complete,
 * the per-request timeouts (`HeadTimeout` → 408 and close); while draining, when to close it (see
 * common/drain.ts). It also accounts for the requests the codec refuses (`onProtocolError`).
 */
export class DownstreamConnection implements ServerConnectionCallbacks, TimeoutTarget {
  codec: ServerConnection | null = null;
  /** SNI and TLS facts the listener recorded for this connection (null: plaintext, uninspected). */
  readonly info: DownstreamConnectionInfo | null;
  /**
   * The connection is its own timer (TimeoutTarget) for the idle timeout while no request is under
   * way and the head timeout from a request's first byte until its head is complete — never both
   * at once. One object less per connection: idle keep-alive connections are the ones that count.
   */
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  private timing: 'idle' | 'head' = 'idle';
  /** Monotonic ms of the current request's first byte. */
  private requestStartMs = 0;
  /**
   * The stream of the HTTP/1 request in flight, from its head's completion until it is destroyed
   * (the latest one on an HTTP/2 connection, where the codec's protocol errors are not per stream).
   */
  private stream: ActiveStream | null = null;
  /** Streams not yet destroyed: more than one at a time on HTTP/2. */
  private streamCount = 0;
  /** Made when a drain first needs it. */
  private drainTimer: ConnectionDeadline | null = null;
  /** max_connection_duration; null when none is set. */
  private durationTimer: ConnectionDeadline | null = null;
  /** Monotonic ms by which this connection closes, busy or not; Infinity until it drains. */
  private drainDeadlineMs = Infinity;
  /** Requests begun on this connection (max_requests_per_connection). */
  private requests = 0;
  /** When the connection last became idle (accepted, or its last exchange ended); -1 while a request is under way. */
  private idleSinceMs: number;

  constructor(
    private readonly hcm: HttpConnectionManager,
    private readonly peer: ConnectionAddresses,
  ) {
    this.info = downstreamInfoOf.get(peer) ?? null;
    hcm.services.timers.arm(this, hcm.config.idleTimeoutMs);
    this.idleSinceMs = hcm.services.now();
    const lifetime = hcm.config.maxConnectionDurationMs;
    if (lifetime > 0) {
      this.durationTimer = new ConnectionDeadline(this, onMaxConnectionDuration);
      hcm.services.timers.arm(this.durationTimer, lifetime);
    }
  }

  onRequestBegin(): void {
    const hcm = this.hcm;
    this.idleSinceMs = -1;
    this.requestStartMs = hcm.services.now();
    this.timing = 'head';
    if (hcm.headTimeout !== null) hcm.services.timers.arm(this, hcm.headTimeout.ms);
    else hcm.services.timers.disarm(this);
    // Draining: a request on its way is no longer idle: it has until drain_timeout.
    if (this.drainDeadlineMs !== Infinity) this.scheduleDrainClose();
  }

  newStream(encoder: ResponseEncoder): RequestDecoder {
    const hcm = this.hcm;
    this.idleSinceMs = -1;
    hcm.services.timers.disarm(this);
    // Envoy's max_requests_per_connection: the request that reaches it is the connection's last
    // (HTTP/1: its response carries `connection: close`; HTTP/2: GOAWAY).
    const maxRequests = hcm.config.maxRequestsPerConnection;
    if (maxRequests > 0 && ++this.requests === maxRequests) {
      hcm.stats.cxMaxRequestsReached.inc();
      this.codec?.shutdownNotice();
    }
    const stream = new ActiveStream(hcm, encoder, this);
    this.stream = stream;
    this.streamCount++;
    return stream;
  }

  /** A stream's exchange is over: with none left, the connection is idle until the next request begins. */
  streamDone(stream: ActiveStream): void {
    const hcm = this.hcm;
    if (this.stream === stream) this.stream = null;
    if (--this.streamCount > 0) return;
    this.timing = 'idle';
    hcm.services.timers.arm(this, hcm.config.idleTimeoutMs);
    this.idleSinceMs = hcm.services.now();
    if (this.drainDeadlineMs !== Infinity) this.scheduleDrainClose();
  }

  /** Draining (the HCM's drain, or max_connection_duration): a new codec must hear of it too. */
  get isDraining(): boolean {
    return this.drainDeadlineMs !== Infinity;
  }

  /** The HCM drains: responses now carry `Connection: close`; the connection closes once idle. */
  startDrain(): void {
    this.drainUntil(this.hcm.drainDeadlineMs);
  }

  /**
   * max_connection_duration ran out (Envoy's onConnectionDurationTimeout): the connection drains as
   * in the HCM's drain, with drain_timeout from now.
   */
  onMaxDuration(): void {
    const hcm = this.hcm;
    hcm.stats.cxMaxDurationReached.inc();
    this.drainUntil(hcm.services.now() + hcm.config.drainTimeoutMs);
  }

  private drainUntil(deadlineMs: number): void {
    this.drainDeadlineMs = Math.min(this.drainDeadlineMs, deadlineMs);
    this.codec?.shutdownNotice();
    this.scheduleDrainClose();
  }

  /**
   * An idle connection closes once quiet for DRAIN_QUIET_MS (at once if it already is); any
   * connection at its drain deadline (one with a response in flight right after that response).
   */
  private scheduleDrainClose(): void {
    const hcm = this.hcm;
    const now = hcm.services.now();
    let closeAt = this.drainDeadlineMs;
    if (this.idleSinceMs >= 0) closeAt = Math.min(closeAt, this.idleSinceMs + DRAIN_QUIET_MS);
    if (closeAt <= now) this.codec?.goAway();
    else
      hcm.services.timers.arm(
        (this.drainTimer ??= new ConnectionDeadline(this, onDrainTimeout)),
        closeAt - now,
      );
  }

  onProtocolError(status: number, bodyBytes: number): void {
    const hcm = this.hcm;
    hcm.stats.cxProtocolError.inc();
    if (this.timing === 'head') hcm.services.timers.disarm(this);
    const stream = this.stream;
    if (stream !== null) stream.onCodecProtocolError(status, bodyBytes);
    else if (status !== 0)
      hcm.recordUnstreamedReply(this.peer, this.requestStartMs, status, 'DPE', bodyBytes);
  }

  /** The idle or the head timeout (`timing`). */
  onTimeout(): void {
    const hcm = this.hcm;
    if (this.timing === 'idle') {
      hcm.stats.cxIdleTimeout.inc();
      this.codec?.close();
      return;
    }
    const timeout = hcm.headTimeout!;
    timeout.counter.inc();
    if (this.codec?.replyToPartialRequest(408, timeout.body)) {
      hcm.recordUnstreamedReply(this.peer, this.requestStartMs, 408, timeout.flag, timeout.body.length);
    } else this.codec?.close();
  }

  onDrainTimeout(): void {
    this.codec?.goAway();
  }

  onConnectionClose(): void {
    const timers = this.hcm.services.timers;
    timers.disarm(this);
    if (this.drainTimer !== null) timers.disarm(this.drainTimer);
    if (this.durationTimer !== null) timers.disarm(this.durationTimer);
    this.hcm.connectionClosed(this);
  }
}

/** A connection's own deadlines besides idle and head (the drain's close, max_connection_duration). */
class ConnectionDeadline implements TimeoutTarget {
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  constructor(
    private readonly conn: DownstreamConnection,
    private readonly expire: (conn: DownstreamConnection) => void,
  ) {}
  onTimeout(): void {
    this.expire(this.conn);
  }
}

function onDrainTimeout(conn: DownstreamConnection): void {
  conn.onDrainTimeout();
}

function onMaxConnectionDuration(conn: DownstreamConnection): void {
  conn.onMaxDuration();
}

/** HttpConnectionManager.proxiedResponsePlan for a chain of `filterCount` filters (the router last). */
export function planProxiedResponses(
  config: Pick<
    HttpConnectionManagerConfig,
    'serverHeaderTransformation' | 'serverName' | 'alwaysSetRequestIdInResponse' | 'via'
  >,
  filterCount: number,
  accessLoggers: readonly AccessLogger[],
): ProxiedResponsePlan | null {
  const { serverHeaderTransformation, serverName } = config;
  // Edits only JS makes: x-request-id and Via on responses.
  if (config.alwaysSetRequestIdInResponse || config.via !== '') return null;
  const logsNeedNoHead = accessLoggers.every((logger) =>
    logger.responseHeadersRead.every((name) => name === UPSTREAM_SERVICE_TIME_HEADER),
  );
  const asIs = filterCount === 1 && logsNeedNoHead && isValidHeaderValue(serverName);
  return asIs ? { serverMode: serverHeaderTransformation, serverName } : null;
}
