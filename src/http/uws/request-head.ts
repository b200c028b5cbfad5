/**
 * Turns a uWS `HttpRequest` into Legate's `RequestHead`. The uWS request object is stack-allocated
 * and dies when the route handler returns, so everything is read out into JS strings here.
 *
 * The framing fields mirror what uWS itself does with the body, not what RFC 9112 says, because
 * uWS decides where the body ends: it treats ANY Transfer-Encoding as chunked (measured with `gzip`
 * and `xchunked`), and it keeps the first of two differing Content-Length fields.
 */
import type { HttpRequest } from '@trufflesuite/uws-js-unofficial';
import { isUpgradeRequest, type RequestHead } from '../codec';
import { HeaderMap } from '../header-map';

const CLOSE_TOKEN = /(?:^|[\s,])close(?:$|[\s,])/i;
const UPGRADE_TOKEN = /(?:^|[\s,])upgrade(?:$|[\s,])/i;
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

  // uWS rejects lower-case methods, so the as-sent method is already upper case.
  const method = req.getCaseSensitiveMethod();
  return {
    method,
    path: query === undefined ? url : `${url}?${query}`,
    // uWS serves HTTP/1.1 only: HTTP/1.0 requests are never handed to the route handler.
    protocol: 'HTTP/1.1',
    headers,
    keepAlive: connection === undefined || !CLOSE_TOKEN.test(connection),
    contentLength:
      contentLengthField !== undefined && DIGITS.test(contentLengthField) ? Number(contentLengthField) : -1,
    chunked: transferEncoding !== undefined,
    // As llhttp sees it: CONNECT, or an Upgrade field that Connection nominates.
    upgrade: isUpgradeRequest(
      method === 'CONNECT' ||
        (headers.has('upgrade') && connection !== undefined && UPGRADE_TOKEN.test(connection)),
      headers,
    ),
  };
}

/**
 * Why a request's framing must be refused before any owner sees it, or null. The Legate codec (on
 * llhttp) answers these 400; uWS frames them its own way (a Content-Length it cannot read as no
 * body, the first of two lengths, any Transfer-Encoding as chunked beside a length), so forwarding
 * one would hand the upstream a request read differently from what the client sent.
 */
export function refusedFraming(head: RequestHead): string | null {
  const lengths = head.headers.getAll('content-length');
  if (lengths.length === 0) return null;
  if (lengths.length > 1) return 'more than one Content-Length';
  if (!DIGITS.test(lengths[0]!)) return 'a Content-Length that is not a number';
  // A length past 2^53-1 is inexact as a number: the length forwarded would differ from uWS's.
  if (head.contentLength > Number.MAX_SAFE_INTEGER) return 'a Content-Length past 2^53-1';
  if (head.chunked) return 'Transfer-Encoding with Content-Length';
  return null;
}

/** True when uWS will deliver body bytes for this request (and so the stream must wait for onData). */
export function requestHasBody(head: RequestHead): boolean {
  return head.chunked || head.contentLength > 0;
}
