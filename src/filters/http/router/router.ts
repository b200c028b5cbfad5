/**
 * The router, the terminal HTTP filter (Envoy's Router::Filter): it acts on the route the
 * connection manager matched — direct response, redirect, or forward to a cluster — and for
 * forwarding owns timeouts, retries and the relay of the upstream response.
 *
 * Local replies use Envoy's bodies and response flags so logs and clients see what they would
 * see from Envoy: 404 (NR), 503 "no healthy upstream" (UH), 503 "upstream connect error or
 * disconnect/reset before headers. reset reason: …" (UF/UC/UR), 504 "upstream request timeout" (UT).
 *
 * An upgrade request goes to the cluster's tunnel pool (connections whose codec can become a
 * tunnel). Once the upstream switches protocols the route timeout no longer applies (Envoy starts
 * it at the request's end, which a tunnel only reaches at its close), and the exchange is over when
 * both directions have ended.
 */
import {
  switchesProtocols,
  type RequestHead,
  type ResponseEncoder,
  type ResponseHead,
  type StreamResetReason,
} from '../../../http/codec';
import { HeaderMap } from '../../../http/header-map';
import type { RouteActionConfig, RouterFilterConfig } from '../../../config/bootstrap';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter } from '../api';
import type { TimeoutTarget } from '../../../common/timer-wheel';
import type { WorkerServices } from '../../../worker/services';
import type { Cluster } from '../../../upstream/cluster';
import type { Host } from '../../../upstream/host';
import type { PoolFailureReason } from '../../../upstream/pool';
import { NO_LB_CONTEXT } from '../../../upstream/lb/api';
import type { ClusterStats } from '../../../stats/cluster-stats';
import type { MatchedRoute } from '../../../router/route-table';
import { MaxStreamDurationTimer, UpstreamRequest } from './upstream-request';
import { RetryDecision, RetryState, type RetryTrigger } from './retry-state';
import { hasDirective, readDirectives } from './request-directives';
import { HOP_BY_HOP_FIELDS } from '../../../http/hop-by-hop';
import { grpcStatusOf, grpcTimeoutMs, isGrpcRequest } from '../../../http/grpc';
import { SPLICE_AFTER_BYTES } from '../../../http/tunnel-splice';

/** Per-worker state shared by every router instance of one HCM. */
export interface RouterShared {
  readonly config: RouterFilterConfig;
  readonly services: WorkerServices;
  clusterStats(cluster: Cluster): ClusterStats;
}

const ATTEMPT_COUNT = 'x-envoy-attempt-count';
const RESET_BEFORE_HEADERS = 'upstream connect error or disconnect/reset before headers. reset reason: ';
/** Envoy's words for the reset reasons whose name does not read as they are. */
const RESET_TEXT: Partial<Record<StreamResetReason, string>> = {
  protocol_error: 'protocol error',
  refused_stream: 'remote refused stream reset',
};

/** Response headers that describe one hop and never pass through a proxy. */

export class RouterFilter extends PassThroughFilter implements TimeoutTarget {
  /** Request body kept for the upstream: before it is ready, and while a retry may still need it. */
  bufferedBody: Buffer[] = [];
  private bufferedBytes = 0;
  /** Keep body copies for retries (false once the body outgrew the buffer limit). */
  private retainBody = false;
  downstreamEnded = false;
  private head: RequestHead | null = null;
  private matched: MatchedRoute | null = null;
  private cluster: Cluster | null = null;
  private clusterName: string | null = null;
  private stats: ClusterStats | null = null;
  private upstream: UpstreamRequest | null = null;
  private retry: RetryState | null = null;
  private contentLength = 0;
  /** Upstream attempts started (x-envoy-attempt-count). */
  private attemptCount = 0;
  /** This request's per-try timeout (0: none): the route's, or x-envoy-upstream-rq-per-try-timeout-ms. */
  private perTryTimeoutMs = 0;
  /** x-envoy-upstream-rq-timeout-alt-response: the global timeout answers 204. */
  private timeoutAltResponse = false;
  private responseStarted = false;
  private finished = false;
  /** The upstream switched protocols: data flows both ways until both ends. */
  private tunnel = false;
  /** A CONNECT this route terminates (`connect_config`): the upstream is a TCP connection. */
  private terminateConnect = false;
  /** The tunnel's upstream half ended (the response's end of stream). */
  private upstreamEnded = false;
  /** Tunnel bytes relayed through JS since the last offer to the splice relay; -1 before the tunnel. */
  private tunnelBytes = -1;
  /** We asked the downstream codec to stop reading (upload flow control). */
  private downstreamPaused = false;
  private isHead = false;
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;

