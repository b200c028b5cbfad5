/**
 * Upstreams the test drives by hand. The harness builds the real ClusterManager from the config
 * (real clusters, load balancers, circuit breakers, outlier recorders) and replaces each cluster's
 * connection pools with `FakeConnPool`s: `newStream` opens no socket, it queues a
 * `FakeUpstreamStream` that the test then attaches (`attach()`), fails (`failPool()`) and answers
 * (`headers()`, `data()`, `trailers()`, `reset()`, `respond()`…).
 *
 * A FakeUpstreamStream is also the RequestEncoder the router writes to, so it records what would
 * have gone upstream: the request head with the framing the router asked for, body bytes, resets
 * and readDisable calls.
 */
import type {
  RequestEncoder,
  RequestHead,
  ResponseDecoder,
  StreamResetReason,
} from '../../../src/http/codec';
import { HeaderMap } from '../../../src/http/header-map';
import type { Cluster } from '../../../src/upstream/cluster';
import type { ClusterManager } from '../../../src/upstream/cluster-manager';
import type { Cancellable, ConnPool, PoolCallbacks, PoolFailureReason } from '../../../src/upstream/pool';
import type { Host } from '../../../src/upstream/host';

/** Header fields as a test writes them: an object or ordered pairs. */
export type HeaderInit = Record<string, string> | [string, string][];

export function headerMap(init: HeaderInit = {}): HeaderMap {
  const map = new HeaderMap();
  const pairs = Array.isArray(init) ? init : Object.entries(init);
  for (const [name, value] of pairs) map.add(name.toLowerCase(), value);
  return map;
}

/** How a whole response reaches the router, framed as Legate's upstream codec would deliver it. */
export interface ResponseShape {
  status: number;
  headers?: HeaderInit;
  /** The body bytes (default none). */
  body?: Buffer | string;
  /**
   * How the upstream framed the body (default 'content-length'; a `content-length` header is added
   * unless `headers` has one):
   * - 'content-length': headers end the stream when the length is 0, else one data call ends it;
   * - 'chunked': headers, the body as one data call, then the end (empty data, or `trailers`);
   * - 'close': like chunked without trailers (the end comes when the upstream closes).
   * 204 and 304 responses, and responses to HEAD, end at the headers whatever the framing (the
   * codec skips their body), as RFC 9112 section 6.3 says.
   */
  framing?: 'content-length' | 'chunked' | 'close';
  trailers?: HeaderInit;
}

export type UpstreamState = 'pending' | 'cancelled' | 'failed' | 'attached' | 'reset-by-router' | 'complete';

const EMPTY = Buffer.alloc(0);

export class FakeUpstreamStream implements RequestEncoder, Cancellable {
  state: UpstreamState = 'pending';
  /** The connection had served requests before (what the pool tells the router on attach). */
  reused = false;
  // ---- what the router wrote upstream
  requestHead: RequestHead | null = null;
  /** The contentLength argument of encodeHeaders (-1: the codec would use chunked or no body). */
  requestContentLength = -2;
  readonly requestBody: Buffer[] = [];
  requestEnded = false;
  /** Set when the stream completes: the connection could serve another request. */
  reusable = false;
  /** The reason the router reset this stream with, or null. */
  resetReason: StreamResetReason | null = null;
  /** Every readDisable(disable) call, in order. */
  readonly readDisableCalls: boolean[] = [];
  // ---- what the upstream delivered
  private responseEnded = false;

  constructor(
    readonly pool: FakeConnPool,
    readonly decoder: ResponseDecoder,
    private readonly callbacks: PoolCallbacks,
  ) {}

  get host(): Host {
    return this.pool.host;
  }

  /** The request's body as one buffer. */
  get requestBodyBytes(): Buffer {
    return Buffer.concat(this.requestBody);
  }

  // ---- the test drives the pool

  /** A connection is ready: the router gets `onPoolReady` and writes its request. */
  attach(opts: { reused?: boolean } = {}): this {
    this.expectState('pending', 'attach');
    this.state = 'attached';
    this.reused = opts.reused ?? false;
    this.callbacks.onPoolReady(this, this.pool.host, this.reused);
    return this;
  }

  /** No connection will come (connect failure, connect timeout, pending overflow). */
  failPool(reason: PoolFailureReason = 'connection_failure', detail = 'connect error: ECONNREFUSED'): void {
    this.expectState('pending', 'failPool');
    this.state = 'failed';
    this.callbacks.onPoolFailure(reason, detail);
  }

  // ---- the test drives the upstream's answer (raw decoder events)

  continue100(): void {
    this.expectState('attached', 'continue100');
    this.decoder.decode1xxHeaders({ status: 100, reason: '', headers: new HeaderMap() });
  }

  headers(status: number, headers: HeaderInit = {}, endStream = false): void {
    this.expectState('attached', 'headers');
    if (endStream) this.responseEnded = true;
    this.decoder.decodeHeaders({ status, reason: '', headers: headerMap(headers) }, endStream);
    this.completeIfDone();
  }

  data(body: Buffer | string, endStream = false): void {
    this.expectState('attached', 'data');
    if (endStream) this.responseEnded = true;
    this.decoder.decodeData(typeof body === 'string' ? Buffer.from(body) : body, endStream);
    this.completeIfDone();
  }

  trailers(trailers: HeaderInit): void {
    this.expectState('attached', 'trailers');
    this.responseEnded = true;
    this.decoder.decodeTrailers(headerMap(trailers));
    this.completeIfDone();
  }

  /** The connection broke (or the upstream reset the stream): the router gets `onResetStream`. */
  reset(reason: StreamResetReason = 'remote_reset'): void {
    this.expectState('attached', 'reset');
    this.state = 'complete';
    this.decoder.onResetStream(reason);
  }

