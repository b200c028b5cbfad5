/**
 * A small, strict HTTP/1.1 message reader for tests. It shares no code with the proxy's codecs
 * (llhttp), so what it accepts is an independent judgement of the bytes a proxy sent: a test that
 * checks the proxy with its own parser would share its bugs.
 *
 * Strict on purpose (RFC 9112): CRLF line ends only, no obs-fold, token header names, no control
 * characters in values, one Content-Length, a request's Transfer-Encoding exactly `chunked` and never
 * together with Content-Length. Anything else is an error, never a guess. Tests that judge what a
 * proxy sends use this reading.
 *
 * The `robust` reading (`robust = true`) adds the allowances RFC 9112 gives recipients, which llhttp
 * takes too: empty lines before a start line (§2.2; llhttp also skips a lone CR there), runs of spaces in a request-line (§3), any
 * reason-phrase or chunk-extension bytes but CR and LF (neither has meaning), framing fields on
 * responses that cannot have a body ignored (§6.3), a response's `chunked` listed more than once or
 * an empty coding (the body then runs to the close). And, as llhttp (also Node's) does, a response's
 * status line may end in CR CR instead of CR LF, a bare CR RFC 9112 §2.2 forbids: taken here so the
 * fuzzers look past this known quirk (Legate re-frames every response, so it never reaches a client).
 *
 * Every function takes the bytes received so far and returns `incomplete` until a whole element is
 * there, so callers re-run it as bytes arrive (messages in tests are small enough for that).
 */

export type Header = [name: string, value: string];

export interface MessageHead {
  /** Request: method, target, version. Response: version, status, reason. */
  startLine: string;
  /** Names lower-cased, values without surrounding whitespace, in wire order. */
  headers: Header[];
  /** Bytes of the head including the blank line. */
  length: number;
}

export interface RequestHead extends MessageHead {
  method: string;
  target: string;
  versionMinor: number;
}

export interface ResponseHead extends MessageHead {
  versionMinor: number;
  status: number;
  reason: string;
}

/** How a message body is delimited on the wire. */
export type Framing = 'none' | 'length' | 'chunked' | 'close';

export interface Body {
  data: Buffer;
  trailers: Header[];
  /** Data chunk sizes as framed (chunked only). */
  chunkSizes: number[];
  /** Bytes of the body on the wire, framing included. */
  length: number;
}

export type Parsed<T> = { kind: 'incomplete' } | { kind: 'error'; reason: string } | { kind: 'ok'; value: T };

const INCOMPLETE = { kind: 'incomplete' } as const;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII, space, tab and obs-text; no other control characters. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEAD_BYTES = 256 * 1024;
const MAX_CONTENT_LENGTH = 2n ** 63n - 1n;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([!-~]+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d) ?([\t\x20-\x7e\x80-\xff]*)$/;
const STATUS_LINE_ROBUST = /^HTTP\/1\.([01]) ([1-9]\d\d) ?([^\r\n]*)$/;
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,15})(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=[^\r\n;]*)?)*$/;
const CHUNK_SIZE_LINE_ROBUST = /^([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?$/;
const REQUEST_LINE_ROBUST = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) +([!-~]+) +HTTP\/1\.([01])$/;

function error<T>(reason: string): Parsed<T> {
  return { kind: 'error', reason };
}

/** The values of every field named `name` (lower-case). */
export function headerValues(headers: Header[], name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of headers) if (n === name) out.push(v);
  return out;
}

/** The single value of `name`, undefined if absent; a comma-join if repeated. */
export function header(headers: Header[], name: string): string | undefined {
  const values = headerValues(headers, name);
  return values.length === 0 ? undefined : values.join(', ');
}

