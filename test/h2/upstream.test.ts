/**
 * Upstream HTTP/2 (h2c) from `explicit_http_config.http2_protocol_options`: the multiplexing pool
 * (streams per connection up to the peer's and the cluster's limit, max_requests_per_connection,
 * GOAWAY), bodies around the windows from HTTP/1.1 and HTTP/2 clients, trailers, stats, failures.
 * The origin is a node:http2 server that counts its sessions.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import { promisify } from 'node:util';
import { indent, request, startLegate, stat, withLegate, type LegateProcess } from '../integration/harness';
import { h2Connect, h2Request } from './h2-client';
import { certPath, pem } from '../tls/fixtures';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface H2Origin {
  port: number;
  /** Sessions accepted so far. */
  sessions: number;
  /** `goAwayAfter` > 0: each session sends GOAWAY once it has answered that many streams. */
  goAwayAfter: number;
  /** Each session refuses its first stream (RST_STREAM REFUSED_STREAM). */
  refuseFirst: boolean;
  close(): Promise<void>;
}

/**
 * `/echo` answers the body's length and hash; `/bytes/N` N bytes with Content-Length; `/trailers`
 * a body and `grpc-status` trailers; `/slow` after 300 ms. Every response says which session.
 */
function startH2Origin(maxConcurrentStreams = 100, tls = false): Promise<H2Origin> {
  // Node's default session memory (10 MB) would refuse the 20 × 1 MiB streams of the matrix.
  const options = { settings: { maxConcurrentStreams }, maxSessionMemory: 256 };
  // Through TLS: HTTP/2 only, chosen by ALPN (a client that offers no `h2` is refused).
  const server = tls
    ? http2.createSecureServer({ ...options, key: pem('server-rsa.key'), cert: pem('server-rsa.crt') })
    : http2.createServer(options);
  const sockets = new Set<net.Socket>();
  const origin: H2Origin = {
    port: 0,
    sessions: 0,
    goAwayAfter: 0,
    refuseFirst: false,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on(tls ? 'secureConnection' : 'connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('session', (session) => {
    const id = ++origin.sessions;
    let answered = 0;
    let streams = 0;
    session.on('stream', (stream, headers) => {
      if (origin.refuseFirst && streams++ === 0) {
        stream.on('error', () => {}); // Node reports the reset it sends as an error
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const p = String(headers[':path']);
        const reply = (): void => {
          if (stream.destroyed) return;
          const bytes = /^\/bytes\/(\d+)/.exec(p);
          if (bytes !== null) {
            const data = Buffer.alloc(Number(bytes[1]), 'abcdefgh');
            stream.respond({
              ':status': 200,
              'content-length': String(data.length),
              'x-session': String(id),
            });
            stream.end(data);
          } else if (p === '/trailers') {
            stream.respond({ ':status': 200, 'x-session': String(id) }, { waitForTrailers: true });
            stream.once('wantTrailers', () =>
              stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }),
            );
            stream.end('with trailers');
          } else {
            stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-session': String(id) });
            stream.end(
              JSON.stringify({
                length: body.length,
                sha: sha(body),
                authority: headers[':authority'],
                scheme: headers[':scheme'],
                te: headers.te ?? null,
                connection: headers.connection ?? null,
              }),
            );
          }
          if (origin.goAwayAfter > 0 && ++answered === origin.goAwayAfter) session.goaway();
        };
        if (p === '/slow') setTimeout(reply, 300);
        else reply();
      });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      origin.port = (server.address() as net.AddressInfo).port;
      resolve(origin);
    }),
  );
}

const HCM = (prefix: string, extra: string): string => `- name: envoy.filters.network.http_connection_manager
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
    stat_prefix: ${prefix}
${indent(extra, 4)}
    route_config:
      virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: h2 } }] }]
    http_filters:
    - name: envoy.filters.http.router
      typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`;

/** Listener `h1` (AUTO: the native engine's when there is one) and `h2` (codec_type HTTP2), one h2c cluster. */
function yaml(originPort: number, http2Options = '{}', clusterExtra = ''): string {
  return `admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: h1
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
${indent(HCM('h1', ''), 6)}
  - name: h2
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
${indent(HCM('h2', 'codec_type: HTTP2'), 6)}
  clusters:
  - name: h2
    connect_timeout: 1s
${indent(clusterExtra, 4)}
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: ${http2Options} }
    load_assignment:
      cluster_name: h2
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${originPort} } } } }] }]
`;
}

let origin: H2Origin;
let lp: LegateProcess;

before(async () => {
  origin = await startH2Origin();
  lp = await startLegate(yaml(origin.port), { concurrency: 1 });
});

after(async () => {
  await lp?.stop();
  await origin?.close();
});

