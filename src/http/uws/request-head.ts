/**
 * Turns a uWS `HttpRequest` into Legate's `RequestHead`. The uWS request object is stack-allocated
 * and dies when the route handler returns, so everything is read out into JS strings here.
 *
 * The framing fields mirror what uWS itself does with the body, not what RFC 9112 says, because
 * uWS decides where the body ends: it treats ANY Transfer-Encoding as chunked (measured with `gzip`
 * and `xchunked`), and it keeps the first of two differing Content-Length fields.
 */
import type { HttpRequest } from '@trufflesuite/uws-js-unofficial';
import type { RequestHead } from '../codec';
import { HeaderMap } from '../header-map';

const CLOSE_TOKEN = /(?:^|[\s,])close(?:$|[\s,])/i;
const DIGITS = /^\d+$/;

/** The map `collectHeader` appends to; a module slot so `forEach` needs no per-request closure. */
let collecting: HeaderMap | null = null;

function collectHeader(name: string, value: string): void {
  collecting!.add(name, value);
}

/** Reads method, target, headers and framing from `req`. uWS delivers header names lower-cased. */
export function readRequestHead(req: HttpRequest): RequestHead {
  const headers = new HeaderMap();
  collecting = headers;
  req.forEach(collectHeader);
  collecting = null;

  // getQuery() is undefined when the target has no '?', and '' for a bare trailing '?'.
  const query = req.getQuery() as string | undefined;
  const url = req.getUrl();
  const contentLengthField = headers.get('content-length');
  const transferEncoding = headers.get('transfer-encoding');
  const connection = headers.get('connection');

  return {
    // uWS rejects lower-case methods, so the as-sent method is already upper case.
    method: req.getCaseSensitiveMethod(),
    path: query === undefined ? url : `${url}?${query}`,
    // uWS serves HTTP/1.1 only: HTTP/1.0 requests are never handed to the route handler.
    versionMinor: 1,
    headers,
    keepAlive: connection === undefined || !CLOSE_TOKEN.test(connection),
    contentLength:
      contentLengthField !== undefined && DIGITS.test(contentLengthField) ? Number(contentLengthField) : -1,
    chunked: transferEncoding !== undefined,
    upgrade: headers.has('upgrade'),
  };
}

/** True when uWS will deliver body bytes for this request (and so the stream must wait for onData). */
export function requestHasBody(head: RequestHead): boolean {
  return head.chunked || head.contentLength > 0;
}