/** Reads the start line and header fields starting at `offset`. */
function readHead(
  buf: Buffer,
  offset: number,
): Parsed<{ startLine: string; headers: Header[]; length: number }> {
  const end = buf.indexOf('\r\n\r\n', offset, 'latin1');
  if (end === -1) {
    if (buf.length - offset > MAX_HEAD_BYTES) return error('head too large');
    // A bare LF already seen is an error however the head ends.
    const lf = buf.indexOf(0x0a, offset);
    if (lf !== -1 && (lf === offset || buf[lf - 1] !== 0x0d)) return error('bare LF in head');
    return INCOMPLETE;
  }
  const text = buf.toString('latin1', offset, end);
  if (/[^\r]\n|^\n|\r(?!\n)/.test(text + '\r\n')) return error('bare CR or LF in head');
  const lines = text.split('\r\n');
  const startLine = lines[0]!;
  const headers: Header[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(' ') || line.startsWith('\t')) return error('obs-fold');
    const colon = line.indexOf(':');
    if (colon <= 0) return error(`malformed header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return error(`invalid header name ${JSON.stringify(name)}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return error(`invalid header value for ${name}`);
    headers.push([name.toLowerCase(), value]);
  }
  return { kind: 'ok', value: { startLine, headers, length: end + 4 - offset } };
}

/**
 * Bytes of empty lines at `offset`, which a robust reader skips before a start line: CRLF, LF and
 * (as llhttp does) a lone CR.
 */
function emptyLines(buf: Buffer, offset: number): number {
  let n = 0;
  while (true) {
    const b = buf[offset + n];
    if (b === 0x0a) n += 1;
    else if (b === 0x0d && buf[offset + n + 1] === 0x0a) n += 2;
    else if (b === 0x0d && offset + n + 1 < buf.length) n += 1;
    else return n;
  }
}

/** Reads a request head at `offset` (`robust`: see the module comment). */
export function readRequestHead(buf: Buffer, offset = 0, robust = false): Parsed<RequestHead> {
  const skipped = robust ? emptyLines(buf, offset) : 0;
  const head = readHead(buf, offset + skipped);
  if (head.kind !== 'ok') return head;
  const m = (robust ? REQUEST_LINE_ROBUST : REQUEST_LINE).exec(head.value.startLine);
  if (m === null) return error(`malformed request line ${JSON.stringify(head.value.startLine)}`);
  return {
    kind: 'ok',
    value: {
      ...head.value,
      length: head.value.length + skipped,
      method: m[1]!,
      target: m[2]!,
      versionMinor: Number(m[3]),
    },
  };
}

/**
 * Reads a response head at `offset` (`robust`: see the module comment; it also takes a status line
 * ended by CR CR instead of CR LF, as llhttp does).
 */
export function readResponseHead(buf: Buffer, offset = 0, robust = false): Parsed<ResponseHead> {
  const skipped = robust ? emptyLines(buf, offset) : 0;
  let start = offset + skipped;
  if (robust) {
    const cr = buf.indexOf(0x0d, start);
    const lf = buf.indexOf(0x0a, start);
    if (cr !== -1 && buf[cr + 1] === 0x0d && (lf === -1 || cr < lf)) {
      buf = Buffer.concat([buf.subarray(start, cr + 1), Buffer.from('\n'), buf.subarray(cr + 2)]);
      start = 0;
    }
  }
  const head = readHead(buf, start);
  if (head.kind !== 'ok') return head;
  const m = (robust ? STATUS_LINE_ROBUST : STATUS_LINE).exec(head.value.startLine);
  if (m === null) return error(`malformed status line ${JSON.stringify(head.value.startLine)}`);
  return {
    kind: 'ok',
    value: {
      ...head.value,
      length: head.value.length + skipped,
      versionMinor: Number(m[1]),
      status: Number(m[2]),
      reason: m[3]!,
    },
  };
}

/**
 * Checks the framing fields and says how the body is delimited (RFC 9112 §6.3). A request takes
 * only `Transfer-Encoding: chunked`. In a response, a final coding other than chunked means the body
 * runs to the close. Framing fields on a response that cannot have a body (1xx, 204, and
 * Transfer-Encoding on 304), chunked listed twice and empty codings are a sender's error, refused
 * unless `robust`.
 */
