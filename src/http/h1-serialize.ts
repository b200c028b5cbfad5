/**
 * HTTP/1.1 message-head serialisation shared by the server and client codecs: header lines as one
 * latin1 string (so a head is one write), with every field validated on the way out so nothing a
 * filter or an upstream put into a HeaderMap can inject CR/LF/NUL into the byte stream.
 */
import type { HeaderMap } from './header-map';

/** Fields the codec controls itself (framing and connection management); never copied through. */
export const FRAMING_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
]);

/** As `FRAMING_HEADERS` but for a 101 response, whose `connection: upgrade` must go through. */
export const FRAMING_HEADERS_FOR_UPGRADE: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'keep-alive',
]);

/** RFC 9110 `tchar`: the bytes allowed in a field name (and a method). */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

export function isValidHeaderName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Field values (and reason phrases): HTAB, SP, VCHAR and obs-text only; no CR, LF, NUL, CTL. */
export function isValidHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** Request-target: visible ASCII only (no spaces, no controls). */
export function isValidRequestTarget(path: string): boolean {
  if (path.length === 0) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/**
 * `name: value\r\n` for every field of `headers` not in `drop`; invalid fields are dropped
 * silently (the caller's stats/logs are the place to count them, not the wire).
 */
export function headerLines(headers: HeaderMap, drop: ReadonlySet<string>): string {
  const names = headers.names;
  const values = headers.values;
  let out = '';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = values[i]!;
    if (drop.has(name) || !isValidHeaderName(name) || !isValidHeaderValue(value)) continue;
    out += name + ': ' + value + '\r\n';
  }
  return out;
}

/** True when a comma-separated field value (e.g. `Connection`) lists `token` (lower case). */
export function listHasToken(value: string, token: string): boolean {
  const lower = value.toLowerCase();
  let start = 0;
  while (start <= lower.length) {
    let end = lower.indexOf(',', start);
    if (end === -1) end = lower.length;
    if (lower.slice(start, end).trim() === token) return true;
    start = end + 1;
  }
  return false;
}

/** The chunk-size line that precedes `length` bytes of a chunked body. */
export function chunkHeader(length: number): string {
  return length.toString(16) + '\r\n';
}

/** Ends a chunked body with no trailers. */
export const LAST_CHUNK = '0\r\n\r\n';

/** Ends a chunked body with trailers (validated like headers; framing fields are never trailers). */
export function lastChunkWithTrailers(trailers: HeaderMap): string {
  return '0\r\n' + headerLines(trailers, FRAMING_HEADERS) + '\r\n';
}
