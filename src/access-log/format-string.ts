/**
 * Envoy's access-log format strings (`SubstitutionFormatString`): literal text with `%OPERATOR%`
 * command operators, compiled once per worker into parts and evaluated per finished stream.
 *
 * Supported operators (anything else is a config error):
 *   %START_TIME%, %START_TIME(<strftime>)%     request start, UTC (default: ISO 8601 with ms)
 *   %REQ(X?Y):Z%, %RESP(X?Y):Z%                request / response header X, else Y, cut to Z chars;
 *                                              pseudo-headers :method :path :authority :scheme :status
 *   %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 *   %UPSTREAM_HOST% %UPSTREAM_CLUSTER% %ROUTE_NAME% %PROTOCOL% %HOSTNAME%
 *   %DOWNSTREAM_REMOTE_ADDRESS[_WITHOUT_PORT]% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS[_WITHOUT_PORT]%
 *   %DOWNSTREAM_LOCAL_ADDRESS[_WITHOUT_PORT]% %DOWNSTREAM_REMOTE_PORT% %DOWNSTREAM_DIRECT_REMOTE_PORT%
 *   %DOWNSTREAM_LOCAL_PORT%
 *   %REQUESTED_SERVER_NAME% %DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_TLS_CIPHER% %DOWNSTREAM_PEER_SUBJECT%
 *   %LOCAL_REPLY_BODY%                         the body of a reply Legate made itself
 *
 * A missing value prints '-' in text (Envoy's rule) and is null in JSON. `%%` is a literal '%'.
 * The route's header formatter (router/header-format.ts) has different rules (missing → '', no
 * START_TIME format argument whose '%' would end its operator), hence a separate parser here.
 */
import { hostname } from 'node:os';
import type { HeaderMap } from '../http/header-map';
import { joinHostPort } from '../router/header-format';
import type { AccessLogStream } from './api';

/** Envoy's default access-log format (used when a logger has no `log_format`). */
export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

/** One evaluated operator: a string, a number (codes, sizes, durations), or null when absent. */
export type FormatValue = string | number | null;

const enum Op {
  Literal,
  StartTime,
  RequestHeader,
  ResponseHeader,
  ResponseCode,
  ResponseFlags,
  BytesReceived,
  BytesSent,
  Duration,
  UpstreamHost,
  UpstreamCluster,
  RouteName,
  Protocol,
  Hostname,
  RemoteAddress,
  RemoteIp,
  DirectRemoteAddress,
  DirectRemoteIp,
  LocalAddress,
  LocalIp,
  RemotePort,
  DirectRemotePort,
  LocalPort,
  RequestedServerName,
  TlsVersion,
  TlsCipher,
  PeerSubject,
  LocalReplyBody,
}

const SIMPLE_OPS: Record<string, Op> = {
  RESPONSE_CODE: Op.ResponseCode,
  RESPONSE_FLAGS: Op.ResponseFlags,
  BYTES_RECEIVED: Op.BytesReceived,
  BYTES_SENT: Op.BytesSent,
  DURATION: Op.Duration,
  UPSTREAM_HOST: Op.UpstreamHost,
  UPSTREAM_CLUSTER: Op.UpstreamCluster,
  ROUTE_NAME: Op.RouteName,
  PROTOCOL: Op.Protocol,
  HOSTNAME: Op.Hostname,
  DOWNSTREAM_REMOTE_ADDRESS: Op.RemoteAddress,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: Op.RemoteIp,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: Op.DirectRemoteAddress,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: Op.DirectRemoteIp,
  DOWNSTREAM_LOCAL_ADDRESS: Op.LocalAddress,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: Op.LocalIp,
  DOWNSTREAM_REMOTE_PORT: Op.RemotePort,
  DOWNSTREAM_DIRECT_REMOTE_PORT: Op.DirectRemotePort,
  DOWNSTREAM_LOCAL_PORT: Op.LocalPort,
  REQUESTED_SERVER_NAME: Op.RequestedServerName,
  DOWNSTREAM_TLS_VERSION: Op.TlsVersion,
  DOWNSTREAM_TLS_CIPHER: Op.TlsCipher,
  DOWNSTREAM_PEER_SUBJECT: Op.PeerSubject,
  LOCAL_REPLY_BODY: Op.LocalReplyBody,
};

/** `%NAME%`, `%NAME(arg)%`, `%NAME(arg):max%` at a given position (the argument may hold '%'). */
const OPERATOR = /%([A-Z][A-Z0-9_]*)(?:\(([^)]*)\))?(?::(\d+))?%/y;