  constructor(private readonly shared: RouterShared) {
    super();
  }

  now(): number {
    return this.shared.services.now();
  }

  /** The request body is kept for retries (so it must pass through JS). */
  get retainsBody(): boolean {
    return this.retainBody;
  }

  requestBodySource(): ResponseEncoder | null {
    return this.callbacks.requestBodySource?.() ?? null;
  }

  // ------------------------------------------------------------ decode path

  override decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus {
    const cb = this.callbacks;
    const matched = cb.route();
    if (matched === null) {
      cb.setResponseFlag('NR');
      cb.sendLocalReply(404, '', 'route_not_found');
      return FilterHeadersStatus.StopIteration;
    }
    this.matched = matched;
    this.head = head;
    this.downstreamEnded = endStream;
    const action = matched.action;
    if (action.kind === 'direct_response') {
      const headers = new HeaderMap();
      matched.applyResponseHeaders(headers, cb, null);
      cb.sendLocalReply(action.status, action.body ?? '', 'direct_response', headers);
      return FilterHeadersStatus.StopIteration;
    }
    if (action.kind === 'redirect') {
      const headers = new HeaderMap();
      headers.set('location', matched.redirectLocation(head, cb.authority));
      matched.applyResponseHeaders(headers, cb, null);
      cb.sendLocalReply(action.responseCode, '', 'redirect', headers);
      return FilterHeadersStatus.StopIteration;
    }
    const clusterName = matched.pickCluster(head.headers, this.shared.services.random);
    const cluster = clusterName === null ? undefined : this.shared.services.clusterManager.get(clusterName);
    if (cluster === undefined) {
      cb.setResponseFlag('NC');
      cb.sendLocalReply(503, '', 'cluster_not_found');
      return FilterHeadersStatus.StopIteration;
    }
    this.terminateConnect = head.upgrade && head.method === 'CONNECT' && matched.terminatesConnect;
    // Upgrades over HTTP/2 need extended CONNECT upstream (RFC 8441), which Legate lacks; a
    // terminated CONNECT over TLS would need the cluster's transport socket on its TCP connection.
    const unsupported = this.terminateConnect
      ? Boolean(cluster.config.transportSocket)
      : head.upgrade && cluster.config.http2;
    if (unsupported) {
      cb.sendLocalReply(403, '', 'upgrade_failed');
      return FilterHeadersStatus.StopIteration;
    }
    this.cluster = cluster;
    this.clusterName = clusterName;
    this.stats = this.shared.clusterStats(cluster);
    this.isHead = head.method === 'HEAD';

    matched.rewriteRequest(head, cb, clusterName, !this.shared.config.suppressEnvoyHeaders);
    const routeTimeoutMs = this.routeTimeoutMs(action, head);
    const directives = hasDirective(head.headers)
      ? readDirectives(head.headers, action, routeTimeoutMs, this.shared.config.respectExpectedRqTimeout)
      : null;
    const timeoutMs = directives?.timeoutMs ?? routeTimeoutMs;
    const retryPolicy = directives === null ? action.retryPolicy : directives.retryPolicy;
    const perTry = directives?.perTryTimeoutMs ?? action.retryPolicy?.perTryTimeoutMs ?? 0;
    // A per-try timeout that is not shorter than the whole is none (Envoy's finalTimeout).
    this.perTryTimeoutMs = timeoutMs > 0 && perTry >= timeoutMs ? 0 : perTry;
    this.timeoutAltResponse = directives?.timeoutAltResponse ?? false;
    // What the upstream may spend on this attempt (Envoy's setTimeoutHeaders).
    const expectedMs = this.perTryTimeoutMs > 0 ? this.perTryTimeoutMs : timeoutMs;
    if (expectedMs > 0 && !this.shared.config.suppressEnvoyHeaders)
      head.headers.set('x-envoy-expected-rq-timeout-ms', String(expectedMs));
    if (timeoutMs > 0) this.shared.services.timers.arm(this, timeoutMs);
    // -1 with no body means "none" to the client codec (no framing header on a GET).
    this.contentLength = head.contentLength;
    if (retryPolicy !== null) {
      this.retry = new RetryState(
        retryPolicy,
        this.shared.services.random,
        cluster.circuitBreaker,
        this.stats.rqRetrySuccess,
      );
      this.retainBody = true;
    }
    this.startAttempt();
    return FilterHeadersStatus.StopIteration;
  }

