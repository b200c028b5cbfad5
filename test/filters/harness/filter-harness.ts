/**
 * An in-process harness for HTTP filters and the router, in the spirit of Envoy's filter mocks
 * (MockStreamDecoderFilterCallbacks, MockClusterManager, SimulatedTimeSystem): one filter instance
 * per stream, built by its real factory from real Envoy YAML, with
 *
 * - recording stream callbacks (`HarnessStream`): local replies, the response the filter encoded
 *   (head, the content length it gave the codec, body bytes, trailers, where it ended), response
 *   flags, continueDecoding / resetStream / 100-continue / readDisableDownstream calls;
 * - simulated time (`h.time`): the worker's real timer wheel, driven by `h.time.advance(ms)`;
 * - hand-driven upstreams (`h.upstreams`): the real cluster manager with fake connection pools,
 *   whose streams the test attaches, fails and answers (fake-upstream.ts);
 * - the real stats store, read with `h.stat(name)`.
 *
 * Usage:
 *
 *   const h = FilterHarness.create(catchAllYaml([10001], { routeExtra: 'retry_policy: { retry_on: 5xx }' }));
 *   const s = h.stream();                      // the router (the chain's last filter); or h.stream('<filter name>')
 *   s.request({ path: '/x' });                 // decodeHeaders(…, endStream) (+ decodeData with `body`)
 *   const up = h.upstreams.next();             // the router asked the pool for a stream
 *   up.attach();                               // a connection is ready: the router writes the request
 *   up.respond({ status: 503, body: 'busy' }); // framed as the upstream codec delivers it
 *   h.time.advance(25);                        // the retry back-off passes
 *   h.upstreams.next().attach().respond({ status: 200, body: 'ok' });
 *   assert.equal(s.response!.head.status, 200);
 *   assert.equal(s.body.toString(), 'ok');
 *   assert.equal(h.stat('cluster.o.upstream_rq_retry'), 1);
 *   h.close();
 *
 * Endpoints must be STATIC (IP literals); no socket is opened. The stream does what the connection
 * manager does around one filter: it matches the route before decodeHeaders, runs the filter's
 * encoders over local replies, and calls onDestroy when the response ends or the stream is reset.
 * It does not run the rest of the chain: a response from behind the filter is given with
 * `s.passResponse(status, headers)`, which runs the filter's encoder as the connection manager would.
 */
import { loadBootstrap } from '../../../src/config/load';
import type { HttpConnectionManagerConfig } from '../../../src/config/bootstrap';
import { DateCache } from '../../../src/common/date-cache';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type HttpFilterFactory,
  type StreamFilter,
  type StreamFilterCallbacks,
} from '../../../src/filters/http/api';
import type { RequestHead, ResponseHead } from '../../../src/http/codec';
import { HeaderMap } from '../../../src/http/header-map';
import { createBuiltinRegistry } from '../../../src/registry/builtins';
import type { Registry } from '../../../src/registry/registry';
import { compileRouteTable, type MatchedRoute, type RouteTable } from '../../../src/router/route-table';
import { ClusterStats } from '../../../src/stats/cluster-stats';
import { declareBootstrapStats } from '../../../src/stats/declare';
import { StatsLayout, StatsStore } from '../../../src/stats/store';
import { CircuitBreakerTable } from '../../../src/upstream/circuit-breakers';
import { ClusterManager } from '../../../src/upstream/cluster-manager';
import { HostTable } from '../../../src/upstream/host-table';
import type { WorkerServices } from '../../../src/worker/services';
import { SharedFlag } from '../../../src/worker/shared-flag';
import { FakeUpstreams, headerMap, type HeaderInit } from './fake-upstream';
import { SimulatedTime } from './simulated-time';

export interface HarnessOptions {
  /** The services' random source in [0, 1) (retry jitter, weighted picks). Default: always 0.5. */
  random?: () => number;
}

export class FilterHarness {
  readonly time = new SimulatedTime();
  readonly upstreams = new FakeUpstreams();
  readonly services: WorkerServices;
  readonly hcm: HttpConnectionManagerConfig;
  /** Replaceable between requests: what `services.random` returns. */
  random: () => number;
  private readonly routeTable: RouteTable;
  private readonly factories = new Map<string, () => StreamFilter>();
  private readonly filterOrder: string[] = [];
  private readonly stats: StatsStore;

