/**
 * One request/response exchange inside the HTTP connection manager (Envoy's ActiveStream): it
 * receives the request from the downstream codec, runs the HTTP filter chain over it (decoders in
 * order, encoders in reverse), and writes what the chain produces back through the codec.
 *
 * An upgrade (WebSocket, CONNECT, any token) is routed like any request once `upgrade_configs`
 * enable it (else 403, as Envoy); when the response switches protocols the stream carries the
 * tunnel's bytes as request and response data, and ends when both directions have ended (each
 * with its own end of stream: half-close) or on a reset.
 */
import type { LocalReplyStream } from './local-reply';
import {
  switchesProtocols,
  tunnelMayFollow,
  type RequestDecoder,
  type RequestEncoder,
  type RequestHead,
  type ResponseEncoder,
  type ResponseHead,
  type StreamResetReason,
  UPSTREAM_SERVICE_TIME_HEADER,
} from '../../../http/codec';
import { HeaderMap } from '../../../http/header-map';
import { spliceTunnel } from '../../../http/tunnel-splice';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type StreamFilter,
  type StreamFilterCallbacks,
} from '../../http/api';
import type { TimeoutTarget } from '../../../common/timer-wheel';
import type { MatchedRoute } from '../../../router/route-table';
import type { DownstreamConnection, HttpConnectionManager } from './connection-manager';
import { mutateClientCertHeader, normalizeHost, resolveAuthority, stripHopByHop } from './request-headers';
import { normalizeRequestPath, unescapeSlashes } from '../../../router/path';
import {
  GRPC_DEADLINE_EXCEEDED,
  grpcLocalReplyHeaders,
  grpcTimeoutMs,
  isGrpcRequest,
} from '../../../http/grpc';
import type { DownstreamConnectionInfo } from '../../../transport/api';

let nextStreamId = 1;
const EMPTY_HEADERS = new HeaderMap();

export class ActiveStream implements RequestDecoder, StreamFilterCallbacks, TimeoutTarget, LocalReplyStream {
  readonly streamId = nextStreamId++;
  readonly startMs: number;
  /** Turn-clock ms of the stream's last activity (see onTimeout). */
  private lastActivityMs: number;
  /** Wall-clock start, for %START_TIME% and access logs. */

  private filters: StreamFilter[] = [];
  /** Index of the decoder filter that stopped iteration, or -1. */
  private stoppedAt = -1;
  private buffered: Buffer[] | null = null;
  private bufferedEnd = false;
  /** The request had no body: decodeHeaders came with endStream. */
  private headersEndedStream = false;
  /** Index of the decoder filter whose decodeData is running (injectDecodedData continues after it). */
  private decodingAt = -1;
  /** Index of the encoder filter whose encodeData / encodeTrailers is running (injectEncodedData). */
  private encodingAt = -1;
  /**
   * Index of the encoder filter that stopped response header iteration, or -1. The head is held
   * until it calls continueEncoding(); body data passed on by it meanwhile waits in `encodeBuffered`.
   */
  private encodeStoppedAt = -1;
  private heldResponse: ResponseHead | null = null;
  private heldEnd = false;
  private encodeBuffered: Buffer[] | null = null;
  private encodeBufferedEnd = false;
  private heldTrailers: HeaderMap | null = null;
  /** The response body length the codec frames with (-1 unknown); filters may change it. */
  private responseLength = -1;
  private requestHead: RequestHead | null = null;
  private matched: MatchedRoute | null = null;
  private authorityValue = '';
  private responseStarted = false;
  private responseComplete = false;
  /** The downstream's end of stream arrived (for a tunnel: its half-close). */
  private requestEnded = false;
  /** The response switched protocols: the stream is a tunnel until both directions end. */
  private upgraded = false;
  private destroyed = false;
  private flags = '';
  private status = 0;
  /** The local reply this stream made (LocalReplyStream): 0 when none. */
  localReplyStatus = 0;
  localReplyText = '';
  /** The trusted client address from x-forwarded-for (`mutateForwardingHeaders`); null: the peer. */
  private clientAddress: string | null = null;
  // Access-log facts (AccessLogStream), kept as plain fields so the hot path only adds to them.
  bytesReceived = 0;
  bytesSent = 0;
  durationMs = 0;
  /** The response head as a HeaderMap; null before it, and when the codec wrote it natively. */
  private responseHeaders: HeaderMap | null = null;
  /** The service time a natively written head carries (proxyResponseHeadFrom); -1: none. */
  private proxiedServiceMs = -1;
  upstreamCluster = '';
  upstreamHost = '';
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;