  override decodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    if (this.finished) return FilterDataStatus.StopIterationNoBuffer;
    this.callbacks.touch();
    if (endStream) this.downstreamEnded = true;
    if (this.tunnelBytes >= 0) this.countTunnelBytes(data.length);
    const up = this.upstream;
    const ready = up !== null && up.encoder !== null;
    if (!ready || this.retainBody) this.keepBody(data);
    if (ready) up.sendData(data, endStream);
    if (endStream && this.upstreamEnded) this.finish();
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus {
    // HTTP/1.1 upstreams get the body's end; request trailers are dropped (as Envoy's H1 codec does).
    this.downstreamEnded = true;
    this.upstream?.sendData(Buffer.alloc(0), true);
    return FilterTrailersStatus.StopIteration;
  }

  onDownstreamWatermark(above: boolean): void {
    // The client reads slower than the upstream sends: stop reading the upstream (and resume).
    this.upstream?.readDisable(above);
  }

  override onDestroy(): void {
    this.shared.services.timers.disarm(this);
    this.retry?.cancelTimer(this.shared.services.timers);
    if (this.upstream !== null && !this.finished) {
      this.stats!.rqTxReset.inc();
      this.upstream.reset();
    }
    this.releaseUpstream();
    this.finished = true;
  }

  // ------------------------------------------------------------ attempts

  private startAttempt(): void {
    const cluster = this.cluster!;
    const host = cluster.chooseHost(
      this.matched!.hashPolicy?.lbContext(this.head!, this.callbacks.remoteAddress) ?? NO_LB_CONTEXT,
    );
    this.callbacks.setUpstreamInfo(this.clusterName!, host === null ? '' : host.key);
    // No pool: max_connection_pools is reached, which Envoy answers like no healthy host. A
    // terminated CONNECT needs none: it opens a TCP connection of its own.
    const terminate = this.terminateConnect;
    const pool = host === null || terminate ? null : cluster.pool(host, this.head!);
    if (host === null || (pool === null && !terminate)) {
      this.stats!.cxNoneHealthy.inc();
      this.finish();
      this.callbacks.setResponseFlag('UH');
      this.callbacks.sendLocalReply(503, 'no healthy upstream', 'no_healthy_upstream');
      return;
    }
    // auto_host_rewrite uses the endpoint's DNS name; STATIC endpoints have none (Envoy keeps Host).
    this.matched!.rewriteHost(this.head!, '');
    this.attemptCount++;
    if (this.matched!.attemptCountInRequest) this.head!.headers.set(ATTEMPT_COUNT, String(this.attemptCount));
    const up = new UpstreamRequest(this, this.head!, this.contentLength);
    up.host = host; // known before the pool attaches it: a connect failure is charged to this host
    this.upstream = up;
    this.stats!.rqTotal.inc();
    this.stats!.rqActive.inc();
    if (this.perTryTimeoutMs > 0) this.shared.services.timers.arm(up, this.perTryTimeoutMs);
    up.start(pool === null ? cluster.tcpTunnel(host, up, up) : pool.newStream(up, up));
  }

