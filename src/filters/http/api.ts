/**
 * HTTP filters, in the shape of Envoy's `envoy/http/filter.h`. A filter sees a request's headers,
 * body and trailers on the way in (decode*) and the response's on the way out (encode*), and answers
 * each call synchronously with a status. Async work returns StopIteration and later calls
 * `callbacks.continueDecoding()`. Filters run in config order when decoding and in reverse when
 * encoding; the router is last and terminal.
 */
import type { DownstreamConnectionInfo } from '../../transport/api';
import type { RequestEncoder, RequestHead, ResponseEncoder, ResponseHead } from '../../http/codec';
import type { HeaderMap } from '../../http/header-map';
import type { ObjectReader } from '../../config/config-reader';
import type { ExtensionFactory, ParseContext } from '../../registry/registry';
import type { MatchedRoute } from '../../router/route-table';
import type { HeaderFormatContext } from '../../router/header-format';
import type { StatsLayout } from '../../stats/store';

export const enum FilterHeadersStatus {
  Continue = 0,
  StopIteration = 1,
}
/**
 * What decodeData / encodeData answer. Anything but Continue means the filter keeps this data (it
 * passes its own on with inject*Data); only while a filter has stopped header iteration does the
 * connection manager buffer what reaches that filter's successors, until continueDecoding /
 * continueEncoding.
 */
export const enum FilterDataStatus {
  Continue = 0,
  StopIterationAndBuffer = 1,
  StopIterationNoBuffer = 2,
}
export const enum FilterTrailersStatus {
  Continue = 0,
  StopIteration = 1,
}

/** What a filter may ask of the stream it runs on (also the context of %…% header formatters). */
export interface StreamFilterCallbacks extends HeaderFormatContext {
  /** Resume the decode chain after StopIteration. */
  continueDecoding(): void;
  /**
   * Resume the encode chain after an encodeHeaders StopIteration: the held response head goes on
   * to the encoders after this filter and out, then the data and trailers passed on meanwhile.
   * Only a filter that reads response bodies (overrides encodeData) may stop response headers: with
   * none, the body may move natively (encodeHeadersPipedFrom) and could not wait for the head.
   */
  continueEncoding(): void;
  /**
   * From a filter's decodeData: passes `data` on to the filters after it (Envoy's
   * injectDecodedDataToFilterChain). A filter that rewrites the body returns StopIterationNoBuffer
   * and injects what it made instead: a Buffer cannot be rewritten in place.
   */
  injectDecodedData(data: Buffer, endStream: boolean): void;
  /** The same for a filter's encodeData or encodeTrailers: `data` goes to the encoders after it, then out. */
  injectEncodedData(data: Buffer, endStream: boolean): void;
  /**
   * From encodeHeaders (or while the head is held): the response body's length changes, e.g. a
   * filter that rewrites it; -1 = unknown (chunked on HTTP/1.1). The codec frames the body by it.
   */
  setResponseContentLength(length: number): void;
  /**
   * Answer locally (Envoy's sendLocalReply): stops the decode chain, runs encoders over the reply.
   * `details` is the response-code detail for logs (e.g. 'route_not_found').
   */
  sendLocalReply(
    status: number,
    body: string,
    details: string,
    extraHeaders?: HeaderMap,
    /** For a gRPC client: the grpc-status to send (default: mapped from `status`). */
    grpcStatus?: number,
  ): void;
  /** Response flags for access logs (NR, UH, UF, UT, …). */
  setResponseFlag(flag: string): void;
  /** The router picked `cluster` and upstream host `host` (`ip:port`, '' if none): for access logs. */
  setUpstreamInfo(cluster: string, host: string): void;
  /** The cluster the router picked, '' before it did (a weighted_clusters route picks in the router). */
  readonly upstreamCluster: string;
  readonly streamId: number;
  /** The request's authority (Host, or the absolute-form target's authority). */
  readonly authority: string;
  /** The connection's peer (no x-forwarded-for, no PROXY protocol): Envoy's direct remote address. */
  readonly directRemoteAddress: string;
  /** SNI and TLS facts of the downstream connection (null: plaintext, or not known). */
  readonly downstreamInfo: DownstreamConnectionInfo | null;
  /** The route chosen for this request by the connection manager, or null (no route). */
  route(): MatchedRoute | null;
  /**
   * The downstream connection's identity, the same object for every stream of one connection (a
   * key for per-connection state); null when the codec has no connection object (uWS).
   */
  readonly downstreamConnection: object | null;
  /** Send `100 Continue` downstream (the router does when the upstream sends it). */
  encode100Continue(): void;
  /** Abort the stream after response headers went out (closes the downstream connection). */
  resetStream(): void;
  /** Activity: pushes back the stream idle timeout. */
  touch(): void;
  /** Write response from an upstream (used by the router). */
  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void;
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: HeaderMap): void;
  /** Flow control: stop/resume reading the downstream request body. */
  readDisableDownstream(disable: boolean): void;
  /**
   * Like encodeHeaders(head, contentLength, false), with the body then moving natively from the
   * upstream stream `source` to the client (ResponseEncoder.encodeHeadersPipedFrom): possible when
   * both codecs are the native engine's and no filter reads response bodies. The end still comes
   * through encodeData / encodeTrailers. False: nothing was written, use encodeHeaders.
   */
  encodeHeadersPipedFrom?(head: ResponseHead, contentLength: number, source: RequestEncoder): boolean;
  /**
   * Whether the response head the upstream stream `source` just received (left in its codec) can be
   * written downstream natively (`proxyResponseHeadFrom`): when no filter but the router sees
   * responses, nothing logs response fields, and both codecs are the native engine's.
   */
  canProxyResponseHeadFrom?(source: RequestEncoder): boolean;
  /**
   * Sends that head downstream as encodeHeadersPipedFrom would after the router's edits (hop-by-hop
   * fields removed, `x-envoy-upstream-service-time: serviceMs` unless negative) and the connection
   * manager's; the body follows natively unless `endStream`.
   */
  proxyResponseHeadFrom?(status: number, serviceMs: number, endStream: boolean, source: RequestEncoder): void;
  /**
   * The downstream stream as a native source of the request body (RequestEncoder.encodeHeadersPipedFrom),
   * or null: when no filter before the router reads request bodies and none of it has arrived yet.
   */
  requestBodySource?(): ResponseEncoder | null;
  /**
   * The exchange became a tunnel to the upstream stream `upstream`: its bytes may move natively
   * from now on (http/tunnel-splice.ts), when no filter reads bodies and both codecs can hand
   * their sockets over. `bufferLimit` bounds the bytes in flight per direction. Nothing changes
   * for the filters but that data no longer passes through them; the ends and resets still do.
   */
  spliceTunnel?(upstream: RequestEncoder, bufferLimit: number): void;
}