  /** request_timeout: the whole request must arrive in time (armed until the request ends). */
  private readonly requestTimer: StreamDeadline | null;
  /** max_stream_duration (the connection manager's, then the route's); null when none applies. */
  private durationTimer: StreamDeadline | null = null;
  /** The whole request arrived (its end of stream). */
  private requestComplete = false;

  constructor(
    private readonly hcm: HttpConnectionManager,
    private readonly encoder: ResponseEncoder,
    /** The connection, for codecs that have one (null for uWS). */
    private readonly connection: DownstreamConnection | null,
  ) {
    this.startMs = hcm.services.now();
    this.lastActivityMs = this.startMs;
    hcm.stats.rqTotal.inc();
    hcm.stats.rqActive.inc();
    const idle = hcm.config.streamIdleTimeoutMs;
    if (idle > 0) hcm.services.timers.arm(this, idle);
    const whole = hcm.config.requestTimeoutMs;
    this.requestTimer = whole > 0 ? new StreamDeadline(this, onRequestTimeout) : null;
    if (this.requestTimer !== null) hcm.services.timers.arm(this.requestTimer, whole);
    const duration = hcm.config.maxStreamDurationMs;
    if (duration > 0) {
      this.durationTimer = new StreamDeadline(this, onStreamMaxDuration);
      hcm.services.timers.arm(this.durationTimer, duration);
    }
  }

  /**
   * Wall-clock start (ms since the epoch) for %START_TIME%, derived when asked: reading the wall
   * clock per request costs ~250 ns on these VMs (see common/turn-clock.ts), and most requests are
   * never asked.
   */
  get startTimeMs(): number {
    return Date.now() - (this.hcm.services.now() - this.startMs);
  }

  /** The downstream remote address as Envoy defines it: the trusted client, per x-forwarded-for. */
  get remoteAddress(): string {
    return this.clientAddress ?? this.connectionRemoteAddress;
  }

  /** 0 for an address taken from x-forwarded-for, as in Envoy. */
  get remotePort(): number {
    if (this.clientAddress !== null) return 0;
    return this.connection?.info?.addresses?.remotePort ?? this.encoder.remotePort;
  }

  /** The connection's peer, or the client a PROXY protocol header named (what x-forwarded-for gets). */
  private get connectionRemoteAddress(): string {
    return this.connection?.info?.addresses?.remoteAddress ?? this.encoder.remoteAddress;
  }

  get directRemoteAddress(): string {
    return this.encoder.remoteAddress;
  }

  get directRemotePort(): number {
    return this.encoder.remotePort;
  }

  get localAddress(): string {
    return this.connection?.info?.addresses?.localAddress ?? this.encoder.localAddress;
  }

  get localPort(): number {
    return this.connection?.info?.addresses?.localPort ?? this.encoder.localPort;
  }

  get protocol(): string {
    return this.requestHead?.protocol ?? 'HTTP/1.1';
  }

  get requestHeaders(): HeaderMap {
    return this.requestHead?.headers ?? EMPTY_HEADERS;
  }

  get authority(): string {
    return this.authorityValue;
  }

  route(): MatchedRoute | null {
    return this.matched;
  }

  get downstreamConnection(): object | null {
    return this.connection;
  }

  get downstreamInfo(): DownstreamConnectionInfo | null {
    return this.connection?.info ?? null;
  }

  get request(): RequestHead | null {
    return this.requestHead;
  }

  // ------------------------------------------------------------ RequestDecoder (from the codec)