  /**
   * The request's global timeout (0: none): the route's `timeout`, or for a gRPC request under a
   * grpc timeout policy its grpc-timeout, less the offset when larger, capped by the maximum (0: no
   * cap; no header and no cap: none), as Envoy's FilterUtility::finalTimeout. The capped value goes
   * upstream as the request's grpc-timeout, so the service sees the deadline Envoy enforces.
   */
  private routeTimeoutMs(action: RouteActionConfig, head: RequestHead): number {
    // Envoy's "new timeouts" (FilterUtility::finalTimeout): a route with max_stream_duration has no
    // router timeout; the connection manager's stream duration bounds it (and sets grpc-timeout).
    if (action.streamDuration !== undefined && action.streamDuration !== null) return 0;
    const grpc = action.grpcTimeout;
    if (grpc === undefined || grpc === null || !isGrpcRequest(head.headers)) return action.timeoutMs;
    let timeoutMs = grpcTimeoutMs(head.headers.get('grpc-timeout')) ?? 0;
    if (grpc.offsetMs > 0 && grpc.offsetMs < timeoutMs) timeoutMs -= grpc.offsetMs;
    if (grpc.maxMs > 0 && (timeoutMs === 0 || timeoutMs > grpc.maxMs)) timeoutMs = grpc.maxMs;
    if (timeoutMs > 0) head.headers.set('grpc-timeout', `${timeoutMs}m`);
    return timeoutMs;
  }

  /** Called by RetryState's timer after the back-off. */
  retryNow(): void {
    if (this.finished) return;
    this.stats!.rqRetry.inc();
    this.startAttempt();
  }

  private tryRetry(reason: RetryTrigger, status: number, grpcStatus = -1): boolean {
    if (this.retry === null || this.responseStarted || this.finished) return false;
    // The body outgrew the buffer: it cannot be sent again, so no retry (Envoy abandons them too).
    if (!this.retainBody) return false;
    const decision = this.retry.shouldRetry(reason, status, grpcStatus);
    if (decision === RetryDecision.Overflow) this.callbacks.setResponseFlag('UO');
    else if (decision === RetryDecision.LimitExceeded) this.callbacks.setResponseFlag('URX');
    if (decision !== RetryDecision.Retry) return false;
    this.releaseUpstream();
    this.retry.schedule(this.shared.services.timers, this);
    return true;
  }

  // ------------------------------------------------------------ upstream events

  onUpstreamPoolFailure(up: UpstreamRequest, reason: PoolFailureReason, detail: string): void {
    if (up !== this.upstream) return;
    if (reason === 'overflow') {
      this.failBeforeHeaders('UO', 'overflow', 'upstream_overflow', true);
      return;
    }
    // upstream_cx_connect_fail / _timeout are counted per connection, by the pool.
    this.cluster!.outlier?.recordLocalFailure(up.host!.slot, false);
    if (this.tryRetry('connect-failure', 0)) return;
    this.failBeforeHeaders(
      'UF',
      reason === 'timeout'
        ? 'connection timeout'
        : detail.startsWith('TLS_error')
          ? `connection failure, transport failure reason: ${detail}`
          : 'connection failure',
      'upstream_reset_before_response_started{connection_failure}',
      false,
    );
  }