export function bodyFraming(
  headers: Header[],
  message: { request: true } | { request: false; requestMethod: string; status: number; robust?: boolean },
): Parsed<{ framing: Framing; contentLength: number }> {
  const te = headerValues(headers, 'transfer-encoding');
  const cl = headerValues(headers, 'content-length');
  if (!message.request) {
    const status = message.status;
    const noContentAllowed = status < 200 || status === 204;
    if (noContentAllowed || status === 304 || message.requestMethod === 'HEAD') {
      const senderError = noContentAllowed ? te.length > 0 || cl.length > 0 : status === 304 && te.length > 0;
      if (senderError && message.robust !== true) return error(`framing header on a ${status} response`);
      return { kind: 'ok', value: { framing: 'none', contentLength: -1 } };
    }
  }
  if (te.length > 0 && cl.length > 0) return error('both Transfer-Encoding and Content-Length');
  if (cl.length > 1) return error('more than one Content-Length');
  if (te.length > 0) {
    const codings = te
      .join(',')
      .split(',')
      .map((c) => c.trim().toLowerCase());
    const chunked = codings.indexOf('chunked');
    if (message.request) {
      if (codings.length !== 1 || chunked !== 0) {
        return error(`Transfer-Encoding ${JSON.stringify(te.join(', '))} is not exactly chunked`);
      }
    } else if (codings.includes('') && message.robust !== true) {
      return error(`Transfer-Encoding ${JSON.stringify(te.join(', '))} has an empty coding`);
    } else if (codings[codings.length - 1] !== 'chunked') {
      return { kind: 'ok', value: { framing: 'close', contentLength: -1 } };
    } else if (chunked !== codings.length - 1 && message.robust !== true) {
      return error(`Transfer-Encoding ${JSON.stringify(te.join(', '))} applies chunked twice`);
    }
    return { kind: 'ok', value: { framing: 'chunked', contentLength: -1 } };
  }
  // Any length up to 2^63-1 is valid (RFC 9110 §8.6 asks recipients to expect large numerals);
  // beyond 2^53 it is kept approximately, which only matters for bodies no test sends.
  if (cl.length === 1 && !(/^\d{1,19}$/.test(cl[0]!) && BigInt(cl[0]!) <= MAX_CONTENT_LENGTH)) {
    return error(`invalid Content-Length ${cl[0]}`);
  }
  if (cl.length === 1) return { kind: 'ok', value: { framing: 'length', contentLength: Number(cl[0]) } };
  return { kind: 'ok', value: { framing: message.request ? 'none' : 'close', contentLength: -1 } };
}

/**
 * Reads a body of the given framing starting at `offset`. A `close` body is complete only when
 * `ended` (the peer closed); until then it is incomplete. `robust`: see the module comment.
 */
export function readBody(
  buf: Buffer,
  offset: number,
  framing: Framing,
  contentLength: number,
  ended = false,
  robust = false,
): Parsed<Body> {
  switch (framing) {
    case 'none':
      return { kind: 'ok', value: { data: Buffer.alloc(0), trailers: [], chunkSizes: [], length: 0 } };
    case 'length':
      if (buf.length - offset < contentLength) return INCOMPLETE;
      return {
        kind: 'ok',
        value: {
          data: buf.subarray(offset, offset + contentLength),
          trailers: [],
          chunkSizes: [],
          length: contentLength,
        },
      };
    case 'close':
      if (!ended) return INCOMPLETE;
      return {
        kind: 'ok',
        value: { data: buf.subarray(offset), trailers: [], chunkSizes: [], length: buf.length - offset },
      };
    case 'chunked':
      return readChunked(buf, offset, robust);
  }
}