  decodeHeaders(head: RequestHead, endStream: boolean): void {
    this.requestHead = head;
    this.headersEndedStream = endStream;
    (head.protocol === 'HTTP/2' ? this.hcm.stats.rqHttp2 : this.hcm.stats.rqHttp1).inc();
    if (endStream) this.requestReceived();
    const config = this.hcm.config;
    const connect = head.upgrade && head.method === 'CONNECT';
    // Read before the hop-by-hop fields go: an enabled upgrade gets them back.
    const upgradeValue = head.upgrade && !connect ? (head.headers.get('upgrade') ?? '') : '';
    if (!stripHopByHop(head)) {
      this.sendLocalReply(400, 'Bad Request', 'connection_header_rejected');
      return;
    }
    // RFC 9112 §3.2: more than one Host → 400, as nginx does (two hosts are how a front end and a
    // back end come to disagree about which site a request is for).
    if (head.headers.count('host') > 1) {
      this.sendLocalReply(400, 'Bad Request', 'duplicate_host_header');
      return;
    }
    // A CONNECT's target is its authority (RFC 9110 §9.3.6), and what Envoy routes it by.
    const authority = connect
      ? connectAuthority(head.path)
      : resolveAuthority(head, config.defaultHostForHttp10);
    if (authority === null) {
      this.sendLocalReply(400, 'Bad Request', connect ? 'invalid_connect_authority' : 'missing_host_header');
      return;
    }
    this.authorityValue =
      config.stripTrailingHostDot || config.stripHostPort !== 'none'
        ? normalizeHost(head, authority, config, this.localPort)
        : authority;
    if (!connect && !this.normalizePath(head)) return;
    this.clientAddress = this.hcm.forwarding.apply(
      head,
      this.connectionRemoteAddress,
      this.connection?.info?.tls ? 'https' : 'http',
    );
    mutateClientCertHeader(head.headers, config, this.connection?.info?.tls);
    this.matched = this.hcm.routeTable.route(this.authorityValue, head.path, head.headers, connect, head);
    if (!this.refreshDurationTimeout(head)) return;
    if (head.upgrade) {
      const upgradeType = connect ? 'connect' : upgradeValue.trim().toLowerCase();
      if (!this.hcm.upgradeEnabled(upgradeType, this.matched)) {
        this.hcm.stats.rqWsOnNonWsRoute.inc();
        this.sendLocalReply(403, '', 'upgrade_failed');
        return;
      }
      // What follows the head is the new protocol's: a body in between would leave it unclear
      // where one ends and the other begins.
      if (!tunnelMayFollow(head)) {
        this.sendLocalReply(400, 'Bad Request', 'upgrade_with_body');
        return;
      }
      if (!connect) {
        head.headers.set('upgrade', upgradeValue);
        head.headers.set('connection', 'upgrade');
      }
    }

    this.filters = this.hcm.createFilters();
    for (let i = 0; i < this.filters.length; i++) this.filters[i]!.setCallbacks(this);
    this.runDecodeHeaders(0, head, endStream);
  }

  decodeData(data: Buffer, endStream: boolean): void {
    this.bytesReceived += data.length;
    if (!this.acceptsRequestData) return;
    if (endStream) {
      this.requestEnded = true;
      this.requestReceived();
    }
    this.runDecodeData(0, data, endStream);
    if (endStream && this.upgraded && this.responseComplete) this.destroy();
  }

  decodeTrailers(trailers: HeaderMap): void {
    if (this.destroyed || this.responseComplete) return;
    this.requestEnded = true;
    this.requestReceived();
    for (let i = 0; i < this.filters.length; i++) {
      if (this.filters[i]!.decodeTrailers(trailers) === FilterTrailersStatus.StopIteration) return;
    }
  }

  onResetStream(reason: StreamResetReason): void {
    if (this.destroyed) return;
    // A request the codec refused (onCodecProtocolError) is not one the client reset.
    if (!this.responseComplete && reason !== 'protocol_error' && reason !== 'overflow') {
      this.hcm.stats.rqRxReset.inc();
      this.setResponseFlag('DC');
    }
    this.destroy();
  }

  /**
   * The codec refused this request's body (malformed chunking, over a size limit) and answers it
   * with `status` itself (0: the response had already started and nothing more can be sent); the
   * stream is reset right after. Recorded as Envoy records a codec error on a stream: a local reply
   * with the DPE flag.
   */
  onCodecProtocolError(status: number, bodyBytes: number): void {
    if (this.destroyed) return;
    this.setResponseFlag('DPE');
    if (status === 0 || this.responseStarted) return;
    this.responseStarted = true;
    this.status = status;
    this.bytesSent += bodyBytes;
    this.onResponseComplete();
  }

  onAboveWriteBufferHighWatermark(): void {
    for (let i = 0; i < this.filters.length; i++) this.filters[i]!.onDownstreamWatermark?.(true);
  }

  onBelowWriteBufferLowWatermark(): void {
    for (let i = 0; i < this.filters.length; i++) this.filters[i]!.onDownstreamWatermark?.(false);
  }

  // ------------------------------------------------------------ StreamFilterCallbacks (from filters)

