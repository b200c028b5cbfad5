/**
 * Upstream TLS beyond one connection: a pool's new connections to a host resume the session the
 * previous one got (counted in cluster.<c>.ssl.session_reused and seen by the origin), and HTTP
 * health checks of a TLS cluster speak TLS with the cluster's verification (a host whose
 * certificate the cluster does not trust fails them).
 */
import assert from 'node:assert/strict';
import * as https from 'node:https';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { test } from 'node:test';
import { admin, healthChecksYaml, indent, request, startLegate, stat } from '../integration/harness';
import { certPath, chainYaml, listenerYaml, pem } from './fixtures';

interface HttpsOrigin {
  port: number;
  /** Per request: path, user agent, whether the TLS session was resumed. */
  seen: { path: string; agent: string; resumed: boolean }[];
  close(): void;
}

/** An https origin (server-rsa) that closes every connection after its response. */
async function startOrigin(): Promise<HttpsOrigin> {
  const seen: HttpsOrigin['seen'] = [];
  const server = https.createServer(
    { cert: pem('server-rsa.crt'), key: pem('server-rsa.key') },
    (req, res) => {
      seen.push({
        path: req.url ?? '',
        agent: String(req.headers['user-agent'] ?? ''),
        resumed: (req.socket as tls.TLSSocket).isSessionReused(),
      });
      res.setHeader('connection', 'close');
      res.end('ok');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

function tlsCluster(name: string, port: number, ca: string, extra = ''): string {
  return `- name: ${name}
  connect_timeout: 2s
  load_assignment:
    cluster_name: ${name}
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } }] }]
${indent(extra, 2)}
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
      common_tls_context: { validation_context: { trusted_ca: { filename: ${certPath(ca)} } } }`;
}

test('a pool resumes the TLS session on each new connection to a host', async () => {
  const origin = await startOrigin();
  const lp = await startLegate(
    listenerYaml({
      chains: [chainYaml({ cluster: 'up' })],
      clusters: [tlsCluster('up', origin.port, 'ca.crt')],
    }),
    { concurrency: 1 },
  );
  try {
    const port = lp.ports.get('proxy')!;
    for (let i = 0; i < 6; i++) assert.equal((await request(port, { path: `/r${i}` })).status, 200);
    assert.deepEqual(
      origin.seen.map((s) => s.resumed),
      [false, true, true, true, true, true],
    );
    assert.equal(await stat(lp, 'cluster.up.ssl.session_reused'), 5);
  } finally {
    await lp.stop();
    origin.close();
  }
});

test('HTTP health checks of a TLS cluster speak TLS and verify as the cluster does', async () => {
  const good = await startOrigin();
  const distrusted = await startOrigin();
  const check = healthChecksYaml('http_health_check: { path: /health }', {
    unhealthyThreshold: 1,
    healthyThreshold: 1,
  });
  const lp = await startLegate(
    listenerYaml({
      chains: [chainYaml({ cluster: 'good' })],
      clusters: [
        tlsCluster('good', good.port, 'ca.crt', check),
        tlsCluster('distrusted', distrusted.port, 'other-ca.crt', check),
      ],
    }),
    { concurrency: 1 },
  );
  try {
    const flags = async (): Promise<string> => (await admin(lp, '/clusters')).body.toString();
    let text = '';
    for (let i = 0; i < 50; i++) {
      text = await flags();
      if (
        /^good::127\.0\.0\.1:\d+::health_flags::healthy$/m.test(text) &&
        /^distrusted::.*::health_flags::\/failed_active_hc/m.test(text)
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, /^good::127\.0\.0\.1:\d+::health_flags::healthy$/m);
    assert.match(text, /^distrusted::127\.0\.0\.1:\d+::health_flags::\/failed_active_hc/m);
    assert.ok(good.seen.some((s) => s.path === '/health' && s.agent === 'Envoy/HC'));
    assert.equal((await request(lp.ports.get('proxy')!, { path: '/x' })).status, 200);
  } finally {
    await lp.stop();
    good.close();
    distrusted.close();
  }
});
