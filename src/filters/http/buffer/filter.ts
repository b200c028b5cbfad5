/**
 * The buffer filter (Envoy's `envoy.filters.http.buffer`): a request body is held until it is
 * complete, and then goes on with a content-length (a chunked request upstream becomes a sized one);
 * one larger than `max_request_bytes` is answered 413 `Payload Too Large`. Useful in front of
 * upstreams that cannot take streamed bodies, and for retries of whole bodies.
 */
import type { RequestHead } from '../../../http/codec';
import { FilterDataStatus, FilterHeadersStatus, PassThroughFilter } from '../api';
import type { BufferConfig } from './config';

export class BufferFilter extends PassThroughFilter {
  private head: RequestHead | null = null;
  private received = 0;
  private limit = 0;

  constructor(
    private readonly configName: string,
    private readonly config: BufferConfig,
  ) {
    super();
  }

  override decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus {
    const config =
      (this.callbacks.route()?.perFilterConfig(this.configName) as BufferConfig | undefined) ?? this.config;
    if (endStream || config.disabled) return FilterHeadersStatus.Continue;
    this.head = head;
    this.limit = config.maxRequestBytes;
    return FilterHeadersStatus.StopIteration;
  }

  override decodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    const head = this.head;
    if (head === null) return FilterDataStatus.Continue;
    this.received += data.length;
    if (this.received > this.limit) {
      this.head = null;
      this.callbacks.sendLocalReply(413, 'Payload Too Large', 'request_payload_too_large');
      return FilterDataStatus.StopIterationNoBuffer;
    }
    if (endStream) {
      // The whole body is here: it goes on with its size. The connection manager keeps this last
      // chunk with the others once this call returns; the filters after this one get them all then.
      this.head = null;
      head.headers.remove('transfer-encoding');
      head.headers.set('content-length', String(this.received));
      head.contentLength = this.received;
      head.chunked = false;
      queueMicrotask(() => this.callbacks.continueDecoding());
    }
    // Continue: the connection manager keeps the chunk for the filters after this one.
    return FilterDataStatus.Continue;
  }
}