  continueDecoding(): void {
    const from = this.stoppedAt + 1;
    if (from === 0 || this.requestHead === null) return;
    this.stoppedAt = -1;
    const buffered = this.buffered;
    const end = this.bufferedEnd;
    this.buffered = null;
    // A request that ended with its headers goes on ending there (no body was buffered for it).
    const headersEnd = buffered === null && (end || this.headersEndedStream);
    // The body held meanwhile goes on even when a later filter stops the headers (the router always
    // does): a filter that stopped header iteration still receives the body, as in Envoy.
    this.runDecodeHeaders(from, this.requestHead, headersEnd);
    if (buffered !== null) {
      for (let i = 0; i < buffered.length; i++)
        this.runDecodeData(from, buffered[i]!, end && i === buffered.length - 1);
    }
  }

  sendLocalReply(
    status: number,
    body: string,
    details: string,
    extraHeaders?: HeaderMap,
    grpcStatus?: number,
  ): void {
    if (this.destroyed) return;
    this.hcm.recordLocalReplyDetails(details);
    if (this.responseStarted) {
      // Headers already went out: the only honest signal left is to reset the stream.
      this.encoder.resetStream('local_reset');
      this.destroy();
      return;
    }
    const headers = extraHeaders ?? new HeaderMap();
    this.localReplyStatus = status;
    this.localReplyText = body;
    let contentType = 'text/plain';
    const rewriter = this.hcm.localReplyRewriter;
    if (rewriter !== null) {
      const reply = rewriter.rewrite(this, headers);
      status = reply.status;
      body = reply.body;
      if (reply.contentType !== '') contentType = reply.contentType;
    }
    const request = this.requestHead;
    if (request !== null && isGrpcRequest(request.headers)) {
      // Envoy's local reply to a gRPC client: trailers-only, the HTTP status mapped to grpc-status.
      this.encodeHeaders(
        { status: 200, reason: '', headers: grpcLocalReplyHeaders(status, body, headers, grpcStatus) },
        0,
        true,
      );
      return;
    }
    const bodyBuf = body === '' ? null : Buffer.from(body);
    if (bodyBuf !== null) headers.set('content-type', contentType);
    this.encodeHeaders(
      { status, reason: '', headers },
      bodyBuf === null ? 0 : bodyBuf.length,
      bodyBuf === null,
    );
    if (bodyBuf !== null) this.encodeData(bodyBuf, true);
  }

  setResponseFlag(flag: string): void {
    if (this.flags.indexOf(flag) === -1) this.flags = this.flags === '' ? flag : `${this.flags},${flag}`;
  }

  get responseFlags(): string {
    return this.flags === '' ? '-' : this.flags;
  }

  get responseCode(): number {
    // While a local reply is being rewritten (local_reply_config), its filters see its status.
    return this.status !== 0 ? this.status : this.localReplyStatus;
  }

  /** AccessLogStream: the local reply's body text, null when the stream made none. */
  get localReplyBody(): string | null {
    return this.localReplyStatus === 0 ? null : this.localReplyText;
  }

  setUpstreamInfo(cluster: string, host: string): void {
    this.upstreamCluster = cluster;
    this.upstreamHost = host;
  }

  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void {
    this.responseLength = contentLength;
    if (!this.beginResponse(head, endStream)) return;
    if (this.encodeStoppedAt !== -1) {
      this.heldResponse = head;
      this.heldEnd = endStream;
      return;
    }
    this.writeHeaders(head, endStream);
  }

  private writeHeaders(head: ResponseHead, endStream: boolean): void {
    this.hcm.finalizeResponseHeaders(head, this.requestHead);
    this.encoder.encodeHeaders(head, this.responseLength, endStream);
    if (endStream) this.onResponseComplete();
  }

  setResponseContentLength(length: number): void {
    this.responseLength = length;
  }

  continueEncoding(): void {
    const head = this.heldResponse;
    if (head === null || this.destroyed) return;
    const from = this.encodeStoppedAt - 1;
    this.encodeStoppedAt = -1;
    this.heldResponse = null;
    if (!this.runEncodeHeaders(from, head, this.heldEnd)) {
      this.heldResponse = head;
      return;
    }
    const encodingAt = this.encodingAt;
    this.writeHeaders(head, this.heldEnd);
    const buffered = this.encodeBuffered;
    this.encodeBuffered = null;
    if (buffered !== null) {
      for (let i = 0; i < buffered.length; i++)
        this.runEncodeData(from, buffered[i]!, this.encodeBufferedEnd && i === buffered.length - 1);
    }
    const trailers = this.heldTrailers;
    this.heldTrailers = null;
    if (trailers !== null) this.runEncodeTrailers(from, trailers);
    this.encodingAt = encodingAt;
  }

