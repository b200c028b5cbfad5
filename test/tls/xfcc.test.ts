/**
 * x-forwarded-client-cert: forward_client_cert_details × (mTLS client, TLS without a client
 * certificate, plaintext) with a header the client sent, checked at the origin; and the element's
 * fields (By, Hash, Cert, Chain, Subject, URI, DNS) in Envoy's order and escaping.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import type { ClientCertDetailsConfig, HttpConnectionManagerConfig } from '../../src/config/bootstrap';
import { HeaderMap } from '../../src/http/header-map';
import { mutateClientCertHeader } from '../../src/filters/network/http-connection-manager/request-headers';
import type { ClientCertificate, TlsConnectionInfo } from '../../src/transport/api';
import { request, startLegate, startOrigin } from '../integration/harness';
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

const MODES = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'] as const;
const SENT = 'By=spoofed;Hash=00';

test('forward_client_cert_details × mTLS / TLS without a certificate / plaintext, end to end', async () => {
  const origin = await startOrigin();
  const details = 'set_current_client_cert_details: { subject: true, uri: true, dns: true }';
  const validation = `validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} } }`;
  const chains = MODES.map((mode) =>
    chainYaml({
      cluster: 'origin',
      match: `server_names: [${mode.toLowerCase().replace(/_/g, '-')}.example]`,
      tls: tlsSocketYaml({ common: validation }),
      hcmExtra: `forward_client_cert_details: ${mode}\n${details}`,
      statPrefix: mode.toLowerCase(),
    }),
  );
  chains.push(chainYaml({ cluster: 'origin', match: 'transport_protocol: raw_buffer', statPrefix: 'plain' }));
  const lp = await startLegate(
    listenerYaml({ listenerExtra: TLS_INSPECTOR, chains, clusters: [staticCluster('origin', origin.port)] }),
    { concurrency: 1 },
  );
  try {
    const port = lp.ports.get('proxy')!;
    const hash = createHash('sha256')
      .update(new X509Certificate(pem('client.crt')).raw)
      .digest('hex');
    const element = `Hash=${hash};Subject="CN=client,O=Legate test";URI=spiffe://legate/client;DNS=client.example`;
    const expected: Record<(typeof MODES)[number], [string | undefined, string | undefined]> = {
      SANITIZE: [undefined, undefined],
      FORWARD_ONLY: [SENT, undefined],
      APPEND_FORWARD: [`${SENT},${element}`, undefined],
      SANITIZE_SET: [element, undefined],
      ALWAYS_FORWARD_ONLY: [SENT, SENT],
    };
    for (const mode of MODES) {
      const servername = `${mode.toLowerCase().replace(/_/g, '-')}.example`;
      for (const [i, creds] of [{ cert: pem('client.crt'), key: pem('client.key') }, {}].entries()) {
        const p = `/${mode}/${i}`;
        const r = await tlsClient(port, {
          ...creds,
          servername,
          checkServerIdentity: () => undefined,
          request: GET(p).replace('\r\n\r\n', `\r\nx-forwarded-client-cert: ${SENT}\r\n\r\n`),
        });
        assert.match(r.response, /^HTTP\/1\.1 200 /, p);
        const seen = origin.requests.find((q) => q.url === p)?.headers['x-forwarded-client-cert'];
        assert.equal(seen, expected[mode][i], p);
      }
    }
    // Plaintext, Envoy's default (SANITIZE): a client cannot make up the header.
    await request(port, { path: '/plain', headers: { 'x-forwarded-client-cert': SENT } });
    assert.equal(
      origin.requests.find((q) => q.url === '/plain')?.headers['x-forwarded-client-cert'],
      undefined,
    );
  } finally {
    await lp.stop();
    await origin.close();
  }
});

test('a plaintext listener the native engine may serve sanitizes the header too', async () => {
  const origin = await startOrigin();
  const lp = await startLegate(
    listenerYaml({
      chains: [chainYaml({ cluster: 'origin' })],
      clusters: [staticCluster('origin', origin.port)],
    }),
    { concurrency: 1 },
  );
  try {
    const port = lp.ports.get('proxy')!;
    assert.equal(
      (await request(port, { path: '/engine', headers: { 'x-forwarded-client-cert': SENT } })).status,
      200,
    );
    assert.equal(
      origin.requests.find((q) => q.url === '/engine')?.headers['x-forwarded-client-cert'],
      undefined,
    );
  } finally {
    await lp.stop();
    await origin.close();
  }
});

test('the XFCC element: By for each URI SAN of the served certificate, Hash, then the details asked for, escaped as Envoy does', () => {
  const cert: ClientCertificate = {
    hash: 'ab'.repeat(32),
    subject: 'CN=c,O=x',
    uriSans: ['spiffe://a', 'spiffe://b'],
    dnsSans: ['c.example'],
    pem: '-----BEGIN CERTIFICATE-----\nAB+/=\n-----END CERTIFICATE-----\n',
    chainPem: '-----BEGIN CERTIFICATE-----\nCD\n-----END CERTIFICATE-----\n',
    localUriSans: ['spiffe://legate'],
  };
  const all: ClientCertDetailsConfig = { subject: true, cert: true, chain: true, dns: true, uri: true };
  const headers = new HeaderMap();
  headers.add('x-forwarded-client-cert', 'Hash=11');
  headers.add('x-forwarded-client-cert', 'Hash=22');
  const config = {
    forwardClientCertDetails: 'APPEND_FORWARD',
    clientCertDetails: all,
  } as HttpConnectionManagerConfig;
  mutateClientCertHeader(headers, config, { clientCertificate: cert } as TlsConnectionInfo);
  assert.deepEqual(headers.getAll('x-forwarded-client-cert'), [
    'Hash=11,Hash=22,By=spiffe://legate;Hash=' +
      'ab'.repeat(32) +
      ';Cert="-----BEGIN%20CERTIFICATE-----%0AAB%2B%2F%3D%0A-----END%20CERTIFICATE-----%0A"' +
      ';Chain="-----BEGIN%20CERTIFICATE-----%0ACD%0A-----END%20CERTIFICATE-----%0A"' +
      ';Subject="CN=c,O=x";URI=spiffe://a;URI=spiffe://b;DNS=c.example',
  ]);
});
