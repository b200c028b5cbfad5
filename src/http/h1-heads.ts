/**
 * HTTP/1.1 message heads as the codecs write them: the framing decision (Content-Length, chunked,
 * close-delimited or none; keep-alive or close) and the head text. Legate's JS codecs
 * (server-connection.ts, client-connection.ts) and the native engine's JS half (src/engine/) both
 * call these, so the two engines frame every message the same way.
 */
import type { RequestHead, ResponseHead } from './codec';
import { statusLine } from './local-reply';
import {
  FRAMING_HEADERS,
  FRAMING_HEADERS_FOR_UPGRADE,
  headerLines,
  isValidHeaderValue,
  listHasToken,
} from './h1-serialize';

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
  framing: BodyFraming;
  closeAfterResponse: boolean;
}

/**
 * The response head for `stream`'s request, deciding its framing: `contentLength` is the body
 * length if known (-1 = unknown: chunked for HTTP/1.1, close-delimited for 1.0). The codec owns the
 * framing fields: any Content-Length / Transfer-Encoding / Connection in `head` is replaced.
 */
export function serializeResponseHead(
  stream: ResponseFramingState,
  head: ResponseHead,
  contentLength: number,
  endStream: boolean,
  draining: boolean,
): string {
  const upgrade = head.status === 101;
  const noBody = stream.headRequest || head.status === 204 || head.status === 304 || upgrade;
  stream.closeAfterResponse = !stream.requestKeepAlive || draining || upgrade;
  stream.framing = BodyFraming.NONE;
  let framingLines = '';
  if (noBody) {
    if (stream.headRequest) framingLines = headContentLength(head, contentLength);
  } else if (contentLength >= 0 || endStream) {
    stream.framing = BodyFraming.CONTENT_LENGTH;
    framingLines = `content-length: ${endStream ? 0 : contentLength}\r\n`;
  } else if (stream.versionMinor === 1) {
    stream.framing = BodyFraming.CHUNKED;
    framingLines = 'transfer-encoding: chunked\r\n';
  } else {
    stream.framing = BodyFraming.CLOSE_DELIMITED;
    stream.closeAfterResponse = true;
  }
  if (stream.closeAfterResponse && !upgrade) framingLines += 'connection: close\r\n';
  else if (stream.versionMinor === 0) framingLines += 'connection: keep-alive\r\n';
  const reason = isValidHeaderValue(head.reason) ? head.reason : '';
  return (
    statusLine(head.status, reason) +
    headerLines(head.headers, upgrade ? FRAMING_HEADERS_FOR_UPGRADE : FRAMING_HEADERS) +
    framingLines +
    '\r\n'
  );
}

/** A HEAD response keeps the length the GET would have had: from the argument, else from the headers. */
function headContentLength(head: ResponseHead, contentLength: number): string {
  if (contentLength >= 0) return `content-length: ${contentLength}\r\n`;
  const given = head.headers.get('content-length');
  return given !== undefined && /^\d+$/.test(given) ? `content-length: ${given}\r\n` : '';
}

/** Methods whose requests carry a body by definition, so an empty one is sent as `content-length: 0`. */
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

/** What the request side of one exchange decides when it writes the head. */
export interface RequestFramingState {
  framing: BodyFraming;
  /** The request asked for `connection: close`: the connection serves no further request. */
  closeRequested: boolean;
}

/**
 * The upstream request head: Content-Length when the length is known, chunked when a body of
 * unknown length follows, `content-length: 0` for an empty body of a body method.
 */
export function serializeRequestHead(
  state: RequestFramingState,
  head: RequestHead,
  contentLength: number,
  endStream: boolean,
): string {
  let framing = '';
  state.framing = BodyFraming.NONE;
  state.closeRequested = false;
  if (contentLength >= 0) {
    state.framing = BodyFraming.CONTENT_LENGTH;
    framing = `content-length: ${endStream ? 0 : contentLength}\r\n`;
  } else if (!endStream) {
    state.framing = BodyFraming.CHUNKED;
    framing = 'transfer-encoding: chunked\r\n';
  } else if (BODY_METHODS.has(head.method)) framing = 'content-length: 0\r\n';
  const connection = head.headers.get('connection');
  if (connection !== undefined && listHasToken(connection, 'close')) {
    state.closeRequested = true;
    framing += 'connection: close\r\n';
  }
  return (
    `${head.method} ${head.path} HTTP/1.1\r\n` + headerLines(head.headers, FRAMING_HEADERS) + framing + '\r\n'
  );
}
