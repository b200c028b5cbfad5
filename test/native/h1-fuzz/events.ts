/**
 * The normalised, split-independent form in which both sides of the HTTP/1 differential report
 * what a parser's owner observed: the JS codecs through recording decoders (./js-reference.ts) and
 * the native parser through its C test owner (native-bindings/src/engine/h1_parser_napi.c).
 * Consecutive body pieces are merged into one `body` event, so chunk boundaries do not show.
 */

/** One observation: a tag, then its values (strings are latin1, one char per byte). */
export type H1Event = readonly (string | number | boolean | readonly string[])[];

/**
 * Requests: ['begin'], ['head', method, url, versionMinor, keepAlive, contentLength, chunked,
 * upgrade, names, values], ['body', text], ['trailers', names, values], ['end'] (the request's
 * end stream), ['reset', reason], ['reply', status] (the codec's local reply), ['close'].
 * Responses: ['request', method] (a stream starts), ['1xx', status, reason, names, values],
 * ['head', status, reason, names, values], ['body', text], ['trailers', names, values], ['end'],
 * ['complete', reusable], ['reset', reason], ['close'].
 */
export type H1Events = H1Event[];

export interface RequestOptions {
  /** `max_request_headers_kb`: the native side gets the same limit in bytes. */
  maxRequestHeadersKb: number;
  maxRequestHeadersCount: number;
  headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  acceptHttp10: boolean;
  maxRequestBodyBytes: number;
}

export interface ResponseOptions {
  /** The request method of each stream, in order (a HEAD response has no body). */
  methods: string[];
  /** The server closes its side after the last chunk. */
  eof: boolean;
}

/** The options object h1ParseForTest takes for requests. */
export function nativeRequestOptions(options: RequestOptions): Record<string, number | boolean> {
  const underscores = { ALLOW: 0, REJECT_REQUEST: 1, DROP_HEADER: 2 }[options.headersWithUnderscoresAction];
  return {
    maxHeadBytes: options.maxRequestHeadersKb * 1024,
    maxHeaders: options.maxRequestHeadersCount,
    underscores,
    acceptHttp10: options.acceptHttp10,
    maxBodyBytes: options.maxRequestBodyBytes,
  };
}

/**
 * Appends body pieces to one pending text, flushed as a `body` event before any other event.
 * After `stop()` (the run is over; the driver tears the connection down) nothing is recorded.
 */
export class EventLog {
  readonly events: H1Events = [];
  private body = '';
  private stopped = false;

  push(...event: H1Event): void {
    if (this.stopped) return;
    this.flush();
    this.events.push(event);
  }

  appendBody(piece: string): void {
    if (!this.stopped) this.body += piece;
  }

  stop(): void {
    this.flush();
    this.stopped = true;
  }

  flush(): void {
    if (this.body === '') return;
    this.events.push(['body', this.body]);
    this.body = '';
  }
}
