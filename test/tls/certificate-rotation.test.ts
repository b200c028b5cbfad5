/**
 * Certificates that change on disk, on 2 workers: a `filename` certificate swapped file by file
 * (a moment where key and certificate do not match included) while clients keep opening TLS
 * connections: no request fails, new handshakes get the new certificate within a second, and a
 * connection opened before the swap keeps working. SDS from a file with a watched_directory: a new
 * secret file moved into place is served the same way. Config errors of SDS secret configs.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { test } from 'node:test';
import { startLegate } from '../integration/harness';
import { errorAt, issuesOf, load } from '../config/helpers';
import { certPath, chainYaml, listenerYaml, pem, staticCluster } from './fixtures';

const ROUTE = `- match: { prefix: / }
  direct_response: { status: 200, body: { inline_string: "ok" } }`;

function listener(transportSocket: string): string {
  return listenerYaml({
    chains: [chainYaml({ cluster: 'c', routes: ROUTE, tls: transportSocket })],
    clusters: [staticCluster('c', 1)],
  });
}

function tlsContext(commonFields: string): string {
  return `transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
    common_tls_context:
${commonFields
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}`;
}

/** Replaces `file` by a rename, as deployment tools do (readers never see half a file). */
function replace(file: string, content: string): void {
  fs.writeFileSync(`${file}.tmp`, content);
  fs.renameSync(`${file}.tmp`, file);
}

interface Served {
  cn: string;
  keyType: string;
  status: string;
}

/** The certificate changes name during these tests: trust the test CA, check no host name. */
function connectTrustingCa(port: number): tls.TLSSocket {
  return tls.connect({
    host: '127.0.0.1',
    port,
    servername: 'a.example',
    ca: pem('ca.crt'),
    checkServerIdentity: () => undefined,
  });
}

/** A new TLS connection with one request: which certificate served it, and the status line. */
function fetchOnce(port: number): Promise<Served> {
  return new Promise((resolve, reject) => {
    const socket = connectTrustingCa(port);
    let out = '';
    let served: Omit<Served, 'status'> = { cn: '', keyType: '' };
    const timer = setTimeout(() => socket.destroy(new Error('no answer in 5 s')), 5000);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      served = {
        cn: /CN=([^\n]+)/.exec(cert?.subject ?? '')?.[1] ?? '',
        keyType: cert?.publicKey.asymmetricKeyType === 'ec' ? 'EC' : 'RSA',
      };
      socket.write('GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
    });
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...served, status: out.split('\r\n')[0] ?? '' });
    });
  });
}

/**
 * Runs `clients` loops of new connections until `until` resolves, then 2 s more; returns every
 * result in order with its time (ms after the start).
 */
async function underLoad(
  port: number,
  clients: number,
  swap: () => Promise<number>,
): Promise<{ results: (Served & { at: number })[]; swappedAt: number }> {
  const start = performance.now();
  const results: (Served & { at: number })[] = [];
  let stop = false;
  const loops = Array.from({ length: clients }, async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const r = await fetchOnce(port);
      results.push({ ...r, at: performance.now() - start });
    }
  });
  const swappedAt = (await swap()) - start;
  await new Promise((r) => setTimeout(r, 2000));
  stop = true;
  await Promise.all(loops);
  return { results, swappedAt };
}

/** A keep-alive TLS connection: `ask()` sends one request on it and resolves with the status line. */
async function keepAlive(port: number): Promise<{ ask(): Promise<string>; cn: string; close(): void }> {
  const socket = connectTrustingCa(port);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const cn = /CN=([^\n]+)/.exec(socket.getPeerX509Certificate()?.subject ?? '')?.[1] ?? '';
  return {
    cn,
    ask: () =>
      new Promise((resolve) => {
        socket.once('data', (c: Buffer) => resolve(c.toString('latin1').split('\r\n')[0]!));
        socket.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
      }),
    close: () => socket.destroy(),
  };
}

