/**
 * envoy.filters.listener.proxy_protocol end to end: the client a PROXY header names (v1 and v2,
 * IPv4 and IPv6) is the downstream remote address for x-forwarded-for, the access log
 * (%DOWNSTREAM_REMOTE_ADDRESS%, with the socket's peer as %DOWNSTREAM_DIRECT_REMOTE_ADDRESS%) and
 * filter chain matching (source_prefix_ranges, destination_port), over plaintext HTTP, TLS (with
 * tls_inspector after it) and tcp_proxy; the header arriving with the first bytes, before them,
 * or a byte at a time. Malformed and missing headers close the connection and are counted.
 * HAProxy's send-proxy / send-proxy-v2 when installed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, test } from 'node:test';
import {
  admin,
  startLegate,
  startOrigin,
  stat,
  type LegateProcess,
  type Origin,
} from '../integration/harness';
import { startEcho, type Upstream } from '../l4/fixtures';
import { requireTool } from '../support/system-tools';
import { startHaproxy } from '../support/haproxy';
import { chainYaml, listenerYaml, pem, staticCluster, TLS_INSPECTOR, tlsSocketYaml } from '../tls/fixtures';
import { indent } from '../integration/harness';
import { proxyHeader, readAll, v2Header } from './fixtures';
import { hostAddress } from '../../src/filters/network/http-connection-manager/forwarding';

const LOG_FORMAT =
  '%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_ADDRESS% %REQ(:PATH)%';
const TCP_PORT = 7000;

function accessLog(file: string): string {
  return `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file}
    log_format: { text_format_source: { inline_string: "${LOG_FORMAT}\\n" } }`;
}

function proxyProtocolFilter(config = ''): string {
  return `- name: envoy.filters.listener.proxy_protocol
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol
${indent(config, 4)}`;
}

const TEN_ROUTE = `- match: { prefix: / }
  direct_response: { status: 200, body: { inline_string: "ten" } }`;

let origin: Origin;
let echo: Upstream;
let lp: LegateProcess;
let port: number;
let dir: string;

before(async () => {
  origin = await startOrigin();
  echo = await startEcho();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-proxy-proto-'));
  const hcm = `use_remote_address: true\n${accessLog(path.join(dir, 'http.log'))}`;
  const yaml = listenerYaml({
    listenerExtra: `listener_filters:
${proxyProtocolFilter()}
${TLS_INSPECTOR.split('\n').slice(1).join('\n')}
default_filter_chain:
${indent(chainYaml({ cluster: 'origin', hcmExtra: hcm, statPrefix: 'plain' }).slice(2), 2)}`,
    chains: [
      chainYaml({
        cluster: 'origin',
        routes: TEN_ROUTE,
        match: 'source_prefix_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }]',
        statPrefix: 'ten',
      }),
      chainYaml({
        cluster: 'origin',
        match: 'transport_protocol: tls',
        tls: tlsSocketYaml({}),
        hcmExtra: hcm,
        statPrefix: 'tls',
      }),
      chainYaml({ cluster: 'echo', kind: 'tcp', match: `destination_port: ${TCP_PORT}`, statPrefix: 'l4' }),
    ],
    clusters: [staticCluster('origin', origin.port), staticCluster('echo', echo.port)],
  });
  lp = await startLegate(yaml, { concurrency: 1 });
  port = lp.ports.get('proxy')!;
});

after(async () => {
  await lp.stop();
  await origin.close();
  await echo.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Split = 'with-data' | 'before-data' | 'byte-at-a-time';

/** Writes the header as `split` says, then `data` (or nothing: the caller writes, e.g. TLS). */
async function sendHeader(
  socket: net.Socket,
  header: Buffer,
  split: Split,
  data: Buffer | null,
): Promise<void> {
  if (split === 'with-data') {
    socket.write(data === null ? header : Buffer.concat([header, data]));
    return;
  }
  if (split === 'byte-at-a-time') {
    for (const byte of header) {
      socket.write(Buffer.from([byte]));
      await new Promise((r) => setTimeout(r, 1));
    }
  } else socket.write(header);
  await new Promise((r) => setTimeout(r, 20));
  if (data !== null) socket.write(data);
}

