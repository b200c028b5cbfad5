/**
 * The compressor filter (Envoy's `envoy.filters.http.compressor`): compresses a response body with
 * gzip or brotli when the request accepts that encoding (`accept-encoding`, q-values honoured, `*`
 * counts) and the response is compressible: not headers-only, no content-encoding yet, a
 * content-type in the list (Envoy's default list when none is given; any when the response has
 * none), content-length at least `min_content_length` when known, no `cache-control:
 * no-transform`, and no etag when `disable_on_etag_header`. It then drops content-length (the body
 * goes chunked), sets content-encoding, weakens a strong etag and adds `vary: accept-encoding`
 * (also when only the request's encoding ruled compression out, so caches in front keep variants
 * apart). Each body chunk is flushed through (Z_SYNC_FLUSH), so streamed responses stay streamed.
 *
 * Compression runs on Node's zlib (its thread pool): the filter holds each chunk and injects the
 * compressed bytes when zlib hands them back, in order; trailers wait for the compressor's end.
 */
import * as zlib from 'node:zlib';
import type { RequestHead, ResponseHead } from '../../../http/codec';
import type { HeaderMap } from '../../../http/header-map';
import type { Counter } from '../../../stats/store';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter } from '../api';
import type { CompressionLibrary } from './config';

export interface CompressorStats {
  noAcceptHeader: Counter;
  headerIdentity: Counter;
  headerCompressorUsed: Counter;
  headerWildcard: Counter;
  headerNotValid: Counter;
  notCompressedEtag: Counter;
  compressed: Counter;
  notCompressed: Counter;
  contentLengthTooSmall: Counter;
  totalUncompressedBytes: Counter;
  totalCompressedBytes: Counter;
}

/** One filter config compiled for a worker: what every stream of it shares. */
export interface CompressorShared {
  readonly encoding: 'gzip' | 'br';
  readonly library: CompressionLibrary;
  readonly enabled: boolean;
  readonly minContentLength: number;
  readonly contentTypes: ReadonlySet<string>;
  readonly disableOnEtagHeader: boolean;
  readonly removeAcceptEncodingHeader: boolean;
  readonly stats: CompressorStats;
}

const EMPTY = Buffer.alloc(0);

export class CompressorFilter extends PassThroughFilter {
  /** The request's accept-encoding (read before it may be removed). */
  private acceptEncoding: string | undefined;
  private stream: zlib.Gzip | zlib.BrotliCompress | null = null;
  /** The compressor was ended (last chunk or trailers); what it still emits ends the body. */
  private ending = false;
  private heldTrailers: HeaderMap | null = null;
  private done = false;

  constructor(private readonly shared: CompressorShared) {
    super();
  }

  override decodeHeaders(head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    this.acceptEncoding = head.headers.get('accept-encoding');
    if (this.shared.removeAcceptEncodingHeader) head.headers.remove('accept-encoding');
    return FilterHeadersStatus.Continue;
  }

  override encodeHeaders(head: ResponseHead, endStream: boolean): FilterHeadersStatus {
    const shared = this.shared;
    const headers = head.headers;
    const compressible =
      shared.enabled &&
      this.longEnough(headers) &&
      !head.headers.has('upgrade') &&
      this.typeAllowed(headers) &&
      !noTransform(headers) &&
      this.etagAllowed(headers) &&
      !headers.has('content-encoding');
    if (!endStream && compressible && this.accepted() && transferEncodingAllows(headers)) {
      const etag = headers.get('etag');
      if (etag !== undefined && !etag.startsWith('W/')) headers.set('etag', `W/${etag}`);
      headers.remove('content-length');
      headers.set('content-encoding', shared.encoding);
      this.callbacks.setResponseContentLength(-1);
      shared.stats.compressed.inc();
      this.stream = this.createStream();
    } else shared.stats.notCompressed.inc();
    if (compressible) addVary(headers);
    return FilterHeadersStatus.Continue;
  }

