/**
 * The HTTP connection manager on TLS: x-forwarded-proto (https behind TLS, http on a plaintext
 * chain of the same listener) and the TLS access-log operators, from HCM and tcp_proxy loggers.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { request, startLegate, startOrigin } from '../integration/harness';
import { startEcho } from '../l4/fixtures';
import {
  certPath,
  chainYaml,
  GET,
  listenerYaml,
  pem,
  staticCluster,
  TLS_INSPECTOR,
  tlsClient,
  tlsSocketYaml,
} from './fixtures';

const FORMAT =
  '%REQ(:SCHEME)% %REQUESTED_SERVER_NAME% %DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_TLS_CIPHER% %DOWNSTREAM_PEER_SUBJECT%';

function fileLog(file: string, indentBy: number): string {
  return `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file}
    log_format: { text_format_source: { inline_string: "${FORMAT}\\n" } }`
    .split('\n')
    .map((l) => ' '.repeat(indentBy) + l)
    .join('\n');
}

test('x-forwarded-proto and the TLS access-log operators: TLS with a client certificate, plaintext, passthrough', async () => {
  const origin = await startOrigin();
  const echo = await startEcho();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-tls-log-'));
  const httpLog = path.join(dir, 'http.log');
  const tcpLog = path.join(dir, 'tcp.log');
  const withLog = (chain: string, log: string, prefix: string): string =>
    chain.replace(
      new RegExp(`( *)stat_prefix: ${prefix}\\n`),
      (m, pad: string) => `${m}${fileLog(log, pad.length)}\n`,
    );
  const yaml = listenerYaml({
    listenerExtra: TLS_INSPECTOR,
    chains: [
      withLog(
        chainYaml({
          cluster: 'origin',
          match: 'server_names: [a.example]',
          tls: tlsSocketYaml({
            common: `validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} } }`,
          }),
          statPrefix: 'tls',
        }),
        httpLog,
        'tls',
      ),
      withLog(
        chainYaml({ cluster: 'origin', match: 'transport_protocol: raw_buffer', statPrefix: 'plain' }),
        httpLog,
        'plain',
      ),
      withLog(
        chainYaml({
          cluster: 'echo',
          kind: 'tcp',
          match: 'server_names: [pass.example]',
          statPrefix: 'pass',
        }),
        tcpLog,
        'pass',
      ),
    ],
    clusters: [staticCluster('origin', origin.port), staticCluster('echo', echo.port)],
  });
  const lp = await startLegate(yaml, { concurrency: 1 });
  try {
    const port = lp.ports.get('proxy')!;
    const secure = await tlsClient(port, {
      cert: pem('client.crt'),
      key: pem('client.key'),
      maxVersion: 'TLSv1.2',
      request: GET('/s'),
    });
    assert.match(secure.response, /^HTTP\/1\.1 200 /);
    assert.equal((await request(port, { path: '/p' })).status, 200);
    // A ClientHello the echo upstream returns: the client sees its own bytes, the handshake fails; SNI is logged.
    await tlsClient(port, { servername: 'pass.example', timeoutMs: 1000 });
    const proto = Object.fromEntries(origin.requests.map((r) => [r.url, r.headers['x-forwarded-proto']]));
    assert.deepEqual(proto, { '/s': 'https', '/p': 'http' });
  } finally {
    await lp.stop();
    await origin.close();
    await echo.close();
  }
  const lines = fs.readFileSync(httpLog, 'utf8').trim().split('\n').sort();
  assert.deepEqual(lines, [
    'http - - - -',
    'https a.example TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 CN=client,O=Legate test',
  ]);
  assert.equal(fs.readFileSync(tcpLog, 'utf8').trim(), '- pass.example - - -');
  fs.rmSync(dir, { recursive: true });
});