function connected(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The access log's lines once it has `count` of them (it is flushed every second), within 5 s. */
async function logLines(file: string, count: number): Promise<string[]> {
  let lines: string[] = [];
  for (let i = 0; i < 100 && lines.length < count; i++) {
    await new Promise((r) => setTimeout(r, 50));
    lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }
  return lines;
}

const get = (p: string): Buffer => Buffer.from(`GET ${p} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);

const CLIENTS = [
  { src: '192.0.2.7', dst: '198.51.100.1' },
  { src: '2001:db8::7', dst: '2001:db8::1' },
];
const SPLITS: Split[] = ['with-data', 'before-data', 'byte-at-a-time'];

test('the PROXY client is the downstream address: HTTP, HTTPS and tcp_proxy × v1/v2 × IPv4/IPv6 × how the header arrives', async () => {
  const expectedLog: string[] = [];
  let n = 0;
  for (const version of [1, 2] as const) {
    for (const { src, dst } of CLIENTS) {
      for (const split of SPLITS) {
        const what = `v${version} ${src} ${split}`;
        const sport = 40000 + n++;
        // Plaintext HTTP (the default chain).
        let socket = await connected();
        let reply = readAll(socket);
        await sendHeader(socket, proxyHeader(version, src, dst, sport, 80), split, get(`/plain/${n}`));
        assert.match(await reply, /^HTTP\/1\.1 200 /, what);
        const seen = origin.requests.find((r) => r.url === `/plain/${n}`);
        assert.equal(seen?.headers['x-forwarded-for'], src, what);
        const at = (ip: string, p: number): string => (ip.includes(':') ? `[${ip}]:${p}` : `${ip}:${p}`);
        expectedLog.push(`${at(src, sport)} 127.0.0.1 ${at(dst, 80)} /plain/${n}`);

        // TLS after the header: tls_inspector sees the ClientHello past it.
        socket = await connected();
        await sendHeader(socket, proxyHeader(version, src, dst, sport, 443), split, null);
        const secure = tls.connect({ socket, servername: 'a.example', ca: pem('ca.crt') });
        reply = readAll(secure);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no handshake in 5 s: ${what}`)), 5000);
          secure.once('secureConnect', () => {
            clearTimeout(timer);
            resolve();
          });
          secure.once('error', reject);
        });
        secure.write(get(`/tls/${n}`));
        assert.match(await reply, /^HTTP\/1\.1 200 /, what);
        const tlsSeen = origin.requests.find((r) => r.url === `/tls/${n}`);
        assert.equal(tlsSeen?.headers['x-forwarded-for'], src, what);
        assert.equal(tlsSeen?.headers['x-forwarded-proto'], 'https', what);
        expectedLog.push(`${at(src, sport)} 127.0.0.1 ${at(dst, 443)} /tls/${n}`);

        // tcp_proxy, chosen by the header's destination port: the echo gets exactly the bytes after it.
        socket = await connected();
        reply = readAll(socket);
        const payload = Buffer.from(`payload ${what}`);
        await sendHeader(socket, proxyHeader(version, src, dst, sport, TCP_PORT), split, payload);
        await new Promise((r) => setTimeout(r, 50));
        socket.end();
        assert.equal(await reply, payload.toString(), what);
      }
    }
  }
  // The header's source picks the chain (source_prefix_ranges), for both versions.
  for (const version of [1, 2] as const) {
    const socket = await connected();
    const reply = readAll(socket);
    await sendHeader(socket, proxyHeader(version, '10.9.8.7', '10.0.0.1', 1, 80), 'with-data', get('/'));
    assert.match(await reply, /\r\n\r\nten$/, `v${version}`);
  }
  assert.equal(await stat(lp, 'proxy_proto.versions.v1.found'), CLIENTS.length * SPLITS.length * 3 + 1);
  assert.equal(await stat(lp, 'proxy_proto.versions.v2.found'), CLIENTS.length * SPLITS.length * 3 + 1);
  assert.equal(await stat(lp, 'downstream_cx_proxy_proto_error'), 0);
  const info = JSON.parse((await admin(lp, '/server_info')).body.toString()) as {
    legate: { listener_data_paths: Record<string, string> };
  };
  assert.equal(info.legate.listener_data_paths.proxy, 'js');
  assert.deepEqual(
    (await logLines(path.join(dir, 'http.log'), expectedLog.length)).sort(),
    expectedLog.sort(),
  );
});

test('malformed, truncated and missing headers close the connection and are counted', async () => {
  const yaml = listenerYaml({
    listenerExtra: `listener_filters:\n${proxyProtocolFilter()}`,
    chains: [chainYaml({ cluster: 'origin' })],
    clusters: [staticCluster('origin', origin.port)],
  });
  const local = await startLegate(yaml, { concurrency: 1 });
  try {
    const p = local.ports.get('proxy')!;
    const bad = v2Header(1, 0x31, Buffer.alloc(216));
    const cases: [string, Buffer, boolean][] = [
      ['v1 with a bad address', Buffer.from('PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n'), false],
      ['v1 with no end', Buffer.from(`PROXY TCP4 ${'9'.repeat(120)}`), false],
      ['v2 with AF_UNIX', bad, false],
      ['v2 with version 3', Buffer.concat([bad.subarray(0, 12), Buffer.from([0x31, 0x11, 0, 0])]), false],
      ['no header', get('/'), false],
      ['v1 cut short', Buffer.from('PROXY TCP4 1.2.3.4'), true],
      ['v2 cut short', bad.subarray(0, 20), true],
    ];
    for (const [what, bytes, thenClose] of cases) {
      const socket = net.connect(p, '127.0.0.1');
      const reply = readAll(socket);
      socket.write(bytes);
      if (thenClose) setTimeout(() => socket.end(), 50);
      assert.equal(await reply, '', what);
    }
    // A connection that sends nothing and closes (a TCP health check) is no error.
    const quiet = net.connect(p, '127.0.0.1');
    const closed = readAll(quiet);
    quiet.end();
    await closed;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await stat(local, 'proxy_proto.versions.v1.error'), 3);
    assert.equal(await stat(local, 'proxy_proto.versions.v2.error'), 3);
    assert.equal(await stat(local, 'proxy_proto.not_found_disallowed'), 1);
    assert.equal(await stat(local, 'downstream_cx_proxy_proto_error'), 7);
    assert.equal(origin.requests.filter((r) => r.url === '/').length, 0);
  } finally {
    await local.stop();
  }
});