test(
  'bodies around the windows, from HTTP/1.1 and HTTP/2 clients, over one multiplexed connection',
  { timeout: 120_000 },
  async () => {
    const sizes = [0, 1, 65_535, 65_536, 200_000, 1_048_577];
    const sessionsBefore = origin.sessions;
    const h2 = await h2Connect(lp.ports.get('h2')!);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    try {
      for (const size of sizes) {
        const body = Buffer.alloc(size, 'xyz');
        for (const streams of [1, 10]) {
          const label = `${size} B × ${streams}`;
          const viaH1 = Array.from({ length: streams }, () =>
            request(lp.ports.get('h1')!, { method: 'POST', path: '/echo', body, agent }),
          );
          const viaH2 = Array.from({ length: streams }, () =>
            h2Request(h2, { method: 'POST', path: '/echo', body, chunkSize: 16_000 }),
          );
          for (const r of [...(await Promise.all(viaH1)), ...(await Promise.all(viaH2))]) {
            assert.equal(r.status, 200, `${label}: ${r.status === 200 ? '' : r.body.toString()}`);
            const seen = JSON.parse(r.body.toString()) as { length: number; sha: string; connection: null };
            assert.equal(seen.length, size, label);
            assert.equal(seen.sha, sha(body), label);
            assert.equal(seen.connection, null, label);
          }
          const down = await Promise.all([
            ...Array.from({ length: streams }, () =>
              request(lp.ports.get('h1')!, { path: `/bytes/${size}`, agent }),
            ),
            ...Array.from({ length: streams }, () => h2Request(h2, { path: `/bytes/${size}` })),
          ]);
          for (const r of down) {
            assert.equal(r.status, 200, `${label}: ${r.status === 200 ? '' : r.body.toString()}`);
            assert.equal(sha(r.body), sha(Buffer.alloc(size, 'abcdefgh')), label);
          }
        }
      }
    } finally {
      h2.close();
      agent.destroy();
    }
    assert.equal(origin.sessions - sessionsBefore, 1, 'one upstream connection carried every stream');
    assert.equal(await stat(lp, 'cluster.h2.upstream_cx_http2_total'), 1);
  },
);

test('trailers pass from an HTTP/2 upstream to HTTP/2 and to chunked HTTP/1.1 clients; Host becomes :authority', async () => {
  const h2 = await h2Connect(lp.ports.get('h2')!);
  try {
    const r = await h2Request(h2, { path: '/trailers' });
    assert.equal(r.body.toString(), 'with trailers');
    assert.equal(r.trailers?.['grpc-status'], '0');
    assert.equal(r.trailers?.['grpc-message'], 'ok');
  } finally {
    h2.close();
  }
  // A raw HTTP/1.1 client, to see the chunked framing and the trailer section.
  const { stdout } = await promisify(execFile)('node', [
    '-e',
    `const s=require('net').connect(${lp.ports.get('h1')!},'127.0.0.1',()=>s.write('GET /trailers HTTP/1.1\\r\\nhost: svc.example\\r\\nte: trailers\\r\\nconnection: close\\r\\n\\r\\n'));let o='';s.on('data',d=>o+=d);s.on('close',()=>process.stdout.write(o))`,
  ]);
  assert.match(stdout, /transfer-encoding: chunked/i);
  assert.match(stdout, /0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n$/);
  const echo = await request(lp.ports.get('h1')!, {
    path: '/echo',
    headers: { host: 'svc.example', te: 'trailers' },
  });
  const seen = JSON.parse(echo.body.toString()) as { authority: string; te: string };
  assert.equal(seen.authority, 'svc.example');
  assert.equal(seen.te, 'trailers');
});

test(
  'streams per connection: the cluster max_concurrent_streams and the peer SETTINGS both cap them',
  { timeout: 60_000 },
  async () => {
    for (const { cluster, peer, expected } of [
      { cluster: 2, peer: 100, expected: 5 },
      { cluster: 100, peer: 3, expected: 4 },
    ]) {
      const o = await startH2Origin(peer);
      try {
        await withLegate(
          yaml(o.port, `{ max_concurrent_streams: ${cluster} }`),
          { concurrency: 1 },
          async (p) => {
            const h2 = await h2Connect(p.ports.get('h2')!);
            const all = await Promise.all(Array.from({ length: 10 }, () => h2Request(h2, { path: '/slow' })));
            h2.close();
            assert.deepEqual(
              all.map((r) => r.status),
              Array(10).fill(200),
            );
            // 10 concurrent streams at 2 per connection need 5 connections; at 3 (the peer's), 4.
            assert.equal(o.sessions, expected, `cluster ${cluster}, peer ${peer}`);
          },
        );
      } finally {
        await o.close();
      }
    }
  },
);