  injectDecodedData(data: Buffer, endStream: boolean): void {
    const at = this.decodingAt;
    this.runDecodeData(at + 1, data, endStream);
    this.decodingAt = at;
  }

  injectEncodedData(data: Buffer, endStream: boolean): void {
    const at = this.encodingAt;
    this.runEncodeData(at - 1, data, endStream);
    this.encodingAt = at;
  }

  encodeHeadersPipedFrom(head: ResponseHead, contentLength: number, source: RequestEncoder): boolean {
    const encoder = this.encoder;
    if (this.destroyed || this.responseStarted || encoder.encodeHeadersPipedFrom === undefined) return false;
    if (!this.hcm.filtersIgnoreBodies(this.filters).response) return false;
    if (!this.beginResponse(head, false)) return false;
    this.hcm.finalizeResponseHeaders(head, this.requestHead);
    if (encoder.encodeHeadersPipedFrom(head, contentLength, source)) return true;
    // The codec could not pipe after all: the head still has to go out, the body will follow through JS.
    encoder.encodeHeaders(head, contentLength, false);
    return true;
  }

  canProxyResponseHeadFrom(source: RequestEncoder): boolean {
    if (this.destroyed || this.responseStarted) return false;
    return (
      this.hcm.proxiedResponsePlan(this.filters) !== null &&
      this.encoder.canWriteProxiedHeadFrom?.(source) === true
    );
  }

  proxyResponseHeadFrom(status: number, serviceMs: number, endStream: boolean, source: RequestEncoder): void {
    // beginResponse without a HeaderMap: no filter but the router sees it (proxiedResponsePlan), and
    // the plan carries the connection manager's edits (finalizeResponseHeaders).
    this.responseStarted = true;
    this.status = status;
    this.proxiedServiceMs = serviceMs;
    this.encoder.writeProxiedHeadFrom!(
      this.hcm.proxiedResponsePlan(this.filters)!,
      serviceMs,
      endStream,
      source,
    );
    if (endStream) this.onResponseComplete();
  }

  responseHeader(name: string): string | undefined {
    if (this.responseHeaders !== null) return this.responseHeaders.get(name);
    const serviceMs = this.proxiedServiceMs;
    return name === UPSTREAM_SERVICE_TIME_HEADER && serviceMs >= 0 ? String(serviceMs) : undefined;
  }

  requestBodySource(): ResponseEncoder | null {
    if (this.destroyed || this.bytesReceived > 0 || this.buffered !== null) return null;
    if (this.encoder.encodeHeadersPipedFrom === undefined) return null;
    return this.hcm.filtersIgnoreBodies(this.filters).request ? this.encoder : null;
  }

  spliceTunnel(upstream: RequestEncoder, bufferLimit: number): void {
    if (!this.upgraded || this.destroyed || this.buffered !== null || this.encodeBuffered !== null) return;
    const ignored = this.hcm.filtersIgnoreBodies(this.filters);
    if (!ignored.request || !ignored.response) return;
    const downstreamSide = this.encoder.tunnelSide?.() ?? null;
    const upstreamSide = upstream.tunnelSide?.() ?? null;
    if (downstreamSide !== null && upstreamSide !== null)
      spliceTunnel(downstreamSide, upstreamSide, bufferLimit);
  }

  /** The response head passes the encoder filters; false when the stream cannot answer any more. */
  private beginResponse(head: ResponseHead, endStream: boolean): boolean {
    if (this.destroyed || this.responseStarted) return false;
    this.responseStarted = true;
    this.status = head.status;
    this.responseHeaders = head.headers;
    if (this.requestHead !== null && switchesProtocols(this.requestHead, head.status)) this.startTunnel();
    // The router (last) produced the response; the others see it in reverse order.
    this.runEncodeHeaders(this.filters.length - 2, head, endStream);
    return true;
  }

  /** Runs encodeHeaders from filter `from` down; false when a filter stopped (it holds the head). */
  private runEncodeHeaders(from: number, head: ResponseHead, endStream: boolean): boolean {
    for (let i = from; i >= 0; i--) {
      if (this.filters[i]!.encodeHeaders(head, endStream) === FilterHeadersStatus.StopIteration) {
        this.encodeStoppedAt = i;
        return false;
      }
    }
    return true;
  }