function readChunked(buf: Buffer, offset: number, robust: boolean): Parsed<Body> {
  const pieces: Buffer[] = [];
  const chunkSizes: number[] = [];
  let at = offset;
  while (true) {
    const lineEnd = buf.indexOf('\r\n', at, 'latin1');
    if (lineEnd === -1) return buf.length - at > 1024 ? error('chunk size line too long') : INCOMPLETE;
    const line = buf.toString('latin1', at, lineEnd);
    const m = (robust ? CHUNK_SIZE_LINE_ROBUST : CHUNK_SIZE_LINE).exec(line);
    if (m === null) return error(`malformed chunk size line ${JSON.stringify(line)}`);
    const size = parseInt(m[1]!, 16);
    at = lineEnd + 2;
    if (size === 0) break;
    if (buf.length < at + size + 2) return INCOMPLETE;
    pieces.push(buf.subarray(at, at + size));
    chunkSizes.push(size);
    at += size;
    if (buf[at] !== 0x0d || buf[at + 1] !== 0x0a) return error('chunk data not followed by CRLF');
    at += 2;
  }
  // Trailer section: header lines up to an empty line.
  let trailers: Header[] = [];
  if (buf.length >= at + 2 && buf[at] === 0x0d && buf[at + 1] === 0x0a) at += 2;
  else {
    const head = readHead(Buffer.concat([Buffer.from('X\r\n'), buf.subarray(at)]), 0);
    if (head.kind !== 'ok') return head;
    trailers = head.value.headers;
    at += head.value.length - 3;
  }
  return { kind: 'ok', value: { data: Buffer.concat(pieces), trailers, chunkSizes, length: at - offset } };
}

export interface WireRequest {
  head: RequestHead;
  framing: Framing;
  body: Body;
  /** Bytes of the whole request on the wire. */
  length: number;
}

/** Reads one complete request (head and body) starting at `offset` (`robust`: see the module comment). */
export function readRequest(buf: Buffer, offset = 0, robust = false): Parsed<WireRequest> {
  const head = readRequestHead(buf, offset, robust);
  if (head.kind !== 'ok') return head;
  const framing = bodyFraming(head.value.headers, { request: true });
  if (framing.kind !== 'ok') return framing;
  const { framing: kind, contentLength } = framing.value;
  const body = readBody(buf, offset + head.value.length, kind, contentLength, false, robust);
  if (body.kind !== 'ok') return body;
  return {
    kind: 'ok',
    value: {
      head: head.value,
      framing: kind,
      body: body.value,
      length: head.value.length + body.value.length,
    },
  };
}

export interface WireResponse {
  /** 1xx responses received before this one, in order. */
  informational: ResponseHead[];
  head: ResponseHead;
  framing: Framing;
  body: Body;
  /** Bytes on the wire, informational responses included. */
  length: number;
}

/**
 * Reads one response to a `requestMethod` request (its 1xx responses first) starting at `offset`.
 * `ended`: the peer closed, which completes a close-delimited body. `robust`: see the module comment.
 */
export function readResponse(
  buf: Buffer,
  offset: number,
  requestMethod: string,
  ended = false,
  robust = false,
): Parsed<WireResponse> {
  const informational: ResponseHead[] = [];
  let at = offset;
  while (true) {
    const head = readResponseHead(buf, at, robust);
    if (head.kind !== 'ok') return head;
    const framing = bodyFraming(head.value.headers, {
      request: false,
      requestMethod,
      status: head.value.status,
      robust,
    });
    if (framing.kind !== 'ok') return framing;
    if (head.value.status < 200 && head.value.status !== 101) {
      informational.push(head.value);
      at += head.value.length;
      continue;
    }
    const { framing: kind, contentLength } = framing.value;
    const body = readBody(buf, at + head.value.length, kind, contentLength, ended, robust);
    if (body.kind !== 'ok') return body;
    return {
      kind: 'ok',
      value: {
        informational,
        head: head.value,
        framing: kind,
        body: body.value,
        length: at - offset + head.value.length + body.value.length,
      },
    };
  }
}

/** Serialises a head: `startLine`, then each field, then the blank line. */
export function serializeHead(startLine: string, headers: Header[]): string {
  let text = startLine + '\r\n';
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return text + '\r\n';
}

/** One chunk of a chunked body (`data` empty: the last chunk, with `trailers`). */
export function chunk(data: Buffer | string, trailers: Header[] = []): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  if (bytes.length === 0) return Buffer.from(serializeHead('0', trailers), 'latin1');
  return Buffer.concat([Buffer.from(bytes.length.toString(16) + '\r\n'), bytes, Buffer.from('\r\n')]);
}