  private constructor(yaml: string, options: HarnessOptions) {
    this.random = options.random ?? ((): number => 0.5);
    const registry = createBuiltinRegistry();
    const { bootstrap } = loadBootstrap({ configYaml: yaml }, registry);
    const hcmFilter = bootstrap.listeners[0]?.filterChains[0]?.filters.find(
      (f) => f.name === 'envoy.filters.network.http_connection_manager',
    );
    if (hcmFilter === undefined) throw new Error('the first listener has no http_connection_manager');
    this.hcm = hcmFilter.config as HttpConnectionManagerConfig;

    const layout = new StatsLayout();
    declareBootstrapStats(layout, bootstrap, registry, 1);
    this.stats = new StatsStore(layout.allocate(2), 1);
    const stats = this.stats;
    const hostTable = HostTable.allocate(bootstrap.clusters);
    const breakers = CircuitBreakerTable.allocate(bootstrap.clusters, 1);
    const clusterManager = new ClusterManager(bootstrap.clusters, {
      hostTable,
      registry,
      random: () => this.random(),
      nowMs: this.time.now,
      clusterStats: (name) => new ClusterStats(stats, name, true),
      circuitBreaker: (config) => breakers.breaker(config, 0, 0, (n) => stats.counter(n)),
    });
    for (const cluster of clusterManager.clusters) {
      if (cluster.config.type !== 'STATIC')
        throw new Error(`cluster '${cluster.name}': the harness takes STATIC clusters only`);
    }
    this.upstreams.install(clusterManager);
    this.services = {
      workerIndex: 0,
      registry,
      stats,
      timers: this.time.timers,
      clusterManager,
      hostTable,
      date: new DateCache(),
      random: () => this.random(),
      now: this.time.now,
      healthCheckFailed: new SharedFlag(),
      nativeEngine: null,
    };
    this.routeTable = compileRouteTable(this.hcm.routeConfig);
    for (const f of this.hcm.httpFilters) {
      const factory = registry.get('http_filter', f.name) as HttpFilterFactory;
      const ctx = {
        workerIndex: 0,
        configName: f.configName,
        hcmStatPrefix: `http.${this.hcm.statPrefix}.`,
        services: this.services,
      };
      this.factories.set(f.configName, factory.createFilterFactory(f.config, ctx));
      this.filterOrder.push(f.configName);
    }
  }

  /** Builds the harness over the first listener's HTTP connection manager of an Envoy bootstrap. */
  static create(yaml: string, options: HarnessOptions = {}): FilterHarness {
    return new FilterHarness(yaml, options);
  }

  get registry(): Registry {
    return this.services.registry;
  }

  /**
   * A new stream running one filter: the http_filters entry named `filterName` (its `name` as
   * written), by default the last one (the router).
   */
  stream(filterName?: string, opts: { connection?: object; remoteAddress?: string } = {}): HarnessStream {
    const name = filterName ?? this.filterOrder[this.filterOrder.length - 1]!;
    const factory = this.factories.get(name);
    if (factory === undefined)
      throw new Error(`no HTTP filter named '${name}' (have: ${this.filterOrder.join(', ')})`);
    return new HarnessStream(factory(), this.routeTable, opts.connection ?? {}, opts.remoteAddress);
  }

  /** The process-wide value of a declared counter or gauge. */
  stat(name: string): number {
    const value = this.stats.value(name);
    if (value === undefined) throw new Error(`no stat '${name}' was declared`);
    return value;
  }

  /** Zeroes every counter (gauges keep their value): lets one harness serve many independent cases. */
  resetCounters(): void {
    this.stats.resetCounters();
  }

  close(): void {
    this.services.clusterManager.close();
    this.services.date.close();
    this.time.close();
  }
}

/** A request as a test states it; the head gets `host`, framing fields and keep-alive as a codec would. */
export interface RequestInit {
  method?: string;
  path?: string;
  /** The Host header (default example.com). */
  authority?: string;
  headers?: HeaderInit;
  /** The body, sent in one decodeData call after the headers (with content-length unless `chunked`). */
  body?: Buffer | string;
  /** Announce the body as chunked (no content-length): the body may then also be sent in pieces. */
  chunked?: boolean;
  /** Only the headers: the body follows in `decodeData` calls by the test (default false). */
  bodyFollows?: boolean;
  /** A Content-Length for a body the test sends itself with `bodyFollows`. */
  contentLength?: number;
}