  override encodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    const stream = this.stream;
    if (stream === null || this.done) return FilterDataStatus.Continue;
    this.shared.stats.totalUncompressedBytes.add(data.length);
    // Views from the codec are only valid during this call: zlib gets a copy.
    if (data.length > 0) stream.write(Buffer.from(data));
    if (endStream) this.end();
    else
      stream.flush(
        this.shared.encoding === 'br' ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH,
      );
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override encodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (this.stream === null || this.done) return FilterTrailersStatus.Continue;
    this.heldTrailers = trailers;
    this.end();
    return FilterTrailersStatus.StopIteration;
  }

  override onDestroy(): void {
    this.done = true;
    this.stream?.destroy();
    this.stream = null;
  }

  private createStream(): zlib.Gzip | zlib.BrotliCompress {
    const lib = this.shared.library;
    const stream =
      lib.kind === 'gzip'
        ? zlib.createGzip({
            level: lib.level,
            memLevel: lib.memLevel,
            windowBits: lib.windowBits,
            strategy: lib.strategy,
            chunkSize: lib.chunkSize,
          })
        : zlib.createBrotliCompress({
            chunkSize: lib.chunkSize,
            params: {
              [zlib.constants.BROTLI_PARAM_QUALITY]: lib.quality,
              [zlib.constants.BROTLI_PARAM_LGWIN]: lib.windowBits,
              [zlib.constants.BROTLI_PARAM_LGBLOCK]: lib.inputBlockBits,
              [zlib.constants.BROTLI_PARAM_MODE]: lib.mode,
              [zlib.constants.BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING]:
                lib.disableLiteralContextModeling ? 1 : 0,
            },
          });
    stream.on('data', (chunk: Buffer) => {
      if (this.done) return;
      this.shared.stats.totalCompressedBytes.add(chunk.length);
      this.callbacks.injectEncodedData(chunk, false);
    });
    stream.on('end', () => this.finish());
    // zlib fails only on a bug or exhausted memory: the response cannot be completed honestly.
    stream.on('error', () => {
      if (this.done) return;
      this.done = true;
      this.callbacks.resetStream();
    });
    return stream;
  }

  private end(): void {
    if (this.ending) return;
    this.ending = true;
    this.stream!.end();
  }

  /** zlib emitted its last bytes: end the body, or pass the trailers that waited for them. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.stream = null;
    const trailers = this.heldTrailers;
    if (trailers === null) this.callbacks.injectEncodedData(EMPTY, true);
    else this.callbacks.encodeTrailers(trailers);
  }

  private longEnough(headers: HeaderMap): boolean {
    const length = headers.get('content-length');
    if (length === undefined) return true;
    if (Number(length) >= this.shared.minContentLength) return true;
    this.shared.stats.contentLengthTooSmall.inc();
    return false;
  }

  private typeAllowed(headers: HeaderMap): boolean {
    const type = headers.get('content-type');
    if (type === undefined) return true;
    const semicolon = type.indexOf(';');
    return this.shared.contentTypes.has(
      (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase(),
    );
  }

  private etagAllowed(headers: HeaderMap): boolean {
    if (!this.shared.disableOnEtagHeader || !headers.has('etag')) return true;
    this.shared.stats.notCompressedEtag.inc();
    return false;
  }

  /**
   * Whether the request accepts this filter's encoding (Envoy's isAcceptEncodingAllowed for one
   * compressor): named with q > 0, or `*` with q > 0 and the encoding not refused by name.
   */
  private accepted(): boolean {
    const stats = this.shared.stats;
    const header = this.acceptEncoding;
    if (header === undefined) {
      stats.noAcceptHeader.inc();
      return false;
    }
    let named: number | null = null;
    let wildcard: number | null = null;
    let identity = false;
    for (const item of header.split(',')) {
      const [token, ...params] = item.split(';');
      const name = token!.trim().toLowerCase();
      const q = quality(params);
      if (q === null) continue;
      if (name === this.shared.encoding) named = q;
      else if (name === '*') wildcard = q;
      else if (name === 'identity' && q > 0) identity = true;
    }
    if (named !== null && named > 0) {
      stats.headerCompressorUsed.inc();
      return true;
    }
    if (named === null && wildcard !== null && wildcard > 0) {
      stats.headerWildcard.inc();
      return true;
    }
    (identity ? stats.headerIdentity : stats.headerNotValid).inc();
    return false;
  }
}

/** The q-value of an accept-encoding item's parameters (1 when absent), null when it is malformed. */
function quality(params: string[]): number | null {
  for (const p of params) {
    const [key, value] = p.split('=');
    if (key!.trim().toLowerCase() !== 'q') continue;
    const q = Number(value?.trim());
    return Number.isFinite(q) && q >= 0 && q <= 1 ? q : null;
  }
  return 1;
}

function noTransform(headers: HeaderMap): boolean {
  const cacheControl = headers.get('cache-control');
  return cacheControl !== undefined && /(^|,)\s*no-transform\s*(,|$)/i.test(cacheControl);
}

/** A response already encoded by transfer coding (gzip, deflate) is not compressed again. */
function transferEncodingAllows(headers: HeaderMap): boolean {
  const te = headers.get('transfer-encoding');
  return te === undefined || !/(^|,)\s*(gzip|deflate|br)\s*(,|$)/i.test(te);
}

function addVary(headers: HeaderMap): void {
  const vary = headers.get('vary');
  if (vary === undefined) headers.set('vary', 'Accept-Encoding');
  else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary))
    headers.set('vary', `${vary}, Accept-Encoding`);
}
