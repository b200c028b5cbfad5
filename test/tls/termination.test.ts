/**
 * TLS termination on a listener (DownstreamTlsContext) with node:tls clients: certificates by key
 * type, versions × cipher suites, ALPN, client certificates (required / optional / SAN-matched),
 * DataSource forms, tcp_proxy behind TLS, and bad handshakes — each closed, counted, nothing hangs.
 * A listener with one HCM chain runs on the native engine's TLS when the engine runs (the default
 * pass), on Node's TLS under LEGATE_ENGINE=js and LEGATE_NATIVE=0, or when it asks for what the
 * engine's TLS does not do (client certificates, several chains): the same tests hold on each.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  admin,
  startOrigin,
  stat,
  startLegate,
  type LegateProcess,
  type Origin,
} from '../integration/harness';
import { startEcho, type Upstream } from '../l4/fixtures';
import { requireTool } from '../support/system-tools';
import { NativeEngine } from '../../src/engine/native-engine';
import {
  certPath,
  chainYaml,
  GET,
  listenerYaml,
  pem,
  rawTcp,
  staticCluster,
  TLS_INSPECTOR,
  tlsClient,
  tlsSocketYaml,
} from './fixtures';

/** Where a TLS listener of one HCM chain runs in this pass. */
const EXPECTED_PATH =
  NativeEngine.unavailableReason() === null && NativeEngine.tlsUnavailableReason() === null ? 'native' : 'js';

let origin: Origin;
let echo: Upstream;
before(async () => {
  origin = await startOrigin();
  echo = await startEcho();
});
after(async () => {
  await origin.close();
  await echo.close();
});

async function withTlsListener(
  tlsYaml: string,
  body: (port: number, lp: LegateProcess) => Promise<void>,
  kind: 'http' | 'tcp' = 'http',
  chainExtra?: string,
): Promise<void> {
  const yaml = listenerYaml({
    chains: [
      chainYaml({ cluster: kind === 'http' ? 'origin' : 'echo', kind, tls: tlsYaml, extra: chainExtra }),
    ],
    clusters: [staticCluster('origin', origin.port), staticCluster('echo', echo.port)],
  });
  const lp = await startLegate(yaml, { concurrency: 1 });
  try {
    await body(lp.ports.get('proxy')!, lp);
  } finally {
    await lp.stop();
  }
}

const ssl = (name: string): string => `listener.127.0.0.1_0.ssl.${name}`;

test('HTTPS through the HCM: RSA and ECDSA certificates, each served to the client that wants it', async () => {
  await withTlsListener(tlsSocketYaml({ certs: ['server-rsa', 'server-ec'] }), async (port, lp) => {
    const shapes: [string, Parameters<typeof tlsClient>[1], string][] = [
      ['TLS 1.3 default', {}, 'EC'],
      ['TLS 1.2 ECDSA suite', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }, 'EC'],
      ['TLS 1.2 RSA suite', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }, 'RSA'],
      ['TLS 1.3 RSA signatures only', { sigalgs: 'rsa_pss_rsae_sha256' }, 'RSA'],
    ];
    for (const [name, options, keyType] of shapes) {
      const r = await tlsClient(port, { ...options, request: GET('/x') });
      assert.equal(r.error, '', name);
      assert.equal(r.serverKeyType, keyType, name);
      assert.match(r.response, /^HTTP\/1\.1 200 /, name);
      assert.match(r.response, /origin \d+ GET \/x/, name);
    }
    assert.equal(await stat(lp, ssl('handshake')), 4);
    assert.equal(await stat(lp, ssl('versions.TLSv1.3')), 2);
    assert.equal(await stat(lp, ssl('versions.TLSv1.2')), 2);
    assert.equal(await stat(lp, ssl('ciphers.ECDHE-RSA-AES256-GCM-SHA384')), 1);
    // The native engine terminates this TLS when it runs (LEGATE_ENGINE=js and LEGATE_NATIVE=0: Node's TLS).
    const info = JSON.parse((await admin(lp, '/server_info')).body.toString()) as {
      legate: { listener_data_paths: Record<string, string> };
    };
    assert.equal(info.legate.listener_data_paths.proxy, EXPECTED_PATH);
  });
});