export interface Part {
  readonly op: Op;
  /** Literal text; for REQ/RESP the lower-cased header name. */
  readonly text: string;
  /** REQ/RESP fallback header ('' if none). */
  readonly alt: string;
  /** REQ/RESP max length (-1 = unlimited). */
  readonly max: number;
  /** START_TIME with an explicit format. */
  readonly time: TimeToken[] | null;
}

/** Compiles a format string; throws an Error naming the first bad operator. */
export function compileFormat(format: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct === -1) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, pct);
    if (format[pct + 1] === '%') {
      literal += '%';
      i = pct + 2;
      continue;
    }
    OPERATOR.lastIndex = pct;
    const m = OPERATOR.exec(format);
    if (m === null) throw new Error(`no valid command operator at position ${pct} of '${format}'`);
    if (literal !== '') parts.push(literalPart(literal));
    literal = '';
    parts.push(operatorPart(m[1]!, m[2], m[3]));
    i = pct + m[0].length;
  }
  if (literal !== '') parts.push(literalPart(literal));
  return parts;
}

function literalPart(text: string): Part {
  return { op: Op.Literal, text, alt: '', max: -1, time: null };
}

function operatorPart(name: string, arg: string | undefined, max: string | undefined): Part {
  const simple = SIMPLE_OPS[name];
  if (simple !== undefined && arg === undefined)
    return { op: simple, text: '', alt: '', max: -1, time: null };
  if (name === 'START_TIME') {
    const time = arg === undefined || arg === '' ? null : compileTimeFormat(arg);
    return { op: Op.StartTime, text: '', alt: '', max: -1, time };
  }
  if ((name === 'REQ' || name === 'RESP') && arg !== undefined) {
    const [main, alt, extra] = arg.split('?');
    if (!main || extra !== undefined || alt === '')
      throw new Error(`bad header argument in %${name}(${arg})%`);
    return {
      op: name === 'REQ' ? Op.RequestHeader : Op.ResponseHeader,
      text: main.trim().toLowerCase(),
      alt: alt?.trim().toLowerCase() ?? '',
      max: max === undefined ? -1 : Number(max),
      time: null,
    };
  }
  throw new Error(`unsupported command operator %${name}${arg === undefined ? '' : `(${arg})`}%`);
}

let cachedHostname: string | null = null;

/** The value of one part for `s`. */
export function evaluate(p: Part, s: AccessLogStream): FormatValue {
  switch (p.op) {
    case Op.Literal:
      return p.text;
    case Op.StartTime:
      return p.time === null ? new Date(s.startTimeMs).toISOString() : formatTime(s.startTimeMs, p.time);
    case Op.RequestHeader:
      return truncate(requestHeader(s, p.text) ?? (p.alt === '' ? null : requestHeader(s, p.alt)), p.max);
    case Op.ResponseHeader:
      return truncate(responseHeader(s, p.text) ?? (p.alt === '' ? null : responseHeader(s, p.alt)), p.max);
    case Op.ResponseCode:
      return s.responseCode;
    case Op.ResponseFlags:
      return s.responseFlags;
    case Op.BytesReceived:
      return s.bytesReceived;
    case Op.BytesSent:
      return s.bytesSent;
    case Op.Duration:
      return s.durationMs;
    case Op.UpstreamHost:
      return s.upstreamHost === '' ? null : s.upstreamHost;
    case Op.UpstreamCluster:
      return s.upstreamCluster === '' ? null : s.upstreamCluster;
    case Op.RouteName: {
      const name = s.route()?.name ?? '';
      return name === '' ? null : name;
    }
    case Op.Protocol:
      return s.protocol === '' ? null : s.protocol;
    case Op.Hostname:
      return (cachedHostname ??= hostname());
    case Op.RemoteAddress:
      return joinHostPort(s.remoteAddress, s.remotePort);
    case Op.RemoteIp:
      return s.remoteAddress;
    case Op.DirectRemoteAddress:
      return joinHostPort(s.directRemoteAddress, s.directRemotePort);
    case Op.DirectRemoteIp:
      return s.directRemoteAddress;
    case Op.LocalAddress:
      return joinHostPort(s.localAddress, s.localPort);
    case Op.LocalIp:
      return s.localAddress;
    case Op.RemotePort:
      return s.remotePort;
    case Op.DirectRemotePort:
      return s.directRemotePort;
    case Op.LocalPort:
      return s.localPort;
    case Op.RequestedServerName:
      return orNull(s.downstreamInfo?.requestedServerName);
    case Op.TlsVersion:
      return orNull(s.downstreamInfo?.tls?.version);
    case Op.TlsCipher:
      return orNull(s.downstreamInfo?.tls?.cipher);
    case Op.PeerSubject:
      return orNull(s.downstreamInfo?.tls?.peerSubject);
    case Op.LocalReplyBody:
      // An empty body is a value (Envoy prints it empty); only a stream without a local reply has none.
      return s.localReplyBody;
  }
}

