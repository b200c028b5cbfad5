/**
 * Upstream TLS (UpstreamTlsContext on a cluster) through the pool's connector seam, against node
 * https origins: SNI, chain and SAN verification, client certificates, ALPN; and each failure a
 * connect failure: 503 with Envoy's `transport failure reason: TLS_error:|…`, UF in the access log,
 * `cluster.<name>.ssl.*` counted. Runs with whatever engine the process picks for the plaintext
 * listener in front (native engine or JS): TLS clusters always connect with node:tls.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { after, before, test } from 'node:test';
import { indent, request, stat, startLegate, type LegateProcess } from '../integration/harness';
import { certPath, chainYaml, listenerYaml, pem } from './fixtures';

interface TlsOrigin {
  port: number;
  server: https.Server;
}

/** An https origin answering `<sni> <alpn> <client CN>` ('-' for each absent). */
async function startHttpsOrigin(options: https.ServerOptions): Promise<TlsOrigin> {
  const server = https.createServer(
    { cert: pem('server-rsa.crt'), key: pem('server-rsa.key'), ...options },
    (req, res) => {
      const socket = req.socket as tls.TLSSocket;
      const cn = socket.getPeerCertificate()?.subject?.CN;
      const sni = (socket as unknown as { servername?: string | false }).servername;
      res.end(`${sni || '-'} ${socket.alpnProtocol || '-'} ${typeof cn === 'string' ? cn : '-'}`);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, server };
}

/** SHA-256 of a fixture certificate's SubjectPublicKeyInfo, base64 (verify_certificate_spki). */
function spkiOf(name: string): string {
  const spki = new X509Certificate(pem(`${name}.crt`)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

let plainOrigin: TlsOrigin;
let mtlsOrigin: TlsOrigin;
let notTls: net.Server;
let lp: LegateProcess;
let port: number;
let logFile: string;

const CLUSTERS: Record<string, { origin: () => number; tls: string; cluster?: string }> = {
  none: { origin: () => plainOrigin.port, tls: '' },
  verified: {
    origin: () => plainOrigin.port,
    tls: `sni: a.example
common_tls_context:
  alpn_protocols: [http/1.1]
  validation_context:
    trusted_ca: { filename: ${certPath('ca.crt')} }
    match_typed_subject_alt_names: [{ san_type: DNS, matcher: { exact: a.example } }]`,
  },
  untrusted: {
    origin: () => plainOrigin.port,
    tls: `common_tls_context: { validation_context: { trusted_ca: { filename: ${certPath('other-ca.crt')} } } }`,
  },
  wrongsan: {
    origin: () => plainOrigin.port,
    tls: `common_tls_context:
  validation_context:
    trusted_ca: { filename: ${certPath('ca.crt')} }
    match_typed_subject_alt_names: [{ san_type: DNS, matcher: { exact: b.example } }]`,
  },
  client: {
    origin: () => mtlsOrigin.port,
    tls: `common_tls_context:
  tls_certificates:
  - certificate_chain: { filename: ${certPath('client.crt')} }
    private_key: { filename: ${certPath('client.key')} }`,
  },
  noclient: { origin: () => mtlsOrigin.port, tls: '' },
  pinned: {
    origin: () => plainOrigin.port,
    tls: `common_tls_context: { validation_context: { verify_certificate_spki: ["${spkiOf('server-rsa')}"] } }`,
  },
  wrongpin: {
    origin: () => plainOrigin.port,
    tls: `common_tls_context: { validation_context: { verify_certificate_spki: ["${spkiOf('server-b')}"] } }`,
  },
  nottls: { origin: () => (notTls.address() as net.AddressInfo).port, tls: '' },
  autosni: {
    origin: () => plainOrigin.port,
    tls: `sni: fallback.example
common_tls_context: { validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} } } }`,
    cluster: `typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    upstream_http_protocol_options: { auto_sni: true, auto_san_validation: true, override_auto_sni_header: X-SNI }`,
  },
};

function yaml(): string {
  const routes = Object.keys(CLUSTERS)
    .map((c) => `- match: { prefix: /${c} }\n  route: { cluster: ${c} }`)
    .join('\n');
  const clusters = Object.entries(CLUSTERS)
    .map(
      ([name, c]) => `- name: ${name}
  connect_timeout: 2s
${indent(c.cluster ?? '', 2)}
  load_assignment:
    cluster_name: ${name}
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${c.origin()} } } } }] }]
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
${indent(c.tls, 6)}`,
    )
    .join('\n');
  const accessLog = `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${logFile}
    log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\\n" } }`;
  return listenerYaml({
    chains: [chainYaml({ cluster: '', routes, hcmExtra: accessLog })],
    clusters: [clusters],
  });
}

before(async () => {
  plainOrigin = await startHttpsOrigin({});
  mtlsOrigin = await startHttpsOrigin({ requestCert: true, rejectUnauthorized: true, ca: pem('ca.crt') });
  notTls = net.createServer((s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
  await new Promise<void>((resolve) => notTls.listen(0, '127.0.0.1', resolve));
  logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-up-tls-')), 'access.log');
  lp = await startLegate(yaml(), { concurrency: 1 });
  port = lp.ports.get('proxy')!;
});

after(async () => {
  await lp.stop();
  plainOrigin.server.close();
  mtlsOrigin.server.close();
  notTls.close();
});

test('upstream TLS without verification, with SNI + trusted_ca + SAN + ALPN, with a client certificate', async () => {
  const none = await request(port, { path: '/none' });
  assert.equal(none.status, 200);
  assert.equal(none.body.toString(), '- - -');
  const verified = await request(port, { path: '/verified' });
  assert.equal(verified.status, 200);
  assert.equal(verified.body.toString(), 'a.example http/1.1 -');
  assert.equal((await request(port, { path: '/pinned' })).status, 200);
  const client = await request(port, { path: '/client' });
  assert.equal(client.status, 200);
  assert.equal(client.body.toString(), '- - client');
  assert.equal(await stat(lp, 'cluster.verified.ssl.handshake'), 1);
  // Envoy's client default is TLS 1.2 only.
  assert.equal(await stat(lp, 'cluster.verified.ssl.versions.TLSv1.2'), 1);
});

test("auto_sni: each request's Host is the server name (a connection per name); auto_san_validation checks it", async () => {
  const get = (host: string) => request(port, { path: '/autosni', headers: { host } });
  const named = await get('a.example');
  assert.equal(named.status, 200);
  assert.equal(named.body.toString(), 'a.example - -');
  const withPort = await get('x.wild.example:8443');
  assert.equal(withPort.body.toString(), 'x.wild.example - -', 'the port is not part of the name');
  // An IP literal is no server name: the cluster's own `sni` (not checked against the certificate).
  const ip = await get('127.0.0.1');
  assert.equal(ip.status, 200);
  assert.equal(ip.body.toString(), 'fallback.example - -');
  const uncovered = await get('b.example');
  assert.equal(uncovered.status, 503);
  assert.match(
    uncovered.body.toString(),
    /CERTIFICATE_VERIFY_FAILED \(no subject alt name matches the request's host b\.example\)/,
  );
  assert.equal(await stat(lp, 'cluster.autosni.ssl.fail_verify_san'), 1);
  assert.equal((await get('a.example')).body.toString(), 'a.example - -', 'its pool is reused');
  assert.equal(await stat(lp, 'cluster.autosni.ssl.handshake'), 3, 'one connection per name');
  // override_auto_sni_header: its value names the server when the request has it (not empty).
  const overridden = await request(port, {
    path: '/autosni',
    headers: { host: 'b.example', 'x-sni': 'a.example' },
  });
  assert.equal(overridden.status, 200);
  assert.equal(overridden.body.toString(), 'a.example - -');
  const empty = await request(port, { path: '/autosni', headers: { host: 'a.example', 'x-sni': '' } });
  assert.equal(empty.body.toString(), 'a.example - -', 'an empty override: the Host');
  assert.equal(
    await stat(lp, 'cluster.autosni.ssl.handshake'),
    3,
    "the override's name shares the pool of that name",
  );
});

test('each upstream TLS failure is a 503 naming the TLS error, UF, counted', async () => {
  const cases: [string, RegExp, string][] = [
    [
      '/untrusted',
      /CERTIFICATE_VERIFY_FAILED \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
      'cluster.untrusted.ssl.fail_verify_error',
    ],
    [
      '/wrongsan',
      /CERTIFICATE_VERIFY_FAILED \(no subject alt name matches/,
      'cluster.wrongsan.ssl.fail_verify_san',
    ],
    [
      '/wrongpin',
      /CERTIFICATE_VERIFY_FAILED \(the certificate matches no verify_certificate_hash/,
      'cluster.wrongpin.ssl.fail_verify_cert_hash',
    ],
    ['/noclient', /TLS_error:\|.+:TLS_error_end/, 'cluster.noclient.ssl.connection_error'],
    ['/nottls', /TLS_error:\|.+:TLS_error_end/, 'cluster.nottls.ssl.connection_error'],
  ];
  for (const [p, reason, counter] of cases) {
    const r = await request(port, { path: p });
    assert.equal(r.status, 503, p);
    const body = r.body.toString();
    assert.match(
      body,
      /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure, transport failure reason: TLS_error:\|/,
      p,
    );
    assert.match(body, reason, p);
    assert.equal(await stat(lp, counter), 1, counter);
  }
  await lp.stop();
  const log = fs.readFileSync(logFile, 'utf8');
  for (const [p] of cases) assert.match(log, new RegExp(`^${p} 503 UF$`, 'm'));
  assert.match(log, /^\/verified 200 -$/m);
});
