/**
 * HTTP/1.1 message heads as the codecs write them: the framing decision (Content-Length, chunked,
 * close-delimited or none; keep-alive or close) and the head's bytes. Legate's JS codecs
 * (server-connection.ts, client-connection.ts) and the native engine's JS half (src/engine/) both
 * call these, so the two engines frame every message the same way.
 */
import type { RequestHead, ResponseHead } from './codec';
import { statusLine } from './local-reply';
import { headWriter, isValidHeaderValue, listHasToken, type HeadWriter } from './h1-serialize';

/** How a body is framed on the wire. The numbers are the native engine's too (engine.h lg_framing). */
export const enum BodyFraming {
  NONE = 0,
  CONTENT_LENGTH = 1,
  CHUNKED = 2,
  CLOSE_DELIMITED = 3,
}

/** What the response side of one exchange knows when it writes the head; the two outputs are set. */
export interface ResponseFramingState {
  readonly headRequest: boolean;
  readonly versionMinor: number;
  readonly requestKeepAlive: boolean;
  /** The request was CONNECT: a 2xx answer opens a tunnel and has no framing fields. */
  readonly connectRequest?: boolean;
  framing: BodyFraming;
  closeAfterResponse: boolean;
}

/**
 * Writes the response head for `stream`'s request into `w`, deciding its framing: `contentLength` is
 * the body length if known (-1 = unknown: chunked for HTTP/1.1, close-delimited for 1.0). The codec
 * owns the framing fields: any Content-Length / Transfer-Encoding / Connection in `head` is replaced.
 */
export function writeResponseHead(
  w: HeadWriter,
  stream: ResponseFramingState,
  head: ResponseHead,
  contentLength: number,
  endStream: boolean,
  draining: boolean,
): void {
  // A tunnel follows the head: no body framing, and Connection (`upgrade`) goes through.
  const upgrade =
    head.status === 101 ||
    (stream.connectRequest === true && head.status >= 200 && head.status < 300 && !endStream);
  const noBody = stream.headRequest || head.status === 204 || head.status === 304 || upgrade;
  stream.closeAfterResponse = !stream.requestKeepAlive || draining || upgrade;
  stream.framing = BodyFraming.NONE;
  writeStatusLine(w, head.status, isValidHeaderValue(head.reason) ? head.reason : '');
  w.fields(head.headers, upgrade);
  if (noBody) {
    if (stream.headRequest) writeHeadContentLength(w, head, contentLength);
  } else if (contentLength >= 0 || endStream) {
    stream.framing = BodyFraming.CONTENT_LENGTH;
    writeContentLength(w, endStream ? 0 : contentLength);
  } else if (stream.versionMinor === 1) {
    stream.framing = BodyFraming.CHUNKED;
    w.text('transfer-encoding: chunked\r\n');
  } else {
    stream.framing = BodyFraming.CLOSE_DELIMITED;
    stream.closeAfterResponse = true;
  }
  if (stream.closeAfterResponse && !upgrade) w.text('connection: close\r\n');
  else if (stream.versionMinor === 0) w.text('connection: keep-alive\r\n');
  w.crlf();
}

/** `writeResponseHead` as one string (the JS codecs write strings). */
export function serializeResponseHead(
  stream: ResponseFramingState,
  head: ResponseHead,
  contentLength: number,
  endStream: boolean,
  draining: boolean,
): string {
  const w = headWriter();
  writeResponseHead(w, stream, head, contentLength, endStream, draining);
  return w.toLatin1();
}

/** `statusLine`, without building a string for a reason phrase of the upstream's. */
function writeStatusLine(w: HeadWriter, status: number, reason: string): void {
  // An upstream's reason passed the parser; one a filter set may not have (CR, LF or NUL in it).
  if (reason === '' || !isValidHeaderValue(reason)) {
    w.text(statusLine(status, ''));
    return;
  }
  w.text('HTTP/1.1 ');
  w.decimal(status);
  w.text(' ');
  w.text(reason);
  w.crlf();
}

function writeContentLength(w: HeadWriter, length: number): void {
  w.text('content-length: ');
  w.decimal(length);
  w.crlf();
}

/** A HEAD response keeps the length the GET would have had: from the argument, else from the headers. */
function writeHeadContentLength(w: HeadWriter, head: ResponseHead, contentLength: number): void {
  if (contentLength >= 0) {
    writeContentLength(w, contentLength);
    return;
  }
  const given = head.headers.get('content-length');
  if (given !== undefined && /^\d+$/.test(given)) w.field('content-length', given);
}

/** Methods whose requests carry a body by definition, so an empty one is sent as `content-length: 0`. */
function isBodyMethod(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

/** What the request side of one exchange decides when it writes the head. */
export interface RequestFramingState {
  framing: BodyFraming;
  /** The request asked for `connection: close`: the connection serves no further request. */
  closeRequested: boolean;
}

/**
 * Writes the upstream request head into `w`: Content-Length when the length is known, chunked when
 * a body of unknown length follows, `content-length: 0` for an empty body of a body method.
 */
export function writeRequestHead(
  w: HeadWriter,
  state: RequestFramingState,
  head: RequestHead,
  contentLength: number,
  endStream: boolean,
): void {
  state.framing = BodyFraming.NONE;
  state.closeRequested = false;
  w.text(head.method);
  w.text(' ');
  w.text(head.path);
  w.text(' HTTP/1.1\r\n');
  // An upgrade keeps its Connection field, and a tunnel, not a framed body, follows its head.
  w.fields(head.headers, head.upgrade);
  if (contentLength >= 0) {
    state.framing = BodyFraming.CONTENT_LENGTH;
    writeContentLength(w, endStream ? 0 : contentLength);
  } else if (!endStream && !head.upgrade) {
    state.framing = BodyFraming.CHUNKED;
    w.text('transfer-encoding: chunked\r\n');
  } else if (endStream && isBodyMethod(head.method)) w.text('content-length: 0\r\n');
  const connection = head.upgrade ? undefined : head.headers.get('connection');
  if (connection !== undefined && listHasToken(connection, 'close')) {
    state.closeRequested = true;
    w.text('connection: close\r\n');
  }
  w.crlf();
}

/** `writeRequestHead` as one string (the JS codecs write strings). */
export function serializeRequestHead(
  state: RequestFramingState,
  head: RequestHead,
  contentLength: number,
  endStream: boolean,
): string {
  const w = headWriter();
  writeRequestHead(w, state, head, contentLength, endStream);
  return w.toLatin1();
}
