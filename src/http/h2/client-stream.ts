/**
 * One upstream HTTP/2 stream as the `RequestEncoder` the router writes to: the request goes out on
 * a node:http2 client session (the multiplexing pool owns it), the response comes back to a
 * `ResponseDecoder`. Headers are translated as Envoy's HTTP/2 codec does: Host becomes
 * `:authority`, connection-specific fields are dropped (`te` only as `trailers`).
 */
import * as http2 from 'node:http2';
import type { RequestEncoder, RequestHead, ResponseDecoder, StreamResetReason } from '../codec';
import { HeaderMap } from '../header-map';
import { HOP_BY_HOP_FIELDS } from '../hop-by-hop';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = http2.constants;
const EMPTY = Buffer.alloc(0);

/** Request fields HTTP/2 forbids (RFC 9113 §8.2.2), and Host, which becomes :authority. */
const CONNECTION_SPECIFIC = new Set([...HOP_BY_HOP_FIELDS, 'host']);

/** What the pool hears from a stream. */
export interface ClientStreamOwner {
  /** The requests' `:scheme`: https on a TLS connection. */
  readonly scheme: 'http' | 'https';
  /** The stream is over (response complete, or reset): its slot on the connection is free. */
  streamDone(stream: Http2ClientStream, refused: boolean): void;
}

export class Http2ClientStream implements RequestEncoder {
  private request: http2.ClientHttp2Stream | null = null;
  private responseTrailers: HeaderMap | null = null;
  private responseReceived = false;
  private done = false;
  private readDisableCount = 0;
  private aboveWatermark = false;

  constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly decoder: ResponseDecoder,
    private readonly owner: ClientStreamOwner,
  ) {}

  encodeHeaders(head: RequestHead, contentLength: number, endStream: boolean): void {
    if (this.done || this.request !== null) return;
    const fields: http2.OutgoingHttpHeaders = {
      ':method': head.method,
      ':path': head.path,
      ':scheme': this.owner.scheme,
      ':authority': head.headers.get('host') ?? '',
    };
    const names = head.headers.names;
    const values = head.headers.values;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && values[i] !== 'trailers')) continue;
      const had = fields[name];
      if (had === undefined) fields[name] = values[i]!;
      else if (Array.isArray(had)) had.push(values[i]!);
      else fields[name] = [had as string, values[i]!];
    }
    if (contentLength >= 0) fields['content-length'] = String(endStream ? 0 : contentLength);
    let request: http2.ClientHttp2Stream;
    try {
      request = this.session.request(fields, { endStream });
    } catch {
      // The session went away (GOAWAY, close) between attach and write, or a field Node refuses.
      this.finish(true);
      this.decoder.onResetStream('connection_termination');
      return;
    }
    this.request = request;
    request.on('headers', this.onInformational);
    request.on('response', this.onResponse);
    request.on('data', this.onData);
    request.on('trailers', this.onTrailers);
    request.on('end', this.onEnd);
    request.on('close', this.onClose);
    request.on('error', ignoreError);
  }

  encodeData(data: Buffer, endStream: boolean): void {
    const request = this.request;
    if (this.done || request === null) return;
    // nghttp2 sends later, from its queue: the bytes must outlive the caller's view.
    const owned = data.length === 0 ? data : Buffer.from(data);
    if (endStream) {
      request.end(owned.length > 0 ? owned : undefined);
      return;
    }
    if (owned.length > 0 && !request.write(owned) && !this.aboveWatermark) {
      this.aboveWatermark = true;
      request.once('drain', this.onDrain);
      this.decoder.onAboveWriteBufferHighWatermark();
    }
  }

  /** Request trailers are not sent (as the router does for HTTP/1.1): the body ends here. */
  encodeTrailers(_trailers: HeaderMap): void {
    this.encodeData(EMPTY, true);
  }

  resetStream(_reason: StreamResetReason): void {
    if (this.done) return;
    this.finish(false);
    this.request?.close(NGHTTP2_CANCEL);
  }

  readDisable(disable: boolean): void {
    const request = this.request;
    if (this.done || request === null) return;
    if (disable) this.readDisableCount++;
    else if (this.readDisableCount > 0) this.readDisableCount--;
    if (this.readDisableCount > 0) request.pause();
    else request.resume();
  }

  private finish(refused: boolean): void {
    this.done = true;
    this.owner.streamDone(this, refused);
  }

  private readonly onInformational = (headers: http2.IncomingHttpHeaders): void => {
    const status = Number(headers[':status']);
    if (!this.done && status >= 100 && status < 200 && status !== 101)
      this.decoder.decode1xxHeaders({ status, reason: '', headers: fromFields(headers) });
  };

  private readonly onResponse = (headers: http2.IncomingHttpHeaders, flags: number): void => {
    if (this.done) return;
    this.responseReceived = true;
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    if (endStream) this.finish(false);
    this.decoder.decodeHeaders(
      { status: Number(headers[':status']), reason: '', headers: fromFields(headers) },
      endStream,
    );
  };

  private readonly onData = (chunk: Buffer): void => {
    if (!this.done) this.decoder.decodeData(chunk, false);
  };

  private readonly onTrailers = (headers: http2.IncomingHttpHeaders): void => {
    this.responseTrailers = fromFields(headers);
  };

  private readonly onEnd = (): void => {
    // A stream torn down with its session ends its readable side too: without a response that is
    // a reset, which 'close' reports.
    if (this.done || !this.responseReceived) return;
    this.finish(false);
    if (this.responseTrailers !== null) this.decoder.decodeTrailers(this.responseTrailers);
    else this.decoder.decodeData(EMPTY, true);
  };

  private readonly onDrain = (): void => {
    this.aboveWatermark = false;
    if (!this.done) this.decoder.onBelowWriteBufferLowWatermark();
  };

  private readonly onClose = (): void => {
    if (this.done) return;
    const code = this.request?.rstCode ?? NGHTTP2_NO_ERROR;
    // REFUSED_STREAM (or a stream above a GOAWAY's last id): the upstream never processed it.
    const refused = code === NGHTTP2_REFUSED_STREAM;
    this.finish(refused);
    this.decoder.onResetStream(
      refused ? 'refused_stream' : code !== NGHTTP2_NO_ERROR ? 'remote_reset' : 'connection_termination',
    );
  };
}

/** Node's header object as a HeaderMap, pseudo-headers dropped. */
function fromFields(headers: http2.IncomingHttpHeaders): HeaderMap {
  const map = new HeaderMap();
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) map.add(name, v);
    else map.add(name, value);
  }
  return map;
}

function ignoreError(): void {}