/** True when `filter` leaves request bodies alone (its decodeData and decodeTrailers are the pass-through ones). */
export function ignoresRequestBody(filter: StreamFilter): boolean {
  return (
    filter.decodeData === PassThroughFilter.prototype.decodeData &&
    filter.decodeTrailers === PassThroughFilter.prototype.decodeTrailers
  );
}

/** True when `filter` leaves response bodies alone. */
export function ignoresResponseBody(filter: StreamFilter): boolean {
  return (
    filter.encodeData === PassThroughFilter.prototype.encodeData &&
    filter.encodeTrailers === PassThroughFilter.prototype.encodeTrailers
  );
}

export interface StreamDecoderFilter {
  decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus;
  decodeData(data: Buffer, endStream: boolean): FilterDataStatus;
  decodeTrailers(trailers: HeaderMap): FilterTrailersStatus;
}

export interface StreamEncoderFilter {
  encodeHeaders(head: ResponseHead, endStream: boolean): FilterHeadersStatus;
  encodeData(data: Buffer, endStream: boolean): FilterDataStatus;
  encodeTrailers(trailers: HeaderMap): FilterTrailersStatus;
}

export interface StreamFilter extends StreamDecoderFilter, StreamEncoderFilter {
  /** Called once, before any decode call. */
  setCallbacks(callbacks: StreamFilterCallbacks): void;
  /** The stream ended (completed or reset): release timers and upstream requests. */
  onDestroy(): void;
  /** The downstream flushed its write buffer / filled it: flow control toward the upstream. */
  onDownstreamWatermark?(above: boolean): void;
}

/** A pass-through base: a filter overrides only what it needs. */
export class PassThroughFilter implements StreamFilter {
  protected callbacks!: StreamFilterCallbacks;
  setCallbacks(callbacks: StreamFilterCallbacks): void {
    this.callbacks = callbacks;
  }
  decodeHeaders(_head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }
  decodeData(_data: Buffer, _endStream: boolean): FilterDataStatus {
    return FilterDataStatus.Continue;
  }
  decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }
  encodeHeaders(_head: ResponseHead, _endStream: boolean): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }
  encodeData(_data: Buffer, _endStream: boolean): FilterDataStatus {
    return FilterDataStatus.Continue;
  }
  encodeTrailers(_trailers: HeaderMap): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }
  onDestroy(): void {}
}

/** Worker-side services a filter factory may use (cluster manager, stats, time). */
export interface FilterFactoryContext {
  readonly workerIndex: number;
  /** The filter's `name` in http_filters: the key of its per-route configs (route().perFilterConfig). */
  readonly configName: string;
  /** The connection manager's stat prefix, `http.<stat_prefix>.` (filters whose stats live under it). */
  readonly hcmStatPrefix: string;
  /** Opaque to filters that don't need it; the router casts it. */
  readonly services: unknown;
}

export interface HttpFilterFactory<C = unknown, R = unknown> extends ExtensionFactory<C> {
  readonly category: 'http_filter';
  /** Once per worker per HCM: returns a function that makes one filter per stream. */
  createFilterFactory(config: C, ctx: FilterFactoryContext): () => StreamFilter;
  /**
   * On the primary, before workers start: declares the stats this filter's instances will use.
   * `routeClusters`: the clusters the connection manager's routes name (for `cluster.<c>.` stats).
   */
  declareStats?(
    config: C,
    layout: StatsLayout,
    routeClusters: readonly string[],
    /** `http.<stat_prefix>.` of the connection manager. */
    hcmStatPrefix: string,
  ): void;
  /**
   * The `@type`s its typed_per_filter_config entries take when they differ from the filter's own
   * (CORS: the filter is `Cors`, a route's policy `CorsPolicy`); absent: the filter's typeUrls.
   */
  readonly perRouteTypeUrls?: readonly string[];
  /**
   * On the primary: parses this filter's entry in a `typed_per_filter_config` (route configuration,
   * virtual host or route; same `@type` as the filter). Plain data, like parseConfig's result; the
   * filter reads it with `callbacks.route()?.perFilterConfig(ctx.configName)`. A filter without it
   * rejects per-route config.
   */
  parsePerRouteConfig?(reader: ObjectReader, ctx: ParseContext): R;
  /** Declares the stats a per-route config will use (it may have its own stat prefix). */
  declarePerRouteStats?(config: R, layout: StatsLayout): void;
  /**
   * The `stage` of route `rate_limits` this filter (or per-route) config turns into descriptors, or
   * null if it reads none. Route rate_limits of a stage no config reads are a config error.
   */
  rateLimitStage?(config: C | R): number | null;
}
