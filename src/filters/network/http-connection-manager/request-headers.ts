/**
 * What the connection manager does to every request's headers before routing (Envoy's
 * ConnectionManagerUtility::mutateRequestHeaders): drop hop-by-hop fields, resolve and normalise
 * the authority, x-forwarded-client-cert. Where the request comes from (x-forwarded-for and what
 * follows from it) is forwarding.ts.
 */
import type { ClientCertDetailsConfig, HttpConnectionManagerConfig } from '../../../config/bootstrap';
import type { ClientCertificate, TlsConnectionInfo } from '../../../transport/api';
import type { RequestHead } from '../../../http/codec';
import type { HeaderMap } from '../../../http/header-map';
import { HOP_BY_HOP_FIELDS } from '../../../http/hop-by-hop';

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
  for (let i = 0; i < HOP_BY_HOP_FIELDS.length; i++) headers.remove(HOP_BY_HOP_FIELDS[i]!);
  // TE is hop-by-hop, but "trailers" is meaningful end to end (gRPC); keep only that.
  const te = headers.get('te');
  if (te !== undefined && te.trim().toLowerCase() !== 'trailers') headers.remove('te');
  return true;
}

/**
 * Resolves the request's authority. An absolute-form target (`GET http://h/p`) overrides Host, as
 * RFC 9112 §3.2.2 requires; the path becomes origin-form. An HTTP/1.0 request without Host gets
 * `default_host_for_http_10`. Returns null when there is no authority at all (→ 400, as Envoy).
 */
export function resolveAuthority(head: RequestHead, defaultHostForHttp10: string): string | null {
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
  if (head.protocol !== 'HTTP/1.0' || defaultHostForHttp10 === '') return null;
  head.headers.set('host', defaultHostForHttp10);
  return defaultHostForHttp10;
}

/** Envoy's Utility::appendVia: `via` after the existing Via value(s), or as the only one. */
export function appendVia(headers: HeaderMap, via: string): void {
  const existing = headers.getAll('via');
  headers.set('via', existing.length === 0 ? via : `${existing.join(', ')}, ${via}`);
}

/**
 * Envoy's host normalisation before routing (ConnectionManagerUtility::maybeNormalizeHost): a trailing
 * dot off the host (`strip_trailing_host_dot`, the port kept), then the port off (`strip_any_host_port`,
 * or `strip_matching_host_port` when it is `localPort`). Not for CONNECT, whose authority needs its
 * port. Returns the authority to route by; the Host field is updated when it changed.
 */
export function normalizeHost(
  head: RequestHead,
  authority: string,
  config: Pick<HttpConnectionManagerConfig, 'stripTrailingHostDot' | 'stripHostPort'>,
  localPort: number,
): string {
  if (head.method === 'CONNECT') return authority;
  let host = authority;
  let port = '';
  const colon = host.lastIndexOf(':');
  // A colon inside an IPv6 literal's brackets is not a port separator.
  if (colon !== -1 && colon > host.lastIndexOf(']')) {
    port = host.slice(colon);
    host = host.slice(0, colon);
  }
  if (config.stripTrailingHostDot && host.endsWith('.')) host = host.slice(0, -1);
  const strip = config.stripHostPort;
  if (
    port !== '' &&
    /^:\d+$/.test(port) &&
    (strip === 'any' || (strip === 'matching' && Number(port.slice(1)) === localPort))
  )
    port = '';
  const normalized = host + port;
  if (normalized !== authority) head.headers.set('host', normalized);
  return normalized;
}

const XFCC = 'x-forwarded-client-cert';

/**
 * `forward_client_cert_details`, as Envoy's mutateXfccRequestHeader: ALWAYS_FORWARD_ONLY leaves the
 * header alone; without a client certificate (no mTLS) it is removed; then FORWARD_ONLY keeps it,
 * SANITIZE removes it, SANITIZE_SET replaces it with this connection's element and APPEND_FORWARD
 * appends that element.
 */
export function mutateClientCertHeader(
  headers: HeaderMap,
  config: HttpConnectionManagerConfig,
  tls: TlsConnectionInfo | null | undefined,
): void {
  const mode = config.forwardClientCertDetails;
  if (mode === 'ALWAYS_FORWARD_ONLY') return;
  const cert = tls?.clientCertificate ?? null;
  if (cert === null || mode === 'SANITIZE') {
    headers.remove(XFCC);
    return;
  }
  if (mode === 'FORWARD_ONLY') return;
  const element = clientCertElement(cert, config.clientCertDetails);
  const existing = mode === 'APPEND_FORWARD' ? headers.getAll(XFCC).join(',') : '';
  headers.set(XFCC, existing === '' ? element : `${existing},${element}`);
}

/** One XFCC element: By (Legate's URI SANs) and Hash always, then what the config asks for. */
function clientCertElement(cert: ClientCertificate, details: ClientCertDetailsConfig): string {
  const pairs = cert.localUriSans.map((uri) => `By=${uri}`);
  pairs.push(`Hash=${cert.hash}`);
  if (details.cert) pairs.push(`Cert="${urlEncodePem(cert.pem)}"`);
  if (details.chain) pairs.push(`Chain="${urlEncodePem(cert.chainPem)}"`);
  if (details.subject) pairs.push(`Subject="${cert.subject}"`);
  if (details.uri) for (const uri of cert.uriSans) pairs.push(`URI=${uri}`);
  if (details.dns) for (const dns of cert.dnsSans) pairs.push(`DNS=${dns}`);
  return pairs.join(';');
}

/** PEM with the characters Envoy escapes in XFCC's Cert and Chain. */
function urlEncodePem(pem: string): string {
  return pem.replace(/[\n +/=]/g, (c) => PEM_ESCAPES[c]!);
}

const PEM_ESCAPES: Record<string, string> = { '\n': '%0A', ' ': '%20', '+': '%2B', '/': '%2F', '=': '%3D' };

/** Envoy's headers_with_underscores_action at the connection manager (codec already enforces it too). */
export function hasUnderscoreHeader(head: RequestHead): boolean {
  const names = head.headers.names;
  for (let i = 0; i < names.length; i++) if (names[i]!.indexOf('_') !== -1) return true;
  return false;
}