  /** The upstream socket's write buffer filled (true) or drained (false) while the request body is sent. */
  writeWatermark(above: boolean): void {
    this.expectState('attached', 'writeWatermark');
    if (above) this.decoder.onAboveWriteBufferHighWatermark();
    else this.decoder.onBelowWriteBufferLowWatermark();
  }

  /**
   * A whole response, delivered in the calls Legate's upstream codec (src/http/client-connection.ts)
   * makes for that framing (see ResponseShape).
   */
  respond(shape: ResponseShape): void {
    const body = typeof shape.body === 'string' ? Buffer.from(shape.body) : (shape.body ?? EMPTY);
    const framing = shape.framing ?? 'content-length';
    const headers = headerMap(shape.headers);
    if (framing === 'content-length' && !headers.has('content-length'))
      headers.add('content-length', String(body.length));
    if (framing === 'chunked' && !headers.has('transfer-encoding'))
      headers.add('transfer-encoding', 'chunked');
    const pairs = headers.names.map((n, i): [string, string] => [n, headers.values[i]!]);
    const bodiless = shape.status === 204 || shape.status === 304 || this.requestHead?.method === 'HEAD';
    if (bodiless || (framing === 'content-length' && body.length === 0)) {
      this.headers(shape.status, pairs, true);
      return;
    }
    this.headers(shape.status, pairs, false);
    if (this.state !== 'attached') return; // the router reset the stream on the headers (a retry)
    if (framing === 'content-length') {
      this.data(body, true);
      return;
    }
    if (body.length > 0) this.data(body, false);
    if (this.state !== 'attached') return;
    if (shape.trailers !== undefined && framing === 'chunked') this.trailers(shape.trailers);
    else this.data(EMPTY, true);
  }

  // ---- RequestEncoder (called by the router)

  encodeHeaders(head: RequestHead, contentLength: number, endStream: boolean): void {
    this.requestHead = head;
    this.requestContentLength = contentLength;
    if (endStream) this.requestEnded = true;
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (this.requestEnded) throw new Error('router wrote request body after the end of the request');
    if (this.state !== 'attached') return; // as the codec: the exchange is over, nothing more is sent
    this.requestBody.push(Buffer.from(data));
    if (endStream) this.requestEnded = true;
  }

  encodeTrailers(_trailers: HeaderMap): void {
    if (this.state !== 'attached') return;
    this.requestEnded = true;
  }

  resetStream(reason: StreamResetReason): void {
    if (this.state !== 'attached') return; // as the codec: no stream, nothing to reset
    this.state = 'reset-by-router';
    this.resetReason = reason;
  }

  readDisable(disable: boolean): void {
    this.readDisableCalls.push(disable);
  }

  // ---- Cancellable (the router gave up waiting for a connection)

  cancel(): void {
    if (this.state === 'pending') this.state = 'cancelled';
  }

  // ---- internals

  /**
   * As the codec: the stream completes when the response ends. If the request was not all sent by
   * then, the connection cannot be reused (`reusable` false: the codec closes it).
   */
  private completeIfDone(): void {
    if (this.state !== 'attached' || !this.responseEnded) return;
    this.state = 'complete';
    this.reusable = this.requestEnded;
  }

  private expectState(state: UpstreamState, action: string): void {
    if (this.state !== state)
      throw new Error(`${action}: upstream stream to ${this.host.key} is ${this.state}, not ${state}`);
  }
}

/** Stands in for one host's connection pool: every `newStream` waits until the test attaches or fails it. */
export class FakeConnPool implements ConnPool {
  constructor(
    readonly host: Host,
    private readonly upstreams: FakeUpstreams,
  ) {}

  newStream(decoder: ResponseDecoder, callbacks: PoolCallbacks): Cancellable | null {
    const stream = new FakeUpstreamStream(this, decoder, callbacks);
    this.upstreams.streams.push(stream);
    const idle = this.upstreams.idleConnection;
    if (idle === null) return stream;
    // As the real pool with an idle connection: attached inside newStream, nothing to cancel.
    stream.attach(idle);
    return null;
  }

  drain(): void {}
  close(): void {}
}

/** Every upstream stream the router asked for, across clusters and hosts, in order. */
export class FakeUpstreams {
  readonly streams: FakeUpstreamStream[] = [];
  private taken = 0;
  /**
   * Null (default): each new stream waits for the test's `attach()` / `failPool()`. Set: every pool
   * has an idle connection (`reused` as given) and attaches new streams synchronously in newStream.
   */
  idleConnection: { reused: boolean } | null = null;

  /** Replaces the pools of every cluster of `manager` with fake ones (one per host, as the real cluster keeps). */
  install(manager: ClusterManager): void {
    for (const cluster of manager.clusters) this.installIn(cluster);
  }

  /** The oldest stream not yet returned by `next()`; throws if the router asked for none. */
  next(): FakeUpstreamStream {
    const s = this.streams[this.taken];
    if (s === undefined)
      throw new Error(`the router asked for ${this.streams.length} upstream streams, not ${this.taken + 1}`);
    this.taken++;
    return s;
  }

  /** How many streams the router asked for that `next()` has not returned yet. */
  waiting(): number {
    return this.streams.length - this.taken;
  }

  private installIn(cluster: Cluster): void {
    const pools = new Map<Host, FakeConnPool>();
    // The router reaches pools only through Cluster.pool(host).
    cluster.pool = (host: Host): ConnPool => {
      let pool = pools.get(host);
      if (pool === undefined) {
        pool = new FakeConnPool(host, this);
        pools.set(host, pool);
      }
      return pool;
    };
  }
}