  encodeData(data: Buffer, endStream: boolean): void {
    this.runEncodeData(this.filters.length - 2, data, endStream);
  }

  /**
   * Runs encodeData from filter `from` down, then writes the data. A filter that returns anything
   * but Continue keeps the data (it may pass its own on with injectEncodedData); while a filter
   * holds the response head, what it passes on waits for continueEncoding().
   */
  private runEncodeData(from: number, data: Buffer, endStream: boolean): void {
    const last = this.encodeStoppedAt === -1 ? 0 : this.encodeStoppedAt;
    for (let i = from; i >= last; i--) {
      if (this.destroyed) return;
      this.encodingAt = i;
      if (this.filters[i]!.encodeData(data, endStream) !== FilterDataStatus.Continue) return;
    }
    if (this.destroyed) return;
    if (this.encodeStoppedAt !== -1) {
      // Views from the codec are only valid during this call: keep a copy.
      (this.encodeBuffered ??= []).push(Buffer.from(data));
      this.encodeBufferedEnd = endStream;
      return;
    }
    this.bytesSent += data.length;
    this.encoder.encodeData(data, endStream);
    if (endStream) this.onResponseComplete();
  }

  encodeTrailers(trailers: HeaderMap): void {
    this.runEncodeTrailers(this.filters.length - 2, trailers);
  }

  private runEncodeTrailers(from: number, trailers: HeaderMap): void {
    const last = this.encodeStoppedAt === -1 ? 0 : this.encodeStoppedAt;
    for (let i = from; i >= last; i--) {
      if (this.destroyed) return;
      this.encodingAt = i;
      if (this.filters[i]!.encodeTrailers(trailers) === FilterTrailersStatus.StopIteration) return;
    }
    if (this.destroyed) return;
    if (this.encodeStoppedAt !== -1) {
      this.heldTrailers = trailers;
      return;
    }
    this.encoder.encodeTrailers(trailers);
    this.onResponseComplete();
  }

  encode100Continue(): void {
    this.encoder.encode100Continue();
  }

  readDisableDownstream(disable: boolean): void {
    this.encoder.readDisable(disable);
  }

  /** Reset by a filter (e.g. upstream died mid-response): the downstream connection is closed. */
  resetStream(): void {
    if (this.destroyed) return;
    this.hcm.stats.rqTxReset.inc();
    this.encoder.resetStream('local_reset');
    this.destroy();
  }

  // ------------------------------------------------------------ timers

  /**
   * stream_idle_timeout, armed once: activity only records its time (`touch`), and the timer, when
   * it fires, moves itself to the idle deadline of the latest activity — the stream's own, or bytes a
   * native codec moved without JS (piped bodies) — instead of re-arming on every event.
   */
  onTimeout(): void {
    if (this.destroyed) return;
    const idle = this.hcm.config.streamIdleTimeoutMs;
    const now = this.hcm.services.now();
    const ioIdle = this.encoder.ioIdleMs?.() ?? -1;
    const quietFor = ioIdle >= 0 ? Math.min(now - this.lastActivityMs, ioIdle) : now - this.lastActivityMs;
    if (quietFor < idle) {
      this.hcm.services.timers.arm(this, idle - quietFor);
      return;
    }
    this.hcm.stats.rqIdleTimeout.inc();
    this.setResponseFlag('SI');
    if (this.responseStarted) this.resetStream();
    else this.sendLocalReply(408, 'stream timeout', 'stream_idle_timeout');
  }

  /** request_timeout fired before the whole request arrived. */
  onRequestTimeout(): void {
    if (this.destroyed) return;
    this.hcm.stats.rqTimeout.inc();
    if (this.responseStarted) this.resetStream();
    else this.sendLocalReply(408, 'request timeout', 'request_overall_timeout');
  }

  /**
   * max_stream_duration ran out, whatever the stream was doing (Envoy's onStreamMaxDurationReached):
   * 504 once the whole request arrived, else 408; DEADLINE_EXCEEDED to a gRPC client; a reset when
   * the response has started.
   */
  onStreamMaxDuration(): void {
    if (this.destroyed) return;
    this.hcm.stats.rqMaxDurationReached.inc();
    const status = this.requestComplete ? 504 : 408;
    this.sendLocalReply(
      status,
      'downstream duration timeout',
      'max_duration_timeout',
      undefined,
      GRPC_DEADLINE_EXCEEDED,
    );
  }