  onUpstreamReset(up: UpstreamRequest, reason: StreamResetReason): void {
    if (up !== this.upstream) return;
    this.stats!.rqRxReset.inc();
    if (!this.responseStarted) {
      // A pooled keep-alive socket the upstream closed just as we reused it: nothing reached the
      // application, so one more try on a fresh connection is safe (nginx and undici do the same).
      const stale = up.reused && !up.responseStarted && this.bodyReplayable() && !up.staleRetried;
      if (stale) {
        this.releaseUpstream();
        this.startAttemptAfterStale();
        return;
      }
      this.cluster!.outlier?.recordLocalFailure(up.host!.slot, false);
      const refused = reason === 'refused_stream';
      if (this.tryRetry(refused ? 'refused-stream' : 'reset', 0)) return;
      const flag = reason === 'connection_termination' ? 'UC' : 'UR';
      const text = RESET_TEXT[reason] ?? reason.replace('_', ' ');
      const detail = refused ? 'remote_refused_stream_reset' : reason;
      this.failBeforeHeaders(flag, text, `upstream_reset_before_response_started{${detail}}`, false);
      return;
    }
    this.callbacks.setResponseFlag('UR');
    this.finish();
    this.callbacks.resetStream();
  }

  /** Start of an RTT sample for Peak EWMA (0 when the cluster does not track RTT). */
  rttStart(host: Host): number {
    return this.cluster!.rttStart(host);
  }

  /** The upstream reads the request body slower than the client sends it: pause the client. */
  onUpstreamWriteWatermark(up: UpstreamRequest, above: boolean): void {
    if (up !== this.upstream || above === this.downstreamPaused) return;
    this.downstreamPaused = above;
    this.callbacks.readDisableDownstream(above);
  }

  onUpstream100Continue(): void {
    if (!this.responseStarted) this.callbacks.encode100Continue();
  }

  onUpstreamHeaders(up: UpstreamRequest, head: ResponseHead, endStream: boolean): void {
    if (up !== this.upstream) return;
    this.upstreamAnswered(up, head.status);
    // The status alone decides, body or not (Envoy's wouldRetryFromHeaders). A response that ended
    // here leaves its connection reusable; one with a body to come is reset by releaseUpstream.
    if (this.tryRetry('status', head.status, this.retry === null ? -1 : grpcStatusOf(head.headers))) return;
    this.retry?.release(); // this response is the last attempt's outcome
    const serviceMs = this.responseAccepted(up, head.status);
    const headers = head.headers;
    const tunnel = switchesProtocols(this.head!, head.status);
    const upgradeValue = tunnel ? headers.get('upgrade') : undefined;
    for (let i = 0; i < HOP_BY_HOP_FIELDS.length; i++) headers.remove(HOP_BY_HOP_FIELDS[i]!);
    if (tunnel) {
      this.tunnel = true;
      this.shared.services.timers.disarm(this);
      this.shared.services.timers.disarm(up);
      if (head.status === 101) {
        headers.set('upgrade', upgradeValue!); // the upstream codec refuses a 101 without it
        headers.set('connection', 'upgrade');
      }
    }
    if (!this.shared.config.suppressEnvoyHeaders) {
      headers.set('x-envoy-upstream-service-time', String(serviceMs));
    }
    this.matched!.applyResponseHeaders(headers, this.callbacks, this.clusterName);
    if (this.matched!.attemptCountInResponse) headers.set(ATTEMPT_COUNT, String(this.attemptCount));
    const cl =
      this.isHead || head.status === 204 || head.status === 304
        ? this.responseLength(headers)
        : endStream
          ? 0
          : this.responseLength(headers);
    if (endStream) this.finish();
    // With both ends on the native engine, the body moves without JS; only its end comes here.
    if (endStream || this.tunnel || this.callbacks.encodeHeadersPipedFrom?.(head, cl, up.encoder!) !== true) {
      this.callbacks.encodeHeaders(head, cl, endStream);
    }
    if (this.tunnel) this.tunnelBytes = 0;
  }

  /**
   * Whether the response head `up` received (still in its codec, status `status`) can go downstream
   * as it is but for the edits every response gets (onUpstreamHeadersInPlace): the retry policy, if
   * any, does not retry it, the route edits no response field, and the stream can have it written
   * natively.
   */
  mayProxyHeadInPlace(up: UpstreamRequest, status: number): boolean {
    return (
      up === this.upstream &&
      status >= 200 &&
      !switchesProtocols(this.head!, status) && // a tunnel begins: the router takes it in JS
      (this.retry === null || !this.retry.retriesOnStatus(status)) &&
      !this.matched!.editsResponseHeaders(this.clusterName) &&
      this.callbacks.canProxyResponseHeadFrom?.(up.encoder!) === true
    );
  }

