/**
 * Writes a `ResponseHead` onto a uWS `HttpResponse`, guarding against what uWS does not check.
 *
 * uWS copies status text, header names and values verbatim, CR/LF included, so a value taken from an
 * upstream or a filter could split the response. Invalid fields are dropped here (Envoy rejects
 * them at the codec too). uWS also owns framing and the Date header: it writes its own
 * Content-Length / Transfer-Encoding / Connection and always a Date, so those fields are not
 * copied (two Date fields, or two framings, would be a malformed response).
 */
import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from '@trufflesuite/uws-js-unofficial';
import type { ResponseHead } from '../codec';

/** RFC 9110 token characters. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value or reason phrase must not contain CR, LF or NUL (the bytes that end a line). */
const LINE_BREAKING = /[\r\n\0]/;
/** Fields uWS writes itself. Names in a HeaderMap are lower case. */
const CODEC_OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'date']);
const CLOSE_TOKEN = /(?:^|[\s,])close(?:$|[\s,])/i;

/** "200 OK" and friends, built once per status code. */
const standardStatusLines = new Map<number, string>();

/** The status line text after "HTTP/1.1 ": the code and a reason phrase that cannot break the line. */
export function statusLine(status: number, reason: string): string {
  if (reason !== '' && !LINE_BREAKING.test(reason)) return `${status} ${reason}`;
  let line = standardStatusLines.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    standardStatusLines.set(status, line);
  }
  return line;
}

/** True if a header field may be written as is. */
export function isWritableField(name: string, value: string): boolean {
  return FIELD_NAME.test(name) && !LINE_BREAKING.test(value);
}

/**
 * Writes the status line and every valid, non-framing header field. Call inside `res.cork()` so
 * the head goes out in one write together with the body that follows. Invalid fields are skipped
 * silently: the response is still well-formed without them.
 *
 * `Connection: close` is passed on as a plain header rather than through uWS's `closeConnection`
 * argument, which only `end()` accepts and which in this build corrupts `endWithoutBody()` (it
 * writes Content-Length: 2^63). The client closes on seeing it; uWS closes too if the request asked
 * (`closeRequested`), and then the response says so as well (RFC 9112 section 9.6, as Envoy does).
 */
export function writeResponseHead(res: HttpResponse, head: ResponseHead, closeRequested: boolean): void {
  res.writeStatus(statusLine(head.status, head.reason));
  const names = head.headers.names;
  const values = head.headers.values;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = values[i]!;
    if (!CODEC_OWNED.has(name) && isWritableField(name, value)) res.writeHeader(name, value);
  }
  const connection = head.headers.get('connection');
  if (closeRequested || (connection !== undefined && CLOSE_TOKEN.test(connection)))
    res.writeHeader('connection', 'close');
}