export interface LocalReply {
  status: number;
  body: string;
  details: string;
  headers: HeaderMap;
}

/** What the filter (or a local reply) wrote toward the downstream codec. */
export interface RecordedResponse {
  head: ResponseHead;
  /** The content length given to the codec (-1: unknown, the codec chooses chunked or close). */
  contentLength: number;
  /** encodeHeaders ended the stream (no body calls). */
  headersOnly: boolean;
  /** Each encodeData call's bytes (copied), in order. */
  readonly chunks: Buffer[];
  trailers: HeaderMap | null;
  /** The response ended (endStream on headers or data, or trailers). */
  ended: boolean;
}

/** One downstream stream around one filter: the filter's StreamFilterCallbacks, recording everything. */
export class HarnessStream implements StreamFilterCallbacks {
  private static nextId = 1;
  readonly streamId = HarnessStream.nextId++;
  readonly startTimeMs = Date.UTC(2024, 0, 2, 3, 4, 5);
  readonly remotePort = 40000;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 10000;
  readonly protocol = 'HTTP/1.1';
  // ---- recorded calls
  readonly localReplies: LocalReply[] = [];
  readonly flags: string[] = [];
  response: RecordedResponse | null = null;
  continueDecodingCalls = 0;
  continueEncodingCalls = 0;
  /** What the filter passed on to the filters after it with injectDecodedData (copied), in order. */
  readonly injectedRequestData: Buffer[] = [];
  /** The last setResponseContentLength call, or null. */
  responseContentLength: number | null = null;
  encode100ContinueCalls = 0;
  resetStreamCalls = 0;
  touchCalls = 0;
  /** Every readDisableDownstream(disable) call, in order. */
  readonly readDisableCalls: boolean[] = [];
  /** The last setUpstreamInfo call. */
  upstreamCluster = '';
  upstreamHost = '';
  /** onDestroy ran (response complete, or reset). */
  destroyed = false;

  private head: RequestHead | null = null;
  private matched: MatchedRoute | null = null;
  authority = '';
  /** Plaintext, no tls_inspector. */
  readonly downstreamInfo = null;

  get directRemoteAddress(): string {
    return this.remoteAddress;
  }

  constructor(
    readonly filter: StreamFilter,
    private readonly routeTable: RouteTable,
    readonly downstreamConnection: object,
    readonly remoteAddress = '10.1.2.3',
  ) {
    filter.setCallbacks(this);
  }

  get requestHeaders(): HeaderMap {
    return this.head?.headers ?? new HeaderMap();
  }

  /** The response body bytes the client would receive. */
  get body(): Buffer {
    return Buffer.concat(this.response?.chunks ?? []);
  }

  /** The response status, or 0 before any. */
  get status(): number {
    return this.response?.head.status ?? 0;
  }

  // ---- the test drives the downstream side

  /**
   * Sends a request: decodeHeaders, then (unless `bodyFollows`) the body in one decodeData with
   * endStream. Returns decodeHeaders' status.
   */
  request(init: RequestInit = {}): FilterHeadersStatus {
    const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    const head = this.buildHead(init, body);
    const hasBody = init.bodyFollows === true || (body !== undefined && body.length > 0) || head.chunked;
    const status = this.decodeHeaders(head, !hasBody);
    if (hasBody && init.bodyFollows !== true) this.decodeData(body ?? Buffer.alloc(0), true);
    return status;
  }

  /** The connection manager's decodeHeaders: route match, then the filter. */
  decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus {
    this.head = head;
    this.authority = head.headers.get('host') ?? '';
    this.matched = this.routeTable.route(this.authority, head.path, head.headers, false, head);
    return this.filter.decodeHeaders(head, endStream);
  }

  decodeData(data: Buffer | string, endStream: boolean): FilterDataStatus {
    if (this.destroyed) return FilterDataStatus.StopIterationNoBuffer;
    return this.filter.decodeData(typeof data === 'string' ? Buffer.from(data) : data, endStream);
  }

  decodeTrailers(trailers: HeaderInit): FilterTrailersStatus {
    if (this.destroyed) return FilterTrailersStatus.StopIteration;
    return this.filter.decodeTrailers(headerMap(trailers));
  }