  /** onUpstreamHeaders for a head `mayProxyHeadInPlace` accepted: the same accounting, written natively. */
  onUpstreamHeadersInPlace(up: UpstreamRequest, status: number, endStream: boolean): void {
    this.upstreamAnswered(up, status);
    // Not retriable (mayProxyHeadInPlace): this only settles the retry accounting, as for any head.
    this.tryRetry('status', status);
    this.retry?.release();
    const serviceMs = this.responseAccepted(up, status);
    if (endStream) this.finish();
    const shownMs = this.shared.config.suppressEnvoyHeaders ? -1 : serviceMs;
    this.callbacks.proxyResponseHeadFrom!(status, shownMs, endStream, up.encoder!);
  }

  /** What every upstream response head tells the host's load and health records. */
  private upstreamAnswered(up: UpstreamRequest, status: number): void {
    this.cluster!.recordRtt(up.host!, up.attachedAtMs);
    this.cluster!.outlier?.recordStatus(up.host!.slot, status);
  }

  /** The response goes downstream: no retry any more; counted. Returns the upstream service time. */
  private responseAccepted(up: UpstreamRequest, status: number): number {
    this.responseStarted = true;
    this.retainBody = false;
    const serviceMs = this.now() - up.startMs;
    this.stats!.recordResponse(status, serviceMs);
    return serviceMs;
  }

  onUpstreamData(up: UpstreamRequest, data: Buffer, endStream: boolean): void {
    if (up !== this.upstream) return;
    this.callbacks.touch();
    if (this.tunnelBytes >= 0) this.countTunnelBytes(data.length);
    if (endStream) {
      // A tunnel's downstream half may still be sending: the upstream stays until it ends too.
      if (!this.tunnel || this.downstreamEnded) this.finish();
      else this.upstreamEnded = true;
    }
    this.callbacks.encodeData(data, endStream);
  }

  onUpstreamTrailers(trailers: HeaderMap): void {
    this.finish();
    this.callbacks.encodeTrailers(trailers);
  }

  onPerTryTimeout(up: UpstreamRequest): void {
    if (up !== this.upstream) return;
    this.stats!.rqPerTryTimeout.inc();
    up.reset();
    if (this.tryRetry('timeout', 0)) return;
    this.timeoutResponse();
  }

  /** The cluster's max_stream_duration, armed when the pool attaches attempt `up` to a connection. */
  armMaxStreamDuration(up: UpstreamRequest): void {
    const limit = this.cluster!.config.maxStreamDurationMs ?? 0;
    if (limit > 0)
      this.shared.services.timers.arm((up.durationTimer ??= new MaxStreamDurationTimer(up)), limit);
  }

  /**
   * Attempt `up` ran past the cluster's max_stream_duration (Envoy's Filter::onStreamMaxDurationReached):
   * reset, not retried, UMSDR; 504 "upstream max stream duration reached" once the downstream request
   * is complete (408 before), a reset once the response has started.
   */
  onUpstreamMaxStreamDuration(up: UpstreamRequest): void {
    if (up !== this.upstream) return;
    this.stats!.rqMaxDurationReached.inc();
    up.reset();
    this.callbacks.setResponseFlag('UMSDR');
    this.finish();
    if (this.responseStarted) this.callbacks.resetStream();
    else
      this.callbacks.sendLocalReply(
        this.downstreamEnded ? 504 : 408,
        'upstream max stream duration reached',
        'upstream_max_stream_duration_reached',
      );
  }

  /** The route's global timeout (covers every retry). */
  onTimeout(): void {
    if (this.finished) return;
    this.stats!.rqTimeout.inc();
    this.upstream?.reset();
    this.timeoutResponse();
  }