test('tls_params: versions × cipher suites refused outside the configured ones, and counted', async () => {
  const params = `tls_params:
  tls_minimum_protocol_version: TLSv1_2
  tls_maximum_protocol_version: TLSv1_2
  cipher_suites: [ECDHE-RSA-AES256-GCM-SHA384]
  ecdh_curves: [P-256]`;
  await withTlsListener(tlsSocketYaml({ common: params }), async (port, lp) => {
    const cases: [string, Parameters<typeof tlsClient>[1], boolean][] = [
      ['1.2 with the suite', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }, true],
      ['1.2 with another suite', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }, false],
      ['1.3 only', { minVersion: 'TLSv1.3' }, false],
      ['1.1 only', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'ALL@SECLEVEL=0' }, false],
      ['1.2 with X25519 only', { maxVersion: 'TLSv1.2', ecdhCurve: 'X25519' }, false],
      ['default client (negotiates 1.2)', {}, true],
    ];
    for (const [name, options, ok] of cases) {
      const r = await tlsClient(port, { ...options, request: GET() });
      assert.equal(r.ok, ok, `${name}: ${r.error}`);
      if (ok) {
        assert.equal(r.protocol, 'TLSv1.2', name);
        assert.equal(r.cipher, 'ECDHE-RSA-AES256-GCM-SHA384', name);
        assert.match(r.response, /^HTTP\/1\.1 200 /, name);
      }
    }
    assert.equal(await stat(lp, ssl('handshake')), 2);
    assert.equal(await stat(lp, ssl('connection_error')), 4);
    assert.equal(await stat(lp, ssl('ciphers.ECDHE-RSA-AES256-GCM-SHA384')), 2);
    // Only what the config allows is declared.
    const all = (await admin(lp, '/stats?filter=ssl.versions')).body.toString();
    assert.doesNotMatch(all, /TLSv1\.3/);
  });
});

test('alpn_protocols: the server picks from its list; a client offering none of it is refused', async () => {
  await withTlsListener(tlsSocketYaml({ common: 'alpn_protocols: [http/1.1]' }), async (port) => {
    const r = await tlsClient(port, { ALPNProtocols: ['h2', 'http/1.1'], request: GET() });
    assert.equal(r.alpn, 'http/1.1');
    assert.match(r.response, /^HTTP\/1\.1 200 /);
    const none = await tlsClient(port, { ALPNProtocols: ['h2'] });
    assert.equal(none.ok, false);
    const absent = await tlsClient(port, { request: GET() });
    assert.equal(absent.alpn, '');
    assert.match(absent.response, /^HTTP\/1\.1 200 /);
  });
});

const CLIENT = { cert: pem('client.crt'), key: pem('client.key') };
const UNTRUSTED = { cert: pem('client-untrusted.crt'), key: pem('client-untrusted.key') };
const OTHER_SAN = { cert: pem('client-other-san.crt'), key: pem('client-other-san.key') };
const validation = (extra = ''): string => `validation_context:
  trusted_ca: { filename: ${certPath('ca.crt')} }
${extra}`;

test('mTLS required: a good client is served; absent, untrusted and wrong-SAN certificates are refused and counted', async () => {
  const sans = `  match_typed_subject_alt_names:
  - san_type: URI
    matcher: { exact: "spiffe://legate/client" }`;
  const yaml = tlsSocketYaml({
    common: validation(sans),
    context: 'require_client_certificate: true',
  });
  await withTlsListener(yaml, async (port, lp) => {
    const good = await tlsClient(port, { ...CLIENT, request: GET() });
    assert.match(good.response, /^HTTP\/1\.1 200 /);
    for (const [name, creds] of [
      ['absent', {}],
      ['untrusted', UNTRUSTED],
      ['other SAN', OTHER_SAN],
    ] as const) {
      const r = await tlsClient(port, { ...creds, request: GET() });
      assert.equal(r.response, '', `${name}: nothing is served`);
    }
    assert.equal(await stat(lp, ssl('handshake')), 1);
    assert.equal(await stat(lp, ssl('fail_verify_no_cert')), 1);
    assert.equal(await stat(lp, ssl('fail_verify_error')), 1);
    assert.equal(await stat(lp, ssl('fail_verify_san')), 1);
  });
});

test('mTLS optional (trusted_ca without require_client_certificate): absent is served and counted, untrusted refused', async () => {
  await withTlsListener(tlsSocketYaml({ common: validation() }), async (port, lp) => {
    assert.match((await tlsClient(port, { request: GET() })).response, /^HTTP\/1\.1 200 /);
    assert.match((await tlsClient(port, { ...CLIENT, request: GET() })).response, /^HTTP\/1\.1 200 /);
    assert.equal((await tlsClient(port, { ...UNTRUSTED, request: GET() })).response, '');
    assert.equal(await stat(lp, ssl('no_certificate')), 1);
    assert.equal(await stat(lp, ssl('fail_verify_error')), 1);
  });
});