  /**
   * A response from further down the chain (the router) on its way to the client: the connection
   * manager runs it through this filter's encodeHeaders, then writes it. Returns the filter's status.
   */
  passResponse(status: number, headers: HeaderInit = {}, endStream = true): FilterHeadersStatus {
    const head: ResponseHead = { status, reason: '', headers: headerMap(headers) };
    const result = this.filter.encodeHeaders(head, endStream);
    this.encodeHeaders(head, endStream ? 0 : -1, endStream);
    return result;
  }

  /** The client went away (codec onResetStream): the connection manager destroys the stream. */
  downstreamReset(): void {
    this.destroy();
  }

  /** The downstream socket's write buffer filled (true) or drained (false). */
  downstreamWatermark(above: boolean): void {
    this.filter.onDownstreamWatermark?.(above);
  }

  // ---- StreamFilterCallbacks

  route(): MatchedRoute | null {
    return this.matched;
  }

  continueDecoding(): void {
    this.continueDecodingCalls++;
  }

  continueEncoding(): void {
    this.continueEncodingCalls++;
  }

  injectDecodedData(data: Buffer, _endStream: boolean): void {
    this.injectedRequestData.push(Buffer.from(data));
  }

  /** Nothing is after the filter on the encode side but the client. */
  injectEncodedData(data: Buffer, endStream: boolean): void {
    this.encodeData(data, endStream);
  }

  setResponseContentLength(length: number): void {
    this.responseContentLength = length;
  }

  sendLocalReply(status: number, body: string, details: string, extraHeaders?: HeaderMap): void {
    if (this.destroyed) return;
    if (this.response !== null) {
      // As the connection manager: headers already went out, so the stream is reset instead.
      this.resetStream();
      return;
    }
    const headers = extraHeaders ?? new HeaderMap();
    this.localReplies.push({ status, body, details, headers });
    if (body !== '') headers.set('content-type', 'text/plain');
    const head: ResponseHead = { status, reason: '', headers };
    // Local replies pass through the encoder filters, the one that sent it included (as in Envoy).
    this.filter.encodeHeaders(head, body === '');
    this.encodeHeaders(head, Buffer.byteLength(body), body === '');
    if (body !== '') this.encodeData(Buffer.from(body), true);
  }

  setResponseFlag(flag: string): void {
    if (!this.flags.includes(flag)) this.flags.push(flag);
  }

  setUpstreamInfo(cluster: string, host: string): void {
    this.upstreamCluster = cluster;
    this.upstreamHost = host;
  }

  encode100Continue(): void {
    this.encode100ContinueCalls++;
  }

  resetStream(): void {
    this.resetStreamCalls++;
    this.destroy();
  }

  touch(): void {
    this.touchCalls++;
  }

  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void {
    if (this.destroyed) return;
    if (this.response !== null) throw new Error('encodeHeaders called twice on one stream');
    this.response = { head, contentLength, headersOnly: endStream, chunks: [], trailers: null, ended: false };
    if (endStream) this.endResponse();
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (this.destroyed) return;
    const r = this.expectOpenResponse('encodeData');
    r.chunks.push(Buffer.from(data));
    if (endStream) this.endResponse();
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (this.destroyed) return;
    this.expectOpenResponse('encodeTrailers').trailers = trailers;
    this.endResponse();
  }

  readDisableDownstream(disable: boolean): void {
    this.readDisableCalls.push(disable);
  }

  // ---- internals

  private buildHead(init: RequestInit, body: Buffer | undefined): RequestHead {
    const headers = headerMap(init.headers);
    if (!headers.has('host')) headers.add('host', init.authority ?? 'example.com');
    const chunked = init.chunked === true;
    let contentLength = init.contentLength ?? (body !== undefined && !chunked ? body.length : -1);
    if (chunked) {
      contentLength = -1;
      headers.set('transfer-encoding', 'chunked');
    } else if (contentLength >= 0) headers.set('content-length', String(contentLength));
    return {
      method: init.method ?? 'GET',
      path: init.path ?? '/',
      protocol: 'HTTP/1.1',
      headers,
      keepAlive: true,
      contentLength,
      chunked,
      upgrade: false,
    };
  }

  private expectOpenResponse(call: string): RecordedResponse {
    const r = this.response;
    if (r === null) throw new Error(`${call} before encodeHeaders`);
    if (r.ended) throw new Error(`${call} after the response ended`);
    return r;
  }

  private endResponse(): void {
    this.response!.ended = true;
    this.destroy();
  }

  private destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.filter.onDestroy();
  }
}
