/**
 * envoy.filters.listener.http_inspector: HTTP/1.0, HTTP/1.1 and the HTTP/2 preface pick chains
 * by application_protocols (every split of the first bytes, too), anything else falls to the
 * default chain untouched, and a TLS connection (tls_inspector first) keeps its ALPN.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, test } from 'node:test';
import { detectHttp } from '../../src/filters/listener/http-inspector/detect';
import { indent, stat, startLegate, type LegateProcess } from '../integration/harness';
import { startEcho, type Upstream } from '../l4/fixtures';
import { readAll } from './fixtures';
import {
  chainYaml,
  listenerYaml,
  pem,
  staticCluster,
  TLS_INSPECTOR,
  tlsClient,
  tlsSocketYaml,
} from '../tls/fixtures';

const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

test('detection: versions, prefixes, not HTTP', () => {
  const found: [string, string][] = [
    ['GET / HTTP/1.1\r\n', 'http/1.1'],
    ['OPTIONS * HTTP/1.0\r\nhost: x\r\n\r\n', 'http/1.0'],
    ['M-SEARCH /x?y HTTP/1.1\r\n', 'http/1.1'],
    [H2_PREFACE, 'h2c'],
    [`${H2_PREFACE}\x00\x00\x12\x04`, 'h2c'],
  ];
  for (const [text, protocol] of found) {
    const bytes = Buffer.from(text, 'latin1');
    assert.equal(detectHttp(bytes), protocol, JSON.stringify(text));
    // Every shorter prefix of what decides waits for more.
    const decidingLength = protocol === 'h2c' ? H2_PREFACE.length : text.indexOf('\r\n') + 2;
    for (let n = 1; n < decidingLength; n++)
      assert.equal(detectHttp(bytes.subarray(0, n)), null, `${JSON.stringify(text)} cut at ${n}`);
  }
  const notHttp = [
    '\x16\x03\x01\x00',
    'GET / HTTP/2.0\r\n',
    'GET /\r\n',
    'GET  / HTTP/1.1\r\n',
    'SSH-2.0-x\r\n',
    ' GET',
  ];
  for (const text of notHttp) assert.equal(detectHttp(Buffer.from(text, 'latin1')), '', JSON.stringify(text));
  assert.equal(detectHttp(Buffer.alloc(64 * 1024, 'a')), '');
});

const answer = (text: string): string => `- match: { prefix: / }
  direct_response: { status: 200, body: { inline_string: "${text}" } }`;

let echo: Upstream;
let lp: LegateProcess;
let port: number;

before(async () => {
  echo = await startEcho();
  const yaml = listenerYaml({
    listenerExtra: `${TLS_INSPECTOR}
- name: envoy.filters.listener.http_inspector
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector
default_filter_chain:
${indent(chainYaml({ cluster: 'echo', kind: 'tcp', statPrefix: 'other' }).slice(2), 2)}`,
    chains: [
      chainYaml({
        cluster: 'echo',
        routes: answer('one-one'),
        match: 'application_protocols: [http/1.1]',
        statPrefix: 'h11',
      }),
      chainYaml({
        cluster: 'echo',
        routes: answer('one-zero'),
        match: 'application_protocols: [http/1.0]',
        statPrefix: 'h10',
      }),
      chainYaml({ cluster: 'echo', kind: 'tcp', match: 'application_protocols: [h2c]', statPrefix: 'h2c' }),
      chainYaml({
        cluster: 'echo',
        routes: answer('tls'),
        match: 'transport_protocol: tls',
        tls: tlsSocketYaml({ common: 'alpn_protocols: [http/1.1]' }),
        statPrefix: 'tls',
      }),
    ],
    clusters: [staticCluster('echo', echo.port)],
  });
  lp = await startLegate(yaml, { concurrency: 1 });
  port = lp.ports.get('proxy')!;
});

after(async () => {
  await lp.stop();
  await echo.close();
});

/** Writes `bytes` in pieces of `piece` bytes, half-closes, and collects the reply until close. */
function exchange(bytes: string, piece: number): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('connect', async () => {
    for (let i = 0; i < bytes.length; i += piece) {
      socket.write(bytes.slice(i, i + piece), 'latin1');
      await new Promise((r) => setTimeout(r, 2));
    }
    setTimeout(() => socket.end(), 50);
  });
  return readAll(socket);
}

test('application_protocols picks the chain: HTTP/1.1, HTTP/1.0, h2c, not HTTP, TLS', async () => {
  for (const piece of [1000, 7, 1]) {
    assert.match(await exchange('GET / HTTP/1.1\r\nhost: x\r\n\r\n', piece), /\r\n\r\none-one$/, `${piece}`);
    assert.match(await exchange('GET / HTTP/1.0\r\nhost: x\r\n\r\n', piece), /\r\n\r\none-zero$/, `${piece}`);
    // The tcp_proxy chains echo: the bytes reach them whole, nothing consumed.
    const h2 = `${H2_PREFACE}\x00\x00\x00\x04\x00\x00\x00\x00\x00`;
    assert.equal(await exchange(h2, piece), h2, `${piece}`);
    assert.equal(await exchange('SSH-2.0-OpenSSH_9\r\n', piece), 'SSH-2.0-OpenSSH_9\r\n', `${piece}`);
  }
  const tls = await tlsClient(port, {
    ALPNProtocols: ['http/1.1'],
    ca: pem('ca.crt'),
    request: 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
  });
  assert.equal(tls.alpn, 'http/1.1');
  assert.match(tls.response, /\r\n\r\ntls$/);
  assert.equal(await stat(lp, 'http_inspector.http11_found'), 3);
  assert.equal(await stat(lp, 'http_inspector.http10_found'), 3);
  assert.equal(await stat(lp, 'http_inspector.http2_found'), 3);
  assert.equal(await stat(lp, 'http_inspector.http_not_found'), 3);
});