test('a filename certificate swapped under load: no request lost, new handshakes switch within a second, old connections stay', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-rotate-'));
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  fs.writeFileSync(cert, pem('server-rsa.crt'));
  fs.writeFileSync(key, pem('server-rsa.key'));
  const lp = await startLegate(
    listener(
      tlsContext(
        `tls_certificates:\n- certificate_chain: { filename: ${cert} }\n  private_key: { filename: ${key} }`,
      ),
    ),
    { concurrency: 2 },
  );
  try {
    const port = lp.ports.get('proxy')!;
    const before = await keepAlive(port);
    assert.equal(before.cn, 'a.example');
    const { results, swappedAt } = await underLoad(port, 4, async () => {
      await new Promise((r) => setTimeout(r, 500));
      // One file at a time, with a pause between: for a while the key does not match the certificate.
      replace(cert, pem('server-b.crt'));
      await new Promise((r) => setTimeout(r, 300));
      replace(key, pem('server-b.key'));
      return performance.now();
    });
    assert.ok(results.length > 20, `only ${results.length} requests under load`);
    assert.deepEqual(
      results.filter((r) => r.status !== 'HTTP/1.1 200 OK'),
      [],
      'every request under load succeeded',
    );
    const late = results.filter((r) => r.at > swappedAt + 1000);
    assert.ok(late.length > 0);
    assert.deepEqual(
      [...new Set(late.map((r) => r.cn))],
      ['b.example'],
      'a second after the swap, the new certificate',
    );
    assert.ok(
      results.some((r) => r.cn === 'a.example'),
      'the old certificate before the swap',
    );
    assert.equal(await before.ask(), 'HTTP/1.1 200 OK', 'the connection made before the swap still works');
    before.close();
  } finally {
    await lp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function sdsFile(name: string, certName: string): string {
  return JSON.stringify({
    resources: [
      {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
        name,
        tls_certificate: {
          certificate_chain: { filename: certPath(`${certName}.crt`) },
          private_key: { filename: certPath(`${certName}.key`) },
        },
      },
    ],
  });
}

test('SDS from a file with watched_directory: a new secret file moved into place is served', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-sds-'));
  const secrets = path.join(dir, 'secrets.json');
  fs.writeFileSync(secrets, sdsFile('server', 'server-rsa'));
  const lp = await startLegate(
    listener(
      tlsContext(`tls_certificate_sds_secret_configs:
- name: server
  sds_config:
    path_config_source: { path: ${secrets}, watched_directory: { path: ${dir} } }
    resource_api_version: V3`),
    ),
    { concurrency: 2 },
  );
  try {
    const port = lp.ports.get('proxy')!;
    const { results, swappedAt } = await underLoad(port, 2, async () => {
      await new Promise((r) => setTimeout(r, 300));
      replace(secrets, sdsFile('server', 'server-ec'));
      return performance.now();
    });
    assert.deepEqual(
      results.filter((r) => r.status !== 'HTTP/1.1 200 OK'),
      [],
    );
    assert.equal(results[0]!.keyType, 'RSA');
    const late = results.filter((r) => r.at > swappedAt + 1000);
    assert.ok(late.length > 0);
    assert.deepEqual([...new Set(late.map((r) => r.keyType))], ['EC']);
  } finally {
    await lp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('SDS secret configs: loaded from the file, and located errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-sds-config-'));
  const secrets = path.join(dir, 'secrets.yaml');
  fs.writeFileSync(secrets, sdsFile('server', 'server-rsa'));
  const ca = path.join(dir, 'ca.yaml');
  fs.writeFileSync(
    ca,
    `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: clients
  validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} } }`,
  );
  const sds = (name: string, file = secrets, extra = ''): string =>
    `- name: ${name}\n  sds_config: { path_config_source: { path: ${file} }${extra} }`;
  const ok = load(
    listener(
      tlsContext(
        `tls_certificate_sds_secret_configs:\n${sds('server')}\nvalidation_context_sds_secret_config:\n  name: clients\n  sds_config: { path: ${ca} }`,
      ),
    ),
  );
  const common = (
    ok.bootstrap.listeners[0]!.filterChains[0]!.transportSocket!.config as {
      common: {
        certificates: { keyType: string }[];
        validation: { trustedCa: string };
        watchedPaths: string[];
      };
    }
  ).common;
  assert.equal(common.certificates[0]!.keyType, 'rsa');
  assert.equal(common.validation.trustedCa, pem('ca.crt'));
  assert.deepEqual(
    common.watchedPaths.sort(),
    [secrets, certPath('server-rsa.crt'), certPath('server-rsa.key'), ca, certPath('ca.crt')].sort(),
  );

  const at =
    'static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config';
  const cases: [string, string, RegExp][] = [
    [sds('nobody'), `${at}.path_config_source`, /has no secret named 'nobody'/],
    [
      sds('server', path.join(dir, 'missing.yaml')),
      `${at}.path_config_source`,
      /cannot read the secret file .*ENOENT/,
    ],
    ['- name: server\n  sds_config: { ads: {} }', `${at}.ads`, /not supported.*files only/],
  ];
  for (const [entry, where, message] of cases) {
    const issue = errorAt(
      issuesOf(listener(tlsContext(`tls_certificate_sds_secret_configs:\n${entry}`))),
      where,
    );
    assert.match(issue.message, message, entry);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