test('certificates from inline_string and inline_bytes serve as files do', async () => {
  const inline = `transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
    common_tls_context:
      tls_certificates:
      - certificate_chain: { inline_string: ${JSON.stringify(pem('server-rsa.crt'))} }
        private_key: { inline_bytes: ${Buffer.from(pem('server-rsa.key')).toString('base64')} }`;
  await withTlsListener(inline, async (port) => {
    const r = await tlsClient(port, { request: GET() });
    assert.equal(r.serverCn, 'a.example');
    assert.match(r.response, /^HTTP\/1\.1 200 /);
  });
});

test('tcp_proxy behind TLS termination relays the decrypted bytes (JS relay)', async () => {
  await withTlsListener(
    tlsSocketYaml({}),
    async (port, lp) => {
      const r = await tlsClient(port, { request: 'hello through tls\n' });
      assert.equal(r.response, 'hello through tls\n');
      assert.match(lp.output(), /tcp_proxy 'l4' relays with JS streams/);
    },
    'tcp',
  );
});

test('bad handshakes are closed and counted: plaintext, garbage, a truncated ClientHello that stalls', async () => {
  await withTlsListener(
    tlsSocketYaml({}),
    async (port, lp) => {
      const plain = await rawTcp(port, 'GET / HTTP/1.1\r\nhost: a\r\n\r\n');
      assert.notEqual(plain.closed, 'timeout');
      assert.doesNotMatch(plain.received.toString('latin1'), /HTTP\/1\.1/);
      const garbage = await rawTcp(port, Buffer.alloc(300, 0x41));
      assert.notEqual(garbage.closed, 'timeout');
      // A ClientHello record header promising 512 bytes, then silence: the handshake timeout ends it.
      const started = Date.now();
      const stalled = await rawTcp(port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), 5000);
      assert.notEqual(stalled.closed, 'timeout');
      assert.ok(Date.now() - started >= 250, 'closed by the handshake timeout, not at once');
      assert.equal(await stat(lp, ssl('connection_error')), 3);
      assert.equal(await stat(lp, 'listener.127.0.0.1_0.downstream_cx_transport_socket_connect_timeout'), 1);
      // The worker is unaffected.
      assert.match((await tlsClient(port, { request: GET() })).response, /^HTTP\/1\.1 200 /);
    },
    'http',
    'transport_socket_connect_timeout: 0.3s',
  );
});

test('every accept path: SO_REUSEPORT workers and exact_balance hand-off serve TLS (2 workers)', async () => {
  for (const listenerExtra of ['', 'connection_balance_config: { exact_balance: {} }']) {
    const yaml = listenerYaml({
      chains: [chainYaml({ cluster: 'origin', tls: tlsSocketYaml({}) })],
      clusters: [staticCluster('origin', origin.port)],
      listenerExtra,
    });
    const lp = await startLegate(yaml, { concurrency: 2 });
    try {
      const port = lp.ports.get('proxy')!;
      const results = await Promise.all(Array.from({ length: 8 }, () => tlsClient(port, { request: GET() })));
      for (const r of results) assert.match(r.response, /^HTTP\/1\.1 200 /, listenerExtra || 'reuseport');
      assert.equal(await stat(lp, ssl('handshake')), 8);
    } finally {
      await lp.stop();
    }
  }
});

/** SHA-256 of a fixture certificate's DER (hex) and of its SubjectPublicKeyInfo (base64). */
function fingerprints(name: string): { hash: string; spki: string } {
  const cert = new X509Certificate(pem(`${name}.crt`));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return {
    hash: createHash('sha256').update(cert.raw).digest('hex'),
    spki: createHash('sha256').update(spki).digest('base64'),
  };
}