  /**
   * Envoy's maybeNormalizePath, before routing: escaped slashes per path_with_escaped_slashes_action,
   * then normalize_path, then merge_slashes. False when the request was answered: 400 for a path
   * refused (and for a redirect a gRPC client could not follow), 307 to the unescaped path for
   * UNESCAPE_AND_REDIRECT.
   */
  private normalizePath(head: RequestHead): boolean {
    const config = this.hcm.config;
    const stats = this.hcm.stats;
    let redirect = false;
    if (config.escapedSlashesAction !== 'KEEP_UNCHANGED') {
      const unescaped = unescapeSlashes(head.path);
      if (unescaped !== null) {
        if (config.escapedSlashesAction === 'REJECT_REQUEST') {
          stats.rqFailedPathNormalization.inc();
          this.sendLocalReply(400, 'Bad Request', 'path_normalization_failed');
          return false;
        }
        head.path = unescaped;
        redirect = config.escapedSlashesAction === 'UNESCAPE_AND_REDIRECT';
      }
    }
    if (config.normalizePath || config.mergeSlashes) {
      const normalized = normalizeRequestPath(head.path, config.normalizePath, config.mergeSlashes);
      if (normalized === null) {
        stats.rqFailedPathNormalization.inc();
        this.sendLocalReply(400, 'Bad Request', 'path_normalization_failed');
        return false;
      }
      head.path = normalized;
    }
    if (!redirect) return true;
    if (isGrpcRequest(head.headers)) {
      stats.rqFailedPathNormalization.inc();
      this.sendLocalReply(400, 'Bad Request', 'path_normalization_failed');
      return false;
    }
    stats.rqRedirectedWithNormalizedPath.inc();
    const location = new HeaderMap();
    location.set('location', head.path);
    this.sendLocalReply(307, '', 'path_normalization_failed', location);
    return false;
  }

  /**
   * The stream's duration limit once its route is known (Envoy's refreshDurationTimeout): a gRPC
   * request's grpc-timeout when the route sets grpc_timeout_header_max (capped by it unless 0, less
   * the offset), else the route's max_stream_duration (0: none), else the connection manager's; still
   * counted from the stream's start. A gRPC request on such a route carries the limit upstream as
   * its grpc-timeout. False when the limit has already run out (the stream is answered).
   */
  private refreshDurationTimeout(head: RequestHead): boolean {
    const action = this.matched?.action;
    const limits = action?.kind === 'route' ? (action.streamDuration ?? null) : null;
    // As Envoy, the header counts whatever the content-type; only a gRPC request's is rewritten.
    const headerMs =
      limits !== null && limits.grpcHeaderMaxMs !== null
        ? grpcTimeoutMs(head.headers.get('grpc-timeout'))
        : null;
    const rewritesGrpcTimeout = limits !== null && isGrpcRequest(head.headers);
    let timeoutMs: number;
    if (headerMs === null) {
      timeoutMs = limits?.maxMs ?? this.hcm.config.maxStreamDurationMs;
    } else {
      const cap = limits!.grpcHeaderMaxMs!;
      timeoutMs = cap !== 0 && headerMs > cap ? cap : headerMs;
      const offset = limits!.grpcHeaderOffsetMs;
      if (timeoutMs !== 0 && offset > 0) timeoutMs = offset < timeoutMs ? timeoutMs - offset : 0;
    }
    const timers = this.hcm.services.timers;
    if (headerMs === null && timeoutMs === 0) {
      // 0 from a route or none anywhere: no limit (a header's 0 is a limit that has run out).
      if (this.durationTimer !== null) {
        timers.disarm(this.durationTimer);
        if (rewritesGrpcTimeout) head.headers.remove('grpc-timeout');
      }
      return true;
    }
    const remaining = timeoutMs - (this.hcm.services.now() - this.startMs);
    if (remaining <= 0) {
      // Envoy's timer would fire on the next loop turn, before any upstream could answer.
      this.onStreamMaxDuration();
      return false;
    }
    if (rewritesGrpcTimeout) head.headers.set('grpc-timeout', `${timeoutMs}m`);
    this.durationTimer ??= new StreamDeadline(this, onStreamMaxDuration);
    timers.arm(this.durationTimer, remaining);
    return true;
  }

  private requestReceived(): void {
    this.requestComplete = true;
    if (this.requestTimer !== null) this.hcm.services.timers.disarm(this.requestTimer);
  }

