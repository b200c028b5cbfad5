/**
 * What the connection manager does to every request's headers before routing (Envoy's
 * ConnectionManagerUtility::mutateRequestHeaders): drop hop-by-hop fields, apply the
 * x-forwarded-* and x-request-id rules, and resolve the authority.
 */
import { randomUUID } from 'node:crypto';
import type { HttpConnectionManagerConfig } from '../../../config/bootstrap';
import type { RequestHead } from '../../../http/codec';

/** Fields that describe one hop, never forwarded (RFC 9110 §7.6.1, plus legacy proxy fields). */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

/**
 * Removes hop-by-hop fields and those the Connection header nominates. Returns false when Connection
 * nominates a field that must not be removed that way (Envoy: 400 connection_header_rejected).
 */
export function stripHopByHop(head: RequestHead): boolean {
  const headers = head.headers;
  const connection = headers.get('connection');
  if (connection !== undefined) {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name === '' || name === 'close' || name === 'keep-alive') continue;
      if (name === 'host' || name.startsWith(':') || name === 'content-length') return false;
      headers.remove(name);
    }
  }
  for (let i = 0; i < HOP_BY_HOP.length; i++) headers.remove(HOP_BY_HOP[i]!);
  // TE is hop-by-hop, but "trailers" is meaningful end to end (gRPC); keep only that.
  const te = headers.get('te');
  if (te !== undefined && te.trim().toLowerCase() !== 'trailers') headers.remove('te');
  return true;
}

/**
 * Resolves the request's authority. An absolute-form target (`GET http://h/p`) overrides Host, as
 * RFC 9112 §3.2.2 requires; the path becomes origin-form. Returns null when there is no authority
 * at all on HTTP/1.1 (→ 400).
 */
export function resolveAuthority(head: RequestHead): string | null {
  const path = head.path;
  if (path.charCodeAt(0) !== 47 /* '/' */ && /^https?:\/\//i.test(path)) {
    const start = path.indexOf('//') + 2;
    let end = path.indexOf('/', start);
    const q = path.indexOf('?', start);
    if (end === -1 || (q !== -1 && q < end)) end = q === -1 ? path.length : q;
    const authority = path.slice(start, end);
    head.path = end === path.length ? '/' : path[end] === '?' ? '/' + path.slice(end) : path.slice(end);
    head.headers.set('host', authority);
    return authority;
  }
  const host = head.headers.get('host');
  if (host !== undefined) return host;
  return head.versionMinor === 0 ? '' : null;
}

/** The x-forwarded-for / x-forwarded-proto / x-request-id rules. */
export function mutateForwardingHeaders(
  head: RequestHead,
  config: HttpConnectionManagerConfig,
  remoteAddress: string,
): void {
  const headers = head.headers;
  if (config.useRemoteAddress) {
    const xff = headers.get('x-forwarded-for');
    headers.set('x-forwarded-for', xff === undefined ? remoteAddress : `${xff}, ${remoteAddress}`);
    headers.set('x-forwarded-proto', 'http');
  } else if (!headers.has('x-forwarded-proto')) {
    headers.add('x-forwarded-proto', 'http');
  }
  if (config.generateRequestId && !headers.has('x-request-id')) headers.add('x-request-id', randomUUID());
}

/** Envoy's headers_with_underscores_action at the connection manager (codec already enforces it too). */
export function hasUnderscoreHeader(head: RequestHead): boolean {
  const names = head.headers.names;
  for (let i = 0; i < names.length; i++) if (names[i]!.indexOf('_') !== -1) return true;
  return false;
}