test('verify_certificate_hash and verify_certificate_spki pin client certificates, with and without trusted_ca', async () => {
  // Envoy's colon-separated upper-case form is accepted as well.
  const hash = fingerprints('client').hash.toUpperCase().match(/../g)!.join(':');
  await withTlsListener(
    tlsSocketYaml({ common: validation(`  verify_certificate_hash: ["${hash}"]`) }),
    async (port, lp) => {
      assert.match((await tlsClient(port, { ...CLIENT, request: GET() })).response, /^HTTP\/1\.1 200 /);
      assert.equal((await tlsClient(port, { ...OTHER_SAN, request: GET() })).response, '');
      assert.equal((await tlsClient(port, { ...UNTRUSTED, request: GET() })).response, '');
      assert.equal(await stat(lp, ssl('fail_verify_cert_hash')), 1);
      assert.equal(await stat(lp, ssl('fail_verify_error')), 1);
    },
  );
  // Pinning alone: a certificate no CA vouches for is served when its key is pinned.
  const pinned = `validation_context:
  verify_certificate_spki: ["${fingerprints('client-untrusted').spki}"]`;
  await withTlsListener(tlsSocketYaml({ common: pinned }), async (port, lp) => {
    assert.match((await tlsClient(port, { ...UNTRUSTED, request: GET() })).response, /^HTTP\/1\.1 200 /);
    assert.equal((await tlsClient(port, { ...CLIENT, request: GET() })).response, '');
    assert.equal(await stat(lp, ssl('fail_verify_cert_hash')), 1);
  });
});

test('crl: a revoked client certificate is refused, others served', async (t) => {
  const openssl = requireTool(t, 'openssl');
  if (openssl === null) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-crl-'));
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'crlnumber'), '1000\n');
  fs.writeFileSync(
    path.join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca = test\n[test]\ndatabase = ${dir}/index.txt\ncrlnumber = ${dir}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n`,
  );
  const ca = [
    '-config',
    path.join(dir, 'ca.cnf'),
    '-keyfile',
    certPath('ca.key'),
    '-cert',
    certPath('ca.crt'),
  ];
  execFileSync(openssl, ['ca', ...ca, '-revoke', certPath('client-other-san.crt')], { stdio: 'ignore' });
  execFileSync(openssl, ['ca', ...ca, '-gencrl', '-out', path.join(dir, 'crl.pem')], { stdio: 'ignore' });
  try {
    await withTlsListener(
      tlsSocketYaml({ common: validation(`  crl: { filename: ${path.join(dir, 'crl.pem')} }`) }),
      async (port, lp) => {
        assert.match((await tlsClient(port, { ...CLIENT, request: GET() })).response, /^HTTP\/1\.1 200 /);
        assert.equal((await tlsClient(port, { ...OTHER_SAN, request: GET() })).response, '');
        assert.equal(await stat(lp, ssl('fail_verify_error')), 1);
      },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('several certificates of one key type: chosen by SNI (exact, one-label wildcard, else the default), then by key type', async () => {
  // Default for names no certificate serves: the first of each type (server-b for RSA, server-ec).
  const tlsYaml = tlsSocketYaml({ certs: ['server-b', 'server-rsa', 'server-ec'] });
  // The transport reads the SNI itself, or has it from tls_inspector.
  const withInspector = async (body: (port: number) => Promise<void>): Promise<void> => {
    const lp = await startLegate(
      listenerYaml({
        listenerExtra: TLS_INSPECTOR,
        chains: [chainYaml({ cluster: 'origin', tls: tlsYaml })],
        clusters: [staticCluster('origin', origin.port)],
      }),
      { concurrency: 1 },
    );
    try {
      await body(lp.ports.get('proxy')!);
    } finally {
      await lp.stop();
    }
  };
  for (const run of [
    (body: (port: number) => Promise<void>) => withTlsListener(tlsYaml, body),
    withInspector,
  ])
    await run(async (port) => {
      const rsaOnly = { sigalgs: 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256' };
      const shapes: [string | undefined, object, string, string][] = [
        ['b.example', {}, 'b.example', 'RSA'],
        ['a.example', {}, 'a.example', 'EC'],
        ['a.example', rsaOnly, 'a.example', 'RSA'],
        ['A.Example', rsaOnly, 'a.example', 'RSA'],
        ['x.wild.example', rsaOnly, 'a.example', 'RSA'],
        ['deep.x.wild.example', rsaOnly, 'b.example', 'RSA'],
        ['unknown.example', rsaOnly, 'b.example', 'RSA'],
        ['unknown.example', {}, 'a.example', 'EC'],
        [undefined, rsaOnly, 'b.example', 'RSA'],
      ];
      for (const [servername, options, cn, keyType] of shapes) {
        const what = `${servername ?? 'no SNI'} ${JSON.stringify(options)}`;
        const r = await tlsClient(port, {
          ...options,
          servername,
          checkServerIdentity: () => undefined,
          request: GET(),
        });
        assert.equal(r.error, '', what);
        assert.deepEqual([r.serverCn, r.serverKeyType], [cn, keyType], what);
        assert.match(r.response, /^HTTP\/1\.1 200 /, what);
      }
    });
});