test(
  'max_requests_per_connection and GOAWAY from the upstream move new streams to a new connection',
  { timeout: 60_000 },
  async () => {
    const o = await startH2Origin();
    try {
      await withLegate(
        yaml(o.port, '{}', 'common_http_protocol_options: { max_requests_per_connection: 3 }'),
        { concurrency: 1 },
        async (p) => {
          for (let i = 0; i < 7; i++)
            assert.equal((await request(p.ports.get('h1')!, { path: '/echo' })).status, 200);
          assert.equal(o.sessions, 3, '3 + 3 + 1 requests');
        },
      );
      o.goAwayAfter = 2;
      const before = o.sessions;
      await withLegate(yaml(o.port), { concurrency: 1 }, async (p) => {
        for (let i = 0; i < 6; i++) {
          const r = await request(p.ports.get('h1')!, { path: '/echo' });
          assert.equal(r.status, 200, `request ${i}`);
        }
        assert.equal(o.sessions - before, 3, 'a new connection after each GOAWAY');
      });
    } finally {
      await o.close();
    }
  },
);

test('an HTTP/2 upstream that is down: 503 connection failure, counted', async () => {
  const o = await startH2Origin();
  const port = o.port;
  await o.close();
  await withLegate(yaml(port), { concurrency: 1 }, async (p) => {
    const r = await request(p.ports.get('h1')!, { path: '/echo' });
    assert.equal(r.status, 503);
    assert.match(r.body.toString(), /connection failure/);
    assert.equal(await stat(p, 'cluster.h2.upstream_cx_connect_fail'), 1);
  });
});

/** The cluster's UpstreamTlsContext trusting `ca` (a fixture), SNI a.example. */
const upstreamTls = (ca: string): string => `transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    sni: a.example
    common_tls_context:
      validation_context: { trusted_ca: { filename: ${certPath(ca)} } }`;

test('HTTP/2 to a TLS cluster: ALPN h2 offered, :scheme https, the host verified; a host that fails verification is a 503', async () => {
  const o = await startH2Origin(100, true);
  try {
    await withLegate(yaml(o.port, '{}', upstreamTls('ca.crt')), { concurrency: 1 }, async (p) => {
      const session = await h2Connect(p.ports.get('h2')!);
      const responses = [
        await request(p.ports.get('h1')!, { path: '/echo', method: 'POST', body: 'hello' }),
        await h2Request(session, { path: '/echo', method: 'POST', body: Buffer.from('hello') }),
      ];
      session.close();
      for (const r of responses) {
        assert.equal(r.status, 200);
        const seen = JSON.parse(r.body.toString()) as { length: number; scheme: string };
        assert.equal(seen.length, 5);
        assert.equal(seen.scheme, 'https');
      }
      assert.equal(o.sessions, 1, 'both requests on one multiplexed TLS connection');
      assert.equal(await stat(p, 'cluster.h2.ssl.handshake'), 1);
    });
    await withLegate(yaml(o.port, '{}', upstreamTls('other-ca.crt')), { concurrency: 1 }, async (p) => {
      const r = await request(p.ports.get('h1')!, { path: '/echo' });
      assert.equal(r.status, 503);
      assert.match(r.body.toString(), /TLS_error:\|CERTIFICATE_VERIFY_FAILED/);
      assert.equal(await stat(p, 'cluster.h2.ssl.fail_verify_error'), 1);
      assert.equal(await stat(p, 'cluster.h2.upstream_cx_connect_fail'), 1);
    });
  } finally {
    await o.close();
  }
});

test('a stream the upstream refuses (REFUSED_STREAM) is retried under retry_on refused-stream, else 503', async () => {
  const o = await startH2Origin();
  o.refuseFirst = true;
  try {
    await withLegate(yaml(o.port), { concurrency: 1 }, async (p) => {
      const r = await request(p.ports.get('h1')!, { path: '/echo' });
      assert.equal(r.status, 503);
      assert.equal(
        r.body.toString(),
        'upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset',
      );
    });
    const withRetry = yaml(o.port).replace(
      'route: { cluster: h2 }',
      'route: { cluster: h2, retry_policy: { retry_on: refused-stream, num_retries: 1 } }',
    );
    assert.notEqual(withRetry, yaml(o.port));
    await withLegate(withRetry, { concurrency: 1 }, async (p) => {
      const r = await request(p.ports.get('h1')!, { path: '/echo' });
      assert.equal(r.status, 200);
      assert.equal(await stat(p, 'cluster.h2.upstream_rq_retry'), 1);
    });
  } finally {
    await o.close();
  }
});

test('connection_keepalive upstream: a host that stops answering PINGs is dropped, its stream fails fast', async () => {
  // A raw HTTP/2 "host": it sends its SETTINGS, then never answers anything (requests or PINGs).
  const silent = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const port = (silent.address() as net.AddressInfo).port;
    await withLegate(
      yaml(
        port,
        '{ connection_keepalive: { interval: 0.2s, timeout: 0.3s, interval_jitter: { value: 0 } } }',
      ),
      { concurrency: 1 },
      async (p) => {
        const started = Date.now();
        const r = await request(p.ports.get('h1')!, { path: '/echo' });
        assert.equal(r.status, 503, r.body.toString());
        assert.ok(
          Date.now() - started < 5000,
          `answered after ${Date.now() - started} ms, not at the route timeout`,
        );
        assert.equal(await stat(p, 'cluster.h2.upstream_cx_destroy'), 1);
      },
    );
  } finally {
    silent.close();
  }
});