  // ------------------------------------------------------------ helpers

  private timeoutResponse(): void {
    this.callbacks.setResponseFlag('UT');
    this.finish();
    if (this.responseStarted) this.callbacks.resetStream();
    // x-envoy-upstream-rq-timeout-alt-response: the caller prefers an empty 204 (Envoy's router).
    else if (this.timeoutAltResponse)
      this.callbacks.sendLocalReply(204, '', 'upstream_response_timeout', this.localReplyHeaders());
    else
      this.callbacks.sendLocalReply(
        504,
        'upstream request timeout',
        'upstream_response_timeout',
        this.localReplyHeaders(),
      );
  }

  private failBeforeHeaders(flag: string, reason: string, details: string, overloaded: boolean): void {
    this.callbacks.setResponseFlag(flag);
    this.finish();
    let headers = this.localReplyHeaders();
    if (overloaded) (headers ??= new HeaderMap()).set('x-envoy-overloaded', 'true');
    this.callbacks.sendLocalReply(503, RESET_BEFORE_HEADERS + reason, details, headers);
  }

  /** Headers of a local reply after attempts: x-envoy-attempt-count when the virtual host asks. */
  private localReplyHeaders(): HeaderMap | undefined {
    if (!this.matched?.attemptCountInResponse) return undefined;
    const headers = new HeaderMap();
    headers.set(ATTEMPT_COUNT, String(this.attemptCount));
    return headers;
  }

  private startAttemptAfterStale(): void {
    this.startAttempt();
    if (this.upstream !== null) this.upstream.staleRetried = true;
  }

  /** The whole request can be sent again: it has no body, or all of it is still retained. */
  private bodyReplayable(): boolean {
    const noBody = this.contentLength <= 0 && !this.head!.chunked;
    return noBody || (this.downstreamEnded && this.retainBody);
  }

  /**
   * A tunnel is offered to the splice relay (http/tunnel-splice.ts) each time it carried enough bytes
   * through JS; once moved, its bytes no longer come here.
   */
  private countTunnelBytes(bytes: number): void {
    this.tunnelBytes += bytes;
    if (this.tunnelBytes < SPLICE_AFTER_BYTES || this.upstream?.encoder == null) return;
    this.tunnelBytes = 0;
    this.callbacks.spliceTunnel?.(this.upstream.encoder, this.cluster!.config.perConnectionBufferLimitBytes);
  }

  private keepBody(data: Buffer): void {
    // Views from the codec are only valid during the call: keep a copy.
    this.bufferedBody.push(Buffer.from(data));
    this.bufferedBytes += data.length;
    if (this.retainBody && this.bufferedBytes > this.cluster!.config.perConnectionBufferLimitBytes) {
      // Too big to replay: give up on retries rather than buffering without bound (Envoy does too).
      this.retainBody = false;
    }
  }

  private responseLength(headers: HeaderMap): number {
    const v = headers.get('content-length');
    if (v === undefined) return -1;
    const n = Number(v);
    return Number.isSafeInteger(n) && n >= 0 ? n : -1;
  }

  /** The exchange is over from the router's point of view: stop timers, update gauges once. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.shared.services.timers.disarm(this);
    this.releaseUpstream();
  }

  private releaseUpstream(): void {
    const up = this.upstream;
    if (up === null) return;
    if (this.downstreamPaused) {
      this.downstreamPaused = false;
      this.callbacks.readDisableDownstream(false);
    }
    this.shared.services.timers.disarm(up);
    if (up.durationTimer !== null) this.shared.services.timers.disarm(up.durationTimer);
    this.stats!.rqActive.dec();
    this.stats!.rqCompleted.inc();
    if (!this.finished) up.reset();
    this.upstream = null;
    if (!this.retainBody) {
      // Buffered body already went to this attempt and cannot be replayed: drop it.
      this.bufferedBody = [];
      this.bufferedBytes = 0;
    }
  }
}
