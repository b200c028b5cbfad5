/**
 * A small, strict HTTP/1.1 message reader for tests. It shares no code with the proxy's codecs
 * (llhttp), so what it accepts is an independent judgement of the bytes a proxy sent: a test that
 * checks the proxy with its own parser would share its bugs.
 *
 * Strict on purpose (RFC 9112): CRLF line ends only, no obs-fold, token header names, no control
 * characters in values, one Content-Length, Transfer-Encoding exactly `chunked` and never together
 * with Content-Length. Anything else is an error, never a guess.
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

export function readRequestHead(buf: Buffer, offset = 0): Parsed<RequestHead> {
  const head = readHead(buf, offset);
  if (head.kind !== 'ok') return head;
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([!-~]+) HTTP\/1\.([01])$/.exec(head.value.startLine);
  if (m === null) return error(`malformed request line ${JSON.stringify(head.value.startLine)}`);
  return {
    kind: 'ok',
    value: { ...head.value, method: m[1]!, target: m[2]!, versionMinor: Number(m[3]) },
  };
}

export function readResponseHead(buf: Buffer, offset = 0): Parsed<ResponseHead> {
  const head = readHead(buf, offset);
  if (head.kind !== 'ok') return head;
  const m = /^HTTP\/1\.([01]) ([1-9]\d\d) ?([\t\x20-\x7e\x80-\xff]*)$/.exec(head.value.startLine);
  if (m === null) return error(`malformed status line ${JSON.stringify(head.value.startLine)}`);
  return {
    kind: 'ok',
    value: { ...head.value, versionMinor: Number(m[1]), status: Number(m[2]), reason: m[3]! },
  };
}

/** Checks the framing fields and says how the body is delimited (`close` is never valid for requests). */
export function bodyFraming(
  headers: Header[],
  message: { request: true } | { request: false; requestMethod: string; status: number },
): Parsed<{ framing: Framing; contentLength: number }> {
  const te = headerValues(headers, 'transfer-encoding');
  const cl = headerValues(headers, 'content-length');
  if (te.length > 0 && cl.length > 0) return error('both Transfer-Encoding and Content-Length');
  if (cl.length > 1) return error('more than one Content-Length');
  if (te.length > 0 && te.join(',').trim().toLowerCase() !== 'chunked') {
    return error(`Transfer-Encoding ${JSON.stringify(te.join(', '))} is not exactly chunked`);
  }
  if (cl.length === 1 && !/^\d{1,15}$/.test(cl[0]!)) return error(`invalid Content-Length ${cl[0]}`);
  const contentLength = cl.length === 1 ? Number(cl[0]) : -1;
  if (!message.request) {
    const status = message.status;
    if (status < 200 || status === 204) {
      if (te.length > 0 || cl.length > 0) return error(`framing header on a ${status} response`);
      return { kind: 'ok', value: { framing: 'none', contentLength } };
    }
    if (message.requestMethod === 'HEAD' || status === 304) {
      if (te.length > 0 && status === 304) return error('Transfer-Encoding on a 304 response');
      return { kind: 'ok', value: { framing: 'none', contentLength } };
    }
  }
  if (te.length > 0) return { kind: 'ok', value: { framing: 'chunked', contentLength: -1 } };
  if (contentLength >= 0) return { kind: 'ok', value: { framing: 'length', contentLength } };
  return { kind: 'ok', value: { framing: message.request ? 'none' : 'close', contentLength: -1 } };
}

/**
 * Reads a body of the given framing starting at `offset`. A `close` body is complete only when
 * `ended` (the peer closed); until then it is incomplete.
 */
export function readBody(
  buf: Buffer,
  offset: number,
  framing: Framing,
  contentLength: number,
  ended = false,
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
      return readChunked(buf, offset);
  }
}

function readChunked(buf: Buffer, offset: number): Parsed<Body> {
  const pieces: Buffer[] = [];
  const chunkSizes: number[] = [];
  let at = offset;
  while (true) {
    const lineEnd = buf.indexOf('\r\n', at, 'latin1');
    if (lineEnd === -1) return buf.length - at > 1024 ? error('chunk size line too long') : INCOMPLETE;
    const line = buf.toString('latin1', at, lineEnd);
    const m = /^([0-9A-Fa-f]{1,15})(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=[^\r\n;]*)?)*$/.exec(line);
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

/** Reads one complete request (head and body) starting at `offset`. */
export function readRequest(buf: Buffer, offset = 0): Parsed<WireRequest> {
  const head = readRequestHead(buf, offset);
  if (head.kind !== 'ok') return head;
  const framing = bodyFraming(head.value.headers, { request: true });
  if (framing.kind !== 'ok') return framing;
  const { framing: kind, contentLength } = framing.value;
  const body = readBody(buf, offset + head.value.length, kind, contentLength);
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
 * `ended`: the peer closed, which completes a close-delimited body.
 */
export function readResponse(
  buf: Buffer,
  offset: number,
  requestMethod: string,
  ended = false,
): Parsed<WireResponse> {
  const informational: ResponseHead[] = [];
  let at = offset;
  while (true) {
    const head = readResponseHead(buf, at);
    if (head.kind !== 'ok') return head;
    const framing = bodyFraming(head.value.headers, {
      request: false,
      requestMethod,
      status: head.value.status,
    });
    if (framing.kind !== 'ok') return framing;
    if (head.value.status < 200 && head.value.status !== 101) {
      informational.push(head.value);
      at += head.value.length;
      continue;
    }
    const { framing: kind, contentLength } = framing.value;
    const body = readBody(buf, at + head.value.length, kind, contentLength, ended);
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
