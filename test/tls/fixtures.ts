/**
 * TLS test helpers: the fixed certificates of test/fixtures/tls (README there), a YAML builder for
 * listeners with several filter chains, and node:tls clients that report what was negotiated.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { REPO_ROOT } from '../repo-root';
import { indent } from '../integration/harness';

export const CERT_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'tls');
export const certPath = (name: string): string => path.join(CERT_DIR, name);
export const pem = (name: string): string => fs.readFileSync(certPath(name), 'utf8');

/** A DownstreamTlsContext transport_socket (YAML) serving `certs` (fixture base names). */
export function tlsSocketYaml(o: {
  certs?: string[];
  /** Extra fields of common_tls_context (YAML lines). */
  common?: string;
  /** Extra fields of DownstreamTlsContext (YAML lines). */
  context?: string;
}): string {
  const certs = (o.certs ?? ['server-rsa'])
    .map(
      (c) =>
        `- certificate_chain: { filename: ${certPath(`${c}.crt`)} }\n  private_key: { filename: ${certPath(`${c}.key`)} }`,
    )
    .join('\n');
  return `transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
${indent(o.context ?? '', 4)}
    common_tls_context:
${indent(o.common ?? '', 6)}
      tls_certificates:
${indent(certs, 6)}`;
}

/**
 * A filter chain (list item) with an HCM routing everything to `cluster` (or by `routes`), or a
 * tcp_proxy to it.
 */
export function chainYaml(o: {
  cluster: string;
  /** The HCM's routes (YAML list items) instead of everything to `cluster`. */
  routes?: string;
  /** More HttpConnectionManager fields (YAML lines), e.g. access_log. */
  hcmExtra?: string;
  kind?: 'http' | 'tcp';
  /** filter_chain_match fields (YAML lines). */
  match?: string;
  /** tlsSocketYaml(...) or ''. */
  tls?: string;
  extra?: string;
  statPrefix?: string;
}): string {
  const filter =
    o.kind === 'tcp'
      ? `- name: envoy.filters.network.tcp_proxy
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
    stat_prefix: ${o.statPrefix ?? 'l4'}
    cluster: ${o.cluster}`
      : `- name: envoy.filters.network.http_connection_manager
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
    stat_prefix: ${o.statPrefix ?? 'ingress'}
${indent(o.hcmExtra ?? '', 4)}
    route_config:
      virtual_hosts:
      - name: all
        domains: ["*"]
        routes:
${indent(
  o.routes ??
    `- match: { prefix: / }
  route: { cluster: ${o.cluster} }`,
  8,
)}
    http_filters:
    - name: envoy.filters.http.router
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;
  const match = o.match ? `filter_chain_match:\n${indent(o.match, 2)}\n` : '';
  return `- ${indent(`${match}${o.tls ? `${o.tls}\n` : ''}${o.extra ? `${o.extra}\n` : ''}filters:\n${indent(filter, 2)}`, 2).slice(2)}`;
}

export function staticCluster(name: string, port: number): string {
  return `- name: ${name}
  connect_timeout: 1s
  load_assignment:
    cluster_name: ${name}
    endpoints:
    - lb_endpoints:
      - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
}

/** A bootstrap with admin and one listener `proxy` of the given chains. */
export function listenerYaml(o: {
  chains: string[];
  clusters: string[];
  /** Extra listener fields (YAML lines), e.g. listener_filters or default_filter_chain. */
  listenerExtra?: string;
}): string {
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: proxy
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${indent(o.listenerExtra ?? '', 4)}
    filter_chains:
${indent(o.chains.join('\n'), 4)}
  clusters:
${indent(o.clusters.join('\n'), 2)}
`;
}

export const TLS_INSPECTOR = `listener_filters:
- name: envoy.filters.listener.tls_inspector
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`;

export interface Handshake {
  ok: boolean;
  /** The client-side error code/message when the handshake or connection failed. */
  error: string;
  protocol: string;
  cipher: string;
  alpn: string;
  /** CN of the server certificate. */
  serverCn: string;
  /** The server certificate's public key type ('RSA' / 'EC'). */
  serverKeyType: string;
  /** The HTTP response (status line and body) when a request was sent, else ''. */
  response: string;
}

export interface ClientOptions extends tls.ConnectionOptions {
  /** An HTTP/1.1 request to send once connected (Connection: close), whose response is collected. */
  request?: string;
  /** Trust the test CA (default true). */
  trustTestCa?: boolean;
  timeoutMs?: number;
}

/** Connects with node:tls; never rejects: failures are in `error`. */
export function tlsClient(port: number, o: ClientOptions = {}): Promise<Handshake> {
  const { request, trustTestCa = true, timeoutMs = 5000, ...options } = o;
  return new Promise((resolve) => {
    const result: Handshake = {
      ok: false,
      error: '',
      protocol: '',
      cipher: '',
      alpn: '',
      serverCn: '',
      serverKeyType: '',
      response: '',
    };
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: trustTestCa ? pem('ca.crt') : undefined,
      servername: 'a.example',
      ...options,
    });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      result.error ||= 'timeout';
      socket.destroy();
    }, timeoutMs);
    socket.once('secureConnect', () => {
      result.ok = true;
      result.protocol = socket.getProtocol() ?? '';
      result.cipher = socket.getCipher().name;
      result.alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : '';
      const cert = socket.getPeerX509Certificate();
      result.serverCn = /CN=([^\n]+)/.exec(cert?.subject ?? '')?.[1] ?? '';
      result.serverKeyType = cert?.publicKey.asymmetricKeyType === 'ec' ? 'EC' : 'RSA';
      if (request !== undefined) socket.write(request);
      else socket.end();
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      result.error ||= err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      result.response = Buffer.concat(chunks).toString('latin1');
      resolve(result);
    });
  });
}

/** A GET with Connection: close, for `tlsClient({ request })`. */
export const GET = (p = '/', host = 'a.example'): string =>
  `GET ${p} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`;

/** Sends raw bytes over plain TCP and reports how the server ended the connection. */
export function rawTcp(
  port: number,
  bytes: Buffer | string,
  timeoutMs = 5000,
): Promise<{ received: Buffer; closed: 'fin' | 'reset' | 'timeout' }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed: 'fin' | 'reset' | 'timeout' = 'fin';
    const timer = setTimeout(() => {
      closed = 'timeout';
      socket.destroy();
    }, timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      if (closed !== 'timeout') closed = 'reset';
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closed });
    });
  });
}