/** An absent or empty value prints '-' (text) / null (JSON), as Envoy's. */
function orNull(v: string | undefined): string | null {
  return v === undefined || v === '' ? null : v;
}

/** Text rendering: the parts joined, '-' for a missing value. */
export function formatText(parts: readonly Part[], s: AccessLogStream): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const v = evaluate(parts[i]!, s);
    out += v === null ? '-' : v;
  }
  return out;
}

function requestHeader(s: AccessLogStream, name: string): string | null {
  const req = s.request;
  if (req === null) return null;
  switch (name) {
    case ':method':
      return req.method;
    case ':path':
      return req.path;
    case ':authority':
      return req.headers.get('host') ?? null;
    case ':scheme':
      return s.downstreamInfo?.tls ? 'https' : 'http';
    default:
      return headerOrNull(req.headers, name);
  }
}

function responseHeader(s: AccessLogStream, name: string): string | null {
  if (name === ':status') return s.responseCode === 0 ? null : String(s.responseCode);
  return name.startsWith(':') ? null : (s.responseHeader(name) ?? null);
}

/** The response headers `parts` read through AccessLogStream.responseHeader (not `:status`). */
export function responseHeadersRead(parts: readonly Part[]): string[] {
  const names: string[] = [];
  for (const p of parts) {
    if (p.op !== Op.ResponseHeader) continue;
    for (const name of [p.text, p.alt]) if (name !== '' && !name.startsWith(':')) names.push(name);
  }
  return names;
}

function headerOrNull(headers: HeaderMap, name: string): string | null {
  return name.startsWith(':') ? null : (headers.get(name) ?? null);
}

function truncate(v: string | null, max: number): string | null {
  return v !== null && max >= 0 && v.length > max ? v.slice(0, max) : v;
}

// ------------------------------------------------------------------ START_TIME(<format>)

/** A literal piece of a time format, or a field code (`Y`, `m`, `3f`, …). */
type TimeToken = { literal: string } | { field: string };

const TIME_FIELDS = new Set(['Y', 'm', 'd', 'H', 'M', 'S', 's', 'z', 'Z', 'j', '3f', '6f', '9f', 'E3S']);

function compileTimeFormat(f: string): TimeToken[] {
  const tokens: TimeToken[] = [];
  const re = /%(E3S|[369]f|[A-Za-z%])/g;
  let last = 0;
  for (let m = re.exec(f); m !== null; m = re.exec(f)) {
    if (m.index > last) tokens.push({ literal: f.slice(last, m.index) });
    if (m[1] === '%') tokens.push({ literal: '%' });
    else if (TIME_FIELDS.has(m[1]!)) tokens.push({ field: m[1]! });
    else throw new Error(`unsupported START_TIME format code %${m[1]} in '${f}'`);
    last = re.lastIndex;
  }
  if (last < f.length) tokens.push({ literal: f.slice(last) });
  return tokens;
}

function formatTime(ms: number, tokens: readonly TimeToken[]): string {
  const d = new Date(ms);
  let out = '';
  for (const t of tokens) out += 'literal' in t ? t.literal : timeField(d, ms, t.field);
  return out;
}

function timeField(d: Date, ms: number, field: string): string {
  const millis = pad(d.getUTCMilliseconds(), 3);
  switch (field) {
    case 'Y':
      return String(d.getUTCFullYear());
    case 'm':
      return pad(d.getUTCMonth() + 1, 2);
    case 'd':
      return pad(d.getUTCDate(), 2);
    case 'H':
      return pad(d.getUTCHours(), 2);
    case 'M':
      return pad(d.getUTCMinutes(), 2);
    case 'S':
      return pad(d.getUTCSeconds(), 2);
    case 'E3S':
      return `${pad(d.getUTCSeconds(), 2)}.${millis}`;
    case 's':
      return String(Math.floor(ms / 1000));
    case 'z':
      return '+0000';
    case 'Z':
      return 'UTC';
    case 'j':
      return pad(Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3);
    case '3f':
      return millis;
    case '6f':
      return `${millis}000`;
    default: // 9f
      return `${millis}000000`;
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
