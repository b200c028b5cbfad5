/**
 * How a cluster picks its protocol per host or per request.
 * `auto_config` (Envoy's AutoHttpConfig): ALPN with each TLS host chooses HTTP/2 or HTTP/1.1. The
 * first connection decides; requests that arrive meanwhile wait for it and then go to the chosen
 * protocol's pool, the connection included. Origins: one that speaks both (ALPN h2 wins), one
 * HTTPS server that answers no ALPN (HTTP/1.1), one that is down (503, the next request tries
 * again); without TLS, auto_config is a located config error.
 * `use_downstream_protocol_config`: each request goes upstream in the protocol it came in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type * as http from 'node:http';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  httpProxyYaml,
  catchAllVirtualHost,
  request,
  runLegate,
  stat,
  withLegate,
} from '../integration/harness';
import { certPath, pem } from '../tls/fixtures';
import { h2Connect, h2Request } from './h2-client';

interface TlsOrigin {
  port: number;
  /** TLS connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** Answers `<HTTP version> <:scheme or ->`; `h2` also offers HTTP/2 by ALPN (else: no ALPN answer). */
function startTlsOrigin(h2: boolean): Promise<TlsOrigin> {
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: Response): void => {
    req.resume();
    req.on('end', () => res.end(`${req.httpVersion} ${String(req.headers[':scheme'] ?? '-')}`));
  };
  type Response = { end(text: string): void };
  const credentials = { key: pem('server-rsa.key'), cert: pem('server-rsa.crt') };
  const server = h2
    ? http2.createSecureServer({ ...credentials, allowHTTP1: true }, handler)
    : https.createServer(credentials, handler);
  const sockets = new Set<net.Socket>();
  const origin: TlsOrigin = {
    port: 0,
    connections: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('secureConnection', (s: net.Socket) => {
    origin.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      origin.port = (server.address() as net.AddressInfo).port;
      resolve(origin);
    }),
  );
}

function autoConfigYaml(
  originPort: number,
  tls = true,
  selection = 'auto_config: { http2_protocol_options: { max_concurrent_streams: 50 } }',
): string {
  return httpProxyYaml({
    virtualHosts: catchAllVirtualHost(),
    clusters: `- name: o
  connect_timeout: 1s
  typed_extension_protocol_options:
    envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
      "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
      ${selection}
${
  tls
    ? `  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
      sni: a.example
      common_tls_context:
        validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} } }`
    : ''
}
  load_assignment:
    cluster_name: o
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${originPort} } } } }] }]`,
  });
}

for (const h2 of [true, false]) {
  test(`auto_config: ALPN picks ${h2 ? 'HTTP/2 from a host that offers it' : 'HTTP/1.1 from a host that answers no ALPN'}; requests during the first connect wait for it`, async () => {
    const origin = await startTlsOrigin(h2);
    try {
      await withLegate(autoConfigYaml(origin.port), { concurrency: 1 }, async (lp) => {
        const port = lp.ports.get('proxy')!;
        // Ten at once, before the protocol is known: all wait for the first connection.
        const first = await Promise.all(
          Array.from({ length: 10 }, () => request(port, { path: '/', method: 'POST', body: 'x' })),
        );
        for (const r of first) {
          assert.equal(r.status, 200);
          assert.equal(r.body.toString(), h2 ? '2.0 https' : '1.1 -');
        }
        const again = await request(port, { path: '/' });
        assert.equal(again.body.toString(), h2 ? '2.0 https' : '1.1 -');
        if (h2) {
          assert.equal(origin.connections, 1, 'one multiplexed connection, the first one');
          assert.equal(await stat(lp, 'cluster.o.upstream_cx_http2_total'), 1);
        } else {
          assert.ok(origin.connections <= 10, `${origin.connections} connections for 10 concurrent requests`);
          assert.equal(await stat(lp, 'cluster.o.upstream_cx_http2_total'), 0);
        }
        assert.equal(await stat(lp, 'cluster.o.upstream_cx_total'), origin.connections);
        assert.equal(await stat(lp, 'cluster.o.ssl.handshake'), origin.connections);
      });
    } finally {
      await origin.close();
    }
  });
}

test('auto_config: a host that is down is a 503, and the next request tries again', async () => {
  const origin = await startTlsOrigin(true);
  const port = origin.port;
  await origin.close();
  await withLegate(autoConfigYaml(port), { concurrency: 1 }, async (lp) => {
    const proxy = lp.ports.get('proxy')!;
    for (let i = 0; i < 2; i++) {
      const r = await request(proxy, { path: '/' });
      assert.equal(r.status, 503);
      assert.match(r.body.toString(), /connection failure/);
    }
    assert.equal(await stat(lp, 'cluster.o.upstream_cx_connect_fail'), 2);
    assert.equal(await stat(lp, 'cluster.o.upstream_cx_active'), 0);
  });
});

test('auto_config without a TLS transport_socket is a located config error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-alpn-'));
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(file, autoConfigYaml(1, false));
  const r = await runLegate(['--mode', 'validate', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout + r.stderr,
    /envoy\.yaml:\d+:\d+: error: static_resources\.clusters\[0\]\.typed_extension_protocol_options: auto_config needs a TLS transport_socket/,
  );
});

test('use_downstream_protocol_config: HTTP/1.1 requests go upstream as HTTP/1.1, HTTP/2 ones as HTTP/2', async () => {
  const origin = await startTlsOrigin(true);
  try {
    const yaml = autoConfigYaml(
      origin.port,
      true,
      'use_downstream_protocol_config: { http2_protocol_options: {} }',
    );
    await withLegate(yaml, { concurrency: 1 }, async (lp) => {
      const port = lp.ports.get('proxy')!;
      const http1 = await request(port, { path: '/' });
      assert.equal(http1.body.toString(), '1.1 -');
      const session = await h2Connect(port);
      const http2Response = await h2Request(session, { path: '/' });
      session.close();
      assert.equal(http2Response.body.toString(), '2.0 https');
      assert.equal(await stat(lp, 'cluster.o.upstream_cx_http2_total'), 1);
      assert.equal(await stat(lp, 'cluster.o.upstream_cx_total'), 2, 'one connection per protocol');
    });
  } finally {
    await origin.close();
  }
});
