/**
 * The admin's /certs in Envoy's format: a listener's certificates and trusted CA, a cluster's client
 * certificate, each with path, serial number, SANs and validity; after a certificate file is
 * replaced, the page shows the new one.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { CertificateDetails } from '../../src/admin/certs';
import { admin, startLegate } from '../integration/harness';
import { certPath, chainYaml, listenerYaml, pem, staticCluster, tlsSocketYaml } from './fixtures';

function expected(file: string, name: string): CertificateDetails {
  const cert = new X509Certificate(pem(`${name}.crt`));
  const expires = new Date(cert.validTo);
  return {
    path: file,
    serial_number: cert.serialNumber.toLowerCase(),
    subject_alt_names: (cert.subjectAltName ?? '')
      .split(', ')
      .filter(Boolean)
      .map((san) => {
        const [kind, value] = [san.slice(0, san.indexOf(':')), san.slice(san.indexOf(':') + 1)];
        return { [kind === 'IP Address' ? 'ip_address' : kind.toLowerCase()]: value };
      }),
    days_until_expiration: String(Math.floor((expires.getTime() - Date.now()) / 86_400_000)),
    valid_from: new Date(cert.validFrom).toISOString().replace('.000Z', 'Z'),
    expiration_time: expires.toISOString().replace('.000Z', 'Z'),
  };
}

test('/certs: listener and cluster certificates in Envoy format, and the file in place now', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-certs-'));
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  fs.writeFileSync(cert, pem('server-rsa.crt'));
  fs.writeFileSync(key, pem('server-rsa.key'));
  const listenerTls = `transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
    common_tls_context:
      validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} } }
      tls_certificates:
      - certificate_chain: { filename: ${cert} }
        private_key: { filename: ${key} }
      - certificate_chain: { inline_string: ${JSON.stringify(pem('server-ec.crt'))} }
        private_key: { inline_string: ${JSON.stringify(pem('server-ec.key'))} }`;
  const upstream = `${staticCluster('up', 1)}
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
      common_tls_context:
        tls_certificates:
        - certificate_chain: { filename: ${certPath('client.crt')} }
          private_key: { filename: ${certPath('client.key')} }`;
  const lp = await startLegate(
    listenerYaml({
      chains: [
        chainYaml({ cluster: 'up', tls: listenerTls }),
        chainYaml({ cluster: 'up', match: 'destination_port: 1', tls: tlsSocketYaml({}) }),
      ],
      clusters: [upstream],
    }),
    { concurrency: 1 },
  );
  try {
    const certs = async (): Promise<{
      certificates: { ca_cert: CertificateDetails[]; cert_chain: CertificateDetails[] }[];
    }> => JSON.parse((await admin(lp, '/certs')).body.toString());
    assert.deepEqual(await certs(), {
      certificates: [
        {
          ca_cert: [expected(certPath('ca.crt'), 'ca')],
          cert_chain: [expected(cert, 'server-rsa'), expected('<inline>', 'server-ec')],
        },
        { ca_cert: [], cert_chain: [expected(certPath('server-rsa.crt'), 'server-rsa')] },
        { ca_cert: [], cert_chain: [expected(certPath('client.crt'), 'client')] },
      ],
    });
    fs.writeFileSync(key, pem('server-b.key'));
    fs.writeFileSync(cert, pem('server-b.crt'));
    assert.deepEqual((await certs()).certificates[0]!.cert_chain[0], expected(cert, 'server-b'));
  } finally {
    await lp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
