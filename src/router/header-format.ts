/**
 * Values of `request_headers_to_add` / `response_headers_to_add`: literal text with Envoy's
 * substitution operators (`%%` is a literal '%'). Supported operators:
 *
 *   %DOWNSTREAM_REMOTE_ADDRESS%                 peer `ip:port` (`[v6]:port`)
 *   %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%    peer ip
 *   %DOWNSTREAM_LOCAL_ADDRESS%                  listener-side `ip:port`
 *   %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%     listener-side ip
 *   %PROTOCOL%                                  `HTTP/1.1` / `HTTP/1.0`
 *   %START_TIME%                                request start, Envoy's default format (ISO 8601, ms, UTC)
 *   %HOSTNAME%                                  this machine's host name
 *   %REQ(name?alt):max%                         request header (first value), optional fallback and max length
 *   %RESP(name?alt):max%                        response header (response mutations only; '' on requests)
 *
 * Anything else makes the constructor throw, which the primary's config check reports (it builds
 * every format before any worker starts). As in Envoy's header formatter
 * (omit-empty mode), a missing value substitutes '' rather than '-', and a value that comes out
 * empty is not added at all (see header-mutations).
 */
import { hostname } from 'node:os';
import type { HeaderMap } from '../http/header-map';

/** What a formatter may read about the stream. Implemented by the connection manager's stream. */
export interface HeaderFormatContext {
  /** Downstream peer IP address, without port. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The local (listener-side) IP address of the downstream connection, without port. */
  readonly localAddress: string;
  readonly localPort: number;
  /** `HTTP/1.1` or `HTTP/1.0`; '' for a TCP connection (no HTTP protocol). */
  readonly protocol: string;
  /** Wall-clock time the request started, in ms since the epoch. */
  readonly startTimeMs: number;
  /** The downstream request's headers (read by %REQ()% in response mutations). */
  readonly requestHeaders: HeaderMap;
}

const enum Op {
  Literal,
  RemoteAddress,
  RemoteIp,
  LocalAddress,
  LocalIp,
  Protocol,
  StartTime,
  Hostname,
  RequestHeader,
  ResponseHeader,
}

const SIMPLE_OPS: Record<string, Op> = {
  DOWNSTREAM_REMOTE_ADDRESS: Op.RemoteAddress,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: Op.RemoteIp,
  DOWNSTREAM_LOCAL_ADDRESS: Op.LocalAddress,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: Op.LocalIp,
  PROTOCOL: Op.Protocol,
  START_TIME: Op.StartTime,
  HOSTNAME: Op.Hostname,
};

/** `REQ(name)`, `RESP(name?alt)`, with an optional `:max` after the parenthesis. */
const HEADER_OP = /^(REQ|RESP)\(([^()?]+)(?:\?([^()?]+))?\)(?::(\d+))?$/;

/** One piece of a parsed value: literal text, or an operator with its header names. */
interface Part {
  op: Op;
  /** Literal text, or the header name for REQ/RESP. */
  text: string;
  /** Fallback header name for REQ/RESP ('' if none). */
  alt: string;
  /** Max length for REQ/RESP (-1 = unlimited). */
  max: number;
}

/** Parses a value into parts, or returns why it is invalid. */
function parse(value: string): Part[] | string {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < value.length) {
    const pct = value.indexOf('%', i);
    if (pct === -1) {
      literal += value.slice(i);
      break;
    }
    literal += value.slice(i, pct);
    if (value[pct + 1] === '%') {
      literal += '%';
      i = pct + 2;
      continue;
    }
    const close = value.indexOf('%', pct + 1);
    if (close === -1) return `unterminated '%' at position ${pct}`;
    const part = parseOperator(value.slice(pct + 1, close));
    if (typeof part === 'string') return part;
    if (literal !== '') parts.push({ op: Op.Literal, text: literal, alt: '', max: -1 });
    literal = '';
    parts.push(part);
    i = close + 1;
  }
  if (literal !== '') parts.push({ op: Op.Literal, text: literal, alt: '', max: -1 });
  return parts;
}

function parseOperator(body: string): Part | string {
  const simple = SIMPLE_OPS[body];
  if (simple !== undefined) return { op: simple, text: '', alt: '', max: -1 };
  const m = HEADER_OP.exec(body);
  if (m === null) return `unsupported operator %${body}%`;
  const name = headerName(m[2]!);
  const alt = m[3] === undefined ? '' : headerName(m[3]);
  if (name === null || alt === null) return `unsupported pseudo-header in %${body}% (only :authority)`;
  return {
    op: m[1] === 'REQ' ? Op.RequestHeader : Op.ResponseHeader,
    text: name,
    alt,
    max: m[4] === undefined ? -1 : Number(m[4]),
  };
}

/** Lower-cases a header name; `:authority` is the Host header in HTTP/1; other pseudo-headers are refused. */
function headerName(raw: string): string | null {
  const name = raw.trim().toLowerCase();
  if (name === ':authority') return 'host';
  return name.startsWith(':') ? null : name;
}

let cachedHostname: string | null = null;

/** A compiled header value. Pure literals (the common case) evaluate without work. */
export class HeaderFormat {
  /** The value when it has no operators; null otherwise. */
  readonly literal: string | null;
  private readonly parts: Part[];

  /** Throws on an unknown operator or a stray '%' (the primary's config check builds every format). */
  constructor(value: string) {
    const parsed = parse(value);
    if (typeof parsed === 'string') throw new Error(`invalid header value format '${value}': ${parsed}`);
    this.parts = parsed;
    this.literal = parsed.every((p) => p.op === Op.Literal) ? parsed.map((p) => p.text).join('') : null;
  }

  /** `responseHeaders` is null when formatting request headers. */
  evaluate(ctx: HeaderFormatContext, requestHeaders: HeaderMap, responseHeaders: HeaderMap | null): string {
    if (this.literal !== null) return this.literal;
    let out = '';
    const parts = this.parts;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      switch (p.op) {
        case Op.Literal:
          out += p.text;
          break;
        case Op.RemoteAddress:
          out += joinHostPort(ctx.remoteAddress, ctx.remotePort);
          break;
        case Op.RemoteIp:
          out += ctx.remoteAddress;
          break;
        case Op.LocalAddress:
          out += joinHostPort(ctx.localAddress, ctx.localPort);
          break;
        case Op.LocalIp:
          out += ctx.localAddress;
          break;
        case Op.Protocol:
          out += ctx.protocol;
          break;
        case Op.StartTime:
          out += new Date(ctx.startTimeMs).toISOString();
          break;
        case Op.Hostname:
          out += cachedHostname ??= hostname();
          break;
        case Op.RequestHeader:
          out += headerValue(requestHeaders, p);
          break;
        case Op.ResponseHeader:
          out += responseHeaders === null ? '' : headerValue(responseHeaders, p);
          break;
      }
    }
    return out;
  }
}

function headerValue(headers: HeaderMap, p: Part): string {
  let v = headers.get(p.text);
  if (v === undefined && p.alt !== '') v = headers.get(p.alt);
  if (v === undefined) return '';
  return p.max >= 0 && v.length > p.max ? v.slice(0, p.max) : v;
}

/** `ip:port`, bracketing IPv6 addresses as Envoy prints them. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