test('allow_requests_without_proxy_protocol, disallowed_versions, stat_prefix and LOCAL', async () => {
  const yaml = listenerYaml({
    listenerExtra: `listener_filters:
${proxyProtocolFilter('allow_requests_without_proxy_protocol: true\ndisallowed_versions: [V1]\nstat_prefix: edge')}`,
    chains: [chainYaml({ cluster: 'origin', hcmExtra: 'use_remote_address: true' })],
    clusters: [staticCluster('origin', origin.port)],
  });
  const local = await startLegate(yaml, { concurrency: 1 });
  try {
    const p = local.ports.get('proxy')!;
    const exchange = async (bytes: Buffer): Promise<string> => {
      const socket = net.connect(p, '127.0.0.1');
      const reply = readAll(socket);
      socket.write(bytes);
      return reply;
    };
    // No header: served as it is, the socket's peer being the client.
    assert.match(await exchange(get('/bare')), /^HTTP\/1\.1 200 /);
    // POST starts like "PROXY " for one byte: still a request.
    assert.match(
      await exchange(
        Buffer.from('POST /post HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'),
      ),
      /^HTTP\/1\.1 200 /,
    );
    assert.equal(
      await exchange(Buffer.concat([proxyHeader(1, '192.0.2.1', '192.0.2.2', 1, 2), get('/v1')])),
      '',
    );
    const localCommand = v2Header(0, 0x11, Buffer.alloc(12));
    assert.match(await exchange(Buffer.concat([localCommand, get('/local')])), /^HTTP\/1\.1 200 /);
    assert.match(
      await exchange(Buffer.concat([proxyHeader(2, '192.0.2.9', '192.0.2.2', 1, 2), get('/v2')])),
      /^HTTP\/1\.1 200 /,
    );
    const xff = Object.fromEntries(origin.requests.map((r) => [r.url, r.headers['x-forwarded-for']]));
    assert.deepEqual(
      [xff['/bare'], xff['/post'], xff['/local'], xff['/v2'], xff['/v1']],
      // A loopback client is appended as the host's address, as in Envoy.
      [hostAddress(), hostAddress(), hostAddress(), '192.0.2.9', undefined],
    );
    assert.equal(await stat(local, 'proxy_proto.edge.not_found_allowed'), 2);
    assert.equal(await stat(local, 'proxy_proto.edge.versions.v1.disallowed'), 1);
    assert.equal(await stat(local, 'proxy_proto.edge.versions.v2.found'), 2);
    assert.equal(await stat(local, 'downstream_cx_proxy_proto_error'), 1);
  } finally {
    await local.stop();
  }
});

test('HAProxy send-proxy and send-proxy-v2: the client behind HAProxy is x-forwarded-for, over HTTP and TLS', async (t) => {
  const haproxyPath = requireTool(t, 'haproxy');
  if (haproxyPath === null) return;
  for (const send of ['send-proxy', 'send-proxy-v2']) {
    const haproxy = await startHaproxy(
      haproxyPath,
      `frontend fe
  bind 127.0.0.1:{{PORT}}
  default_backend be
backend be
  server legate 127.0.0.1:${port} ${send}`,
    );
    try {
      // From 127.0.0.2, so that the client is told apart from HAProxy (127.0.0.1).
      const plain = net.connect({ port: haproxy.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      const reply = readAll(plain);
      plain.write(get(`/haproxy/${send}`));
      assert.match(await reply, /^HTTP\/1\.1 200 /, send);
      const secure = tls.connect({
        socket: net.connect({ port: haproxy.port, host: '127.0.0.1', localAddress: '127.0.0.2' }),
        servername: 'a.example',
        ca: pem('ca.crt'),
      });
      const tlsReply = readAll(secure);
      secure.once('secureConnect', () => secure.write(get(`/haproxy-tls/${send}`)));
      assert.match(await tlsReply, /^HTTP\/1\.1 200 /, send);
    } finally {
      await haproxy.stop();
    }
    for (const p of [`/haproxy/${send}`, `/haproxy-tls/${send}`]) {
      const headers = origin.requests.find((r) => r.url === p)?.headers;
      // x-forwarded-for gets the host's address for a loopback client (as in Envoy); the edge's
      // x-envoy-external-address names the client itself.
      assert.equal(headers?.['x-forwarded-for'], hostAddress(), p);
      assert.equal(headers?.['x-envoy-external-address'], '127.0.0.2', p);
    }
  }
});
