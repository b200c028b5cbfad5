/**
 * HTTP/1.1 message-head serialisation shared by the server and client codecs and the native engine:
 * heads written as latin1 bytes into one reusable buffer (`HeadWriter`, so a head is one write),
 * with every field validated on the way out so nothing a filter or an upstream put into a HeaderMap
 * can inject CR/LF/NUL into the byte stream.
 *
 * Bytes rather than string concatenation: concatenation made a rope of cons strings per field that
 * V8 then flattened to write it, a third of what a proxied request allocated on the native engine.
 * The engine hands the bytes to C as they are; the JS codecs take one flat string (`toLatin1`).
 */
import type { HeaderMap } from './header-map';
import { latin1Slice } from './latin1';

/**
 * Whether `name` is a field the codec controls itself (framing and connection management), never
 * copied through: content-length, transfer-encoding, keep-alive and, except on a 101 response
 * (whose `connection: upgrade` must go through), connection. A switch on the length rather than a
 * Set: a Set lookup hashes every freshly parsed name first.
 */
export function isFramingField(name: string, keepConnection: boolean): boolean {
  switch (name.length) {
    case 10:
      return name === 'keep-alive' || (name === 'connection' && !keepConnection);
    case 14:
      return name === 'content-length';
    case 17:
      return name === 'transfer-encoding';
    default:
      return false;
  }
}

const CR = 13;
const LF = 10;
const COLON = 58;
const SPACE = 32;

/** RFC 9110 `tchar`: the bytes allowed in a field name (and a method). */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

/** A byte of a field value (or reason phrase): HTAB, SP, VCHAR and obs-text; no CR, LF, NUL, CTL. */
function isValueChar(c: number): boolean {
  return (c >= 0x20 || c === 0x09) && c !== 0x7f && c <= 0xff;
}

export function isValidHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (!isValueChar(value.charCodeAt(i))) return false;
  return true;
}

/**
 * The fields of a head the reader of these bytes still holds (the native engine's exchange, during
 * the event that carried the head), as the HeaderMap built from it got them: a writer may name such
 * a field instead of copying its characters.
 */
export interface LiveHeadFields {
  /** How many of `names`/`values` are live (0: none). */
  readonly liveCount: number;
  readonly names: readonly string[];
  readonly values: readonly string[];
}

/**
 * Marks a named field in the bytes: NUL (which no head can contain), then the field's index in two
 * bytes, little-endian. native-bindings/src/engine/exchange.c (lg_exchange_compose_head) puts the
 * field's line in its place, validated as `field` validates.
 */
const FIELD_REF = 0;
const MAX_FIELD_REFS = 0x10000;

export class HeadWriter {
  bytes: Buffer = Buffer.allocUnsafeSlow(4096);
  /** Bytes written since `reset`. */
  length = 0;
  private live: LiveHeadFields | null = null;

  reset(): this {
    this.length = 0;
    this.live = null;
    return this;
  }

  /**
   * Lets `fields` name the fields of `live` that a HeaderMap still has unchanged, instead of writing
   * them: only for a reader that puts them back (the native engine), never for `toLatin1`.
   */
  nameFieldsOf(live: LiveHeadFields): this {
    this.live = live;
    return this;
  }

  /** Text the caller vouches for (fixed strings, a validated path or method): copied as is. */
  text(s: string): void {
    this.reserve(s.length);
    const bytes = this.bytes;
    let p = this.length;
    for (let i = 0; i < s.length; i++) bytes[p++] = s.charCodeAt(i);
    this.length = p;
  }

  /** A non-negative integer in decimal. */
  decimal(n: number): void {
    this.text(String(n));
  }

  crlf(): void {
    this.reserve(2);
    this.bytes[this.length++] = CR;
    this.bytes[this.length++] = LF;
  }

  /** `name: value\r\n`; a field with an invalid name or value is left out (false). */
  field(name: string, value: string): boolean {
    if (name.length === 0) return false;
    this.reserve(name.length + value.length + 4);
    const bytes = this.bytes;
    let p = this.length;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c >= 128 || TOKEN[c] === 0) return false;
      bytes[p++] = c;
    }
    bytes[p++] = COLON;
    bytes[p++] = SPACE;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (!isValueChar(c)) return false;
      bytes[p++] = c;
    }
    bytes[p++] = CR;
    bytes[p++] = LF;
    this.length = p;
    return true;
  }

  /**
   * Every field of `headers` but the framing ones (`isFramingField`); invalid fields are dropped
   * silently (the caller's stats/logs are the place to count them, not the wire).
   */
  fields(headers: HeaderMap, keepConnection = false): void {
    const names = headers.names;
    const values = headers.values;
    const live = this.live;
    const liveCount = live === null ? 0 : Math.min(live.liveCount, MAX_FIELD_REFS);
    // Fields keep their order when others are removed or added, so the next live field to look
    // for only moves forward.
    let next = 0;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (isFramingField(name, keepConnection)) continue;
      const value = values[i]!;
      const j = liveCount === 0 ? -1 : findLiveField(live!, liveCount, next, name, value);
      if (j === -1) {
        this.field(name, value);
        continue;
      }
      this.reserve(3);
      const bytes = this.bytes;
      bytes[this.length++] = FIELD_REF;
      bytes[this.length++] = j & 0xff;
      bytes[this.length++] = j >>> 8;
      next = j + 1;
    }
  }

  /** What was written, as one flat latin1 string. */
  toLatin1(): string {
    return latin1Slice(this.bytes, 0, this.length);
  }

  private reserve(n: number): void {
    const needed = this.length + n;
    if (needed <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }
}

/** The index of the live field from `from` on that is `name: value`, or -1. */
function findLiveField(
  live: LiveHeadFields,
  count: number,
  from: number,
  name: string,
  value: string,
): number {
  const names = live.names;
  const values = live.values;
  for (let j = from; j < count; j++) if (values[j] === value && names[j] === name) return j;
  return -1;
}

const threadWriter = new HeadWriter();

/**
 * This thread's writer, emptied. A head is written and consumed (handed to C, or turned into a
 * string) before the next one starts, so one per thread serves every connection.
 */
export function headWriter(): HeadWriter {
  return threadWriter.reset();
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
  const w = headWriter();
  w.text('0\r\n');
  w.fields(trailers);
  w.crlf();
  return w.toLatin1();
}