  /** Activity on the stream (called by filters on data) pushes the idle deadline back (see onTimeout). */
  touch(): void {
    this.lastActivityMs = this.hcm.services.now();
  }

  // ------------------------------------------------------------ internals

  /** Request data still goes through the filters: a tunnel's request half may outlive its response. */
  private get acceptsRequestData(): boolean {
    return !this.destroyed && (!this.responseComplete || this.upgraded);
  }

  /** Runs decodeHeaders from filter `from`; false when a filter stopped the chain. */
  private runDecodeHeaders(from: number, head: RequestHead, endStream: boolean): boolean {
    const last = this.filters.length - 1;
    for (let i = from; i <= last; i++) {
      if (this.destroyed || this.responseComplete) return false;
      // The terminal filter (the router) gets the headers: Envoy's router counts rq_total here.
      if (i === last) this.hcm.stats.routedTotal.inc();
      if (this.filters[i]!.decodeHeaders(head, endStream) === FilterHeadersStatus.StopIteration) {
        this.stoppedAt = i;
        return false;
      }
    }
    return true;
  }

  /**
   * Runs decodeData from filter `from`. As in Envoy, a filter that stopped header iteration still
   * receives the body; the filters after it get the body only once it calls continueDecoding(),
   * so until then it is buffered here (the router, last, never needs that).
   */
  private runDecodeData(from: number, data: Buffer, endStream: boolean): void {
    const last = this.stoppedAt === -1 ? this.filters.length - 1 : this.stoppedAt;
    for (let i = from; i <= last; i++) {
      if (!this.acceptsRequestData) return;
      this.decodingAt = i;
      if (this.filters[i]!.decodeData(data, endStream) !== FilterDataStatus.Continue) return;
    }
    if (last < this.filters.length - 1) {
      // Views from the codec are only valid during this call: keep a copy.
      (this.buffered ??= []).push(Buffer.from(data));
      this.bufferedEnd = endStream;
    }
  }

  /** The response switched protocols: counted, and no longer bound by request_timeout. */
  private startTunnel(): void {
    this.upgraded = true;
    this.hcm.stats.cxUpgradesTotal.inc();
    this.hcm.stats.cxUpgradesActive.inc();
    this.requestReceived();
  }

  private onResponseComplete(): void {
    if (this.responseComplete) return;
    this.responseComplete = true;
    this.hcm.recordResponse(this.status);
    // A tunnel's downstream half may still be sending: the stream ends with it.
    if (this.upgraded && !this.requestEnded) return;
    this.destroy();
  }

  private destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.hcm.services.timers.disarm(this);
    if (this.durationTimer !== null) this.hcm.services.timers.disarm(this.durationTimer);
    this.requestReceived();
    this.hcm.stats.rqActive.dec();
    if (this.upgraded) this.hcm.stats.cxUpgradesActive.dec();
    this.hcm.streamDone(this.connection, this);
    for (let i = 0; i < this.filters.length; i++) this.filters[i]!.onDestroy();
    const hcm = this.hcm;
    const native = this.encoder.nativeBodyBytes;
    if (native !== undefined) {
      this.bytesReceived += native.received;
      this.bytesSent += native.sent;
    }
    this.durationMs = hcm.services.now() - this.startMs;
    hcm.stats.rqTime.record(this.durationMs);
    const loggers = hcm.accessLoggers;
    for (let i = 0; i < loggers.length; i++) loggers[i]!.log(this);
  }
}

/**
 * A CONNECT request-target (authority-form, RFC 9112 §3.2.3): `host:port` with a port in 1–65535
 * and a host without userinfo, path or whitespace (an IPv6 literal in brackets). Null if it is not.
 */
function connectAuthority(target: string): string | null {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s/?#@[\]:]+):(\d{1,5})$/.exec(target);
  if (m === null) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? target : null;
}

/** One of a stream's own deadlines (request_timeout, max_stream_duration) on the worker's timer wheel. */
class StreamDeadline implements TimeoutTarget {
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  constructor(
    private readonly stream: ActiveStream,
    private readonly expire: (stream: ActiveStream) => void,
  ) {}
  onTimeout(): void {
    this.expire(this.stream);
  }
}

function onRequestTimeout(stream: ActiveStream): void {
  stream.onRequestTimeout();
}

function onStreamMaxDuration(stream: ActiveStream): void {
  stream.onStreamMaxDuration();
}
