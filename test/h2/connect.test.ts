/**
 * CONNECT over HTTP/2 downstream (`http2_protocol_options.allow_connect`), with node:http2 as the
 * client: a classic CONNECT (`:authority` host:port) terminated by a `connect_config` route or
 * proxied to an HTTP/1.1 forward proxy, and RFC 8441's extended CONNECT (`:protocol`) to an
 * HTTP/1.1 origin as the `GET` + `Upgrade` it stands for — a real WebSocket exchange (frames over
 * the stream) and a raw upgrade with half-close each way. Without allow_connect both are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  fileAccessLogYaml,
  httpProxyYaml,
  runLegate,
  startLegate,
  staticCluster,
  stat,
  type LegateProcess,
} from '../integration/harness';
import { startUpgradeOrigin, type UpgradeOrigin } from '../support/upgrade-origin';
import { startConnectProxy, type ConnectProxy } from '../support/tunnel-peers';
import { startEcho } from '../l4/fixtures';
import { h2Connect } from './h2-client';

const WAIT_MS = 5000;

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Peers {
  origin: UpgradeOrigin;
  echo: { port: number; close(): Promise<void> };
  forward: ConnectProxy;
}

/**
 * An HTTP/2-only listener: websocket and echo upgrades and CONNECT enabled; CONNECT to
 * `echo.test:7` terminated (TCP to the echo server), CONNECT to `127.0.0.1:<echo>` proxied to the
 * forward proxy, everything else to the upgrade origin.
 */
function connectYaml(peers: Peers, allowConnect: boolean, logFile: string): string {
  return httpProxyYaml({
    hcmExtra: `codec_type: HTTP2
http2_protocol_options: { allow_connect: ${allowConnect} }
upgrade_configs: [{ upgrade_type: websocket }, { upgrade_type: echo }, { upgrade_type: CONNECT }]
${fileAccessLogYaml(logFile, '%REQ(:PATH)% %PROTOCOL% %RESPONSE_CODE% %BYTES_RECEIVED% %BYTES_SENT% %RESPONSE_FLAGS%')}`,
    virtualHosts: `
- name: terminated
  domains: ["echo.test:7"]
  routes:
  - match: { connect_matcher: {} }
    route: { cluster: echo, upgrade_configs: [{ upgrade_type: CONNECT, connect_config: {} }] }
- name: proxied
  domains: ["127.0.0.1:${peers.echo.port}"]
  routes:
  - match: { connect_matcher: {} }
    route: { cluster: forward }
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/" }
    route: { cluster: o }`,
    clusters:
      staticCluster('o', [peers.origin.port]) +
      staticCluster('echo', [peers.echo.port]) +
      staticCluster('forward', [peers.forward.port]),
  });
}

async function withConnectLegate(
  allowConnect: boolean,
  body: (
    legate: LegateProcess,
    session: http2.ClientHttp2Session,
    peers: Peers,
    logFile: string,
  ) => Promise<void>,
): Promise<void> {
  const peers: Peers = {
    origin: await startUpgradeOrigin(),
    echo: await startEcho(),
    forward: await startConnectProxy(),
  };
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-h2-connect-')), 'access.log');
  const legate = await startLegate(connectYaml(peers, allowConnect, logFile), { concurrency: 1 });
  const session = await h2Connect(legate.ports.get('proxy')!);
  try {
    await body(legate, session, peers, logFile);
  } finally {
    session.destroy();
    await legate.stop();
    await peers.origin.close();
    await peers.echo.close();
    await peers.forward.close();
  }
}

/** An open CONNECT stream: its response head, what it read, and its end. */
interface Tunnel {
  stream: http2.ClientHttp2Stream;
  response: Promise<http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader>;
  read(): Buffer;
  ended: Promise<void>;
  closed: Promise<number>;
}

function openConnect(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Tunnel {
  const stream = session.request({ ':method': 'CONNECT', ...headers }, { endStream: false });
  stream.on('error', () => {});
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  return {
    stream,
    response: new Promise((resolve) => stream.once('response', resolve)),
    read: () => Buffer.concat(chunks),
    ended: new Promise((resolve) => stream.once('end', resolve)),
    closed: new Promise((resolve) => stream.once('close', () => resolve(stream.rstCode ?? 0))),
  };
}

/** A client WebSocket frame (FIN, masked as RFC 6455 requires of clients). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  assert.ok(payload.length < 126, 'short frames only');
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

/** The server frames in `bytes` (unmasked, short): [opcode, payload]. */
function serverFrames(bytes: Buffer): [number, string][] {
  const frames: [number, string][] = [];
  for (let i = 0; i + 2 <= bytes.length;) {
    const length = bytes[i + 1]! & 0x7f;
    frames.push([bytes[i]! & 0x0f, bytes.subarray(i + 2, i + 2 + length).toString()]);
    i += 2 + length;
  }
  return frames;
}

test('allow_connect: RFC 8441 WebSocket to an HTTP/1.1 origin (200 for its 101, frames both ways, close codes), SETTINGS_ENABLE_CONNECT_PROTOCOL announced', async () => {
  await withConnectLegate(true, async (legate, session, peers, logFile) => {
    assert.equal(session.remoteSettings.enableConnectProtocol, true);
    const ws = openConnect(session, {
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':path': '/ws',
      ':authority': 'ws.test',
      'sec-websocket-version': '13',
    });
    const head = await ws.response;
    assert.equal(head[':status'], 200);
    assert.equal(head['sec-websocket-accept'], undefined, 'the made-up key’s accept value stays behind');
    const request = peers.origin.upgradeRequests.at(-1)!;
    assert.equal(request.url, '/ws');
    assert.equal(request.headers.upgrade, 'websocket');
    assert.match(request.headers['sec-websocket-key'] ?? '', /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active'), 1);

    ws.stream.write(clientFrame(0x1, Buffer.from('hello over h2')));
    await waitFor('the echo', () => serverFrames(ws.read()).length === 1);
    assert.deepEqual(serverFrames(ws.read()), [[0x1, 'hello over h2']]);
    // Close with 4001: the origin records it and answers with its own close frame.
    const close = Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.from('bye')]);
    ws.stream.write(clientFrame(0x8, close));
    await waitFor('the close frame back', () => serverFrames(ws.read()).length === 2);
    assert.equal(serverFrames(ws.read())[1]![0], 0x8);
    ws.stream.end();
    await ws.ended;
    await waitFor('the origin to see the close', () => peers.origin.closesReceived.length === 1);
    assert.deepEqual(peers.origin.closesReceived[0], { code: 4001, reason: 'bye' });
    assert.equal(await ws.closed, http2.constants.NGHTTP2_NO_ERROR);
    await waitFor(
      'the tunnel to end',
      async () => (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0,
    );
    await legate.stop();
    const line = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('/ws '));
    assert.match(line ?? '', /^\/ws HTTP\/2 101 \d+ \d+ -$/);
  });
});

test('allow_connect: an extended CONNECT for another protocol; half-close each way; a client reset reaches the origin, an origin gone is CONNECT_ERROR', async () => {
  await withConnectLegate(true, async (legate, session, peers) => {
    const headers = { ':protocol': 'echo', ':scheme': 'http', ':authority': 'x' };
    // The client ends first: its END_STREAM reaches the origin, whose reply still arrives.
    const first = openConnect(session, { ...headers, ':path': '/echo' });
    assert.equal((await first.response)[':status'], 200);
    first.stream.write('ping');
    await waitFor('the echo', () => first.read().toString() === 'ping');
    first.stream.end('-last');
    await first.ended;
    assert.equal(first.read().toString(), 'ping-lastbye');
    await first.closed;

    // The origin ends first: its FIN is our END_STREAM, and we may still send.
    const second = openConnect(session, { ...headers, ':path': '/fin-first' });
    await second.ended;
    assert.equal(second.read().toString(), 'hello');
    second.stream.end('late words');
    await second.closed;
    await waitFor('the origin to get the late words', () => peers.origin.afterFin.length === 1);
    assert.equal(peers.origin.afterFin[0], 'late words');

    // A client reset closes the upstream connection.
    const third = openConnect(session, { ...headers, ':path': '/echo' });
    await third.response;
    third.stream.write('x');
    await waitFor('the echo', () => third.read().length === 1);
    third.stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor('the upstream connection to close', () => peers.origin.openSockets === 0);

    // An origin that goes away: its FIN ends our direction (END_STREAM); what the client sends
    // next finds the connection gone, and the stream is reset with CONNECT_ERROR.
    const fourth = openConnect(session, { ...headers, ':path': '/echo' });
    await fourth.response;
    await waitFor('the origin socket', () => peers.origin.openSockets === 1);
    await peers.origin.close();
    await fourth.ended;
    let code = -1;
    void fourth.closed.then((c) => (code = c));
    for (let i = 0; i < 50 && code === -1; i++) {
      fourth.stream.write('anyone there?');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(code, http2.constants.NGHTTP2_CONNECT_ERROR);
    await waitFor(
      'no tunnel',
      async () => (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0,
    );
  });
});

test('allow_connect: a classic CONNECT terminated (TCP to the cluster) or proxied to an HTTP/1.1 forward proxy; a bad authority is 400', async () => {
  await withConnectLegate(true, async (legate, session, peers) => {
    const terminated = openConnect(session, { ':authority': 'echo.test:7' });
    assert.equal((await terminated.response)[':status'], 200);
    terminated.stream.write('over tcp');
    await waitFor('the echo', () => terminated.read().toString() === 'over tcp');
    terminated.stream.end();
    await terminated.ended;
    await terminated.closed;

    const target = `127.0.0.1:${peers.echo.port}`;
    const proxied = openConnect(session, { ':authority': target });
    assert.equal((await proxied.response)[':status'], 200);
    proxied.stream.write('via the forward proxy');
    await waitFor('the echo', () => proxied.read().toString() === 'via the forward proxy');
    proxied.stream.end();
    await proxied.ended;
    assert.deepEqual(
      peers.forward.requests.map((r) => r.target),
      [target],
    );

    const bad = openConnect(session, { ':authority': 'no-port.test' });
    assert.equal((await bad.response)[':status'], 400);
    await bad.closed;
    await waitFor(
      'no tunnel',
      async () => (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0,
    );
    assert.equal(await stat(legate, 'http.ingress_http.downstream_cx_upgrades_total'), 2);
  });
});

test('without allow_connect: CONNECT is refused (REFUSED_STREAM, rx_messaging_error), :protocol is a stream error, the connection lives on', async () => {
  await withConnectLegate(false, async (legate, session, peers) => {
    assert.notEqual(session.remoteSettings.enableConnectProtocol, true);
    const classic = openConnect(session, { ':authority': 'echo.test:7' });
    assert.equal(await classic.closed, http2.constants.NGHTTP2_REFUSED_STREAM);
    assert.equal(await stat(legate, 'http2.rx_messaging_error'), 1);
    // An extended CONNECT the server did not announce: nghttp2 refuses it as a stream error.
    const extended = openConnect(session, {
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':path': '/ws',
      ':authority': 'x',
    });
    assert.equal(await extended.closed, http2.constants.NGHTTP2_PROTOCOL_ERROR);
    const plain = session.request({ ':path': '/plain' });
    const status = await new Promise((resolve) => plain.once('response', (h) => resolve(h[':status'])));
    plain.resume();
    assert.equal(status, 200, 'an ordinary request on the same session is answered');
    assert.equal(peers.origin.upgradeRequests.length, 0);
  });
});

test('allow_connect is for connection managers: on a cluster it is a config error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-h2-connect-config-'));
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(
    file,
    httpProxyYaml({
      hcmExtra: 'http2_protocol_options: { allow_connect: true }',
      virtualHosts: `
- name: all
  domains: ["*"]
  routes: [{ match: { prefix: "/" }, route: { cluster: o } }]`,
      clusters: staticCluster(
        'o',
        [1],
        `typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config: { http2_protocol_options: { allow_connect: true } }`,
      ),
    }),
  );
  const r = await runLegate(['--mode', 'validate', '-c', file]);
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 1, out);
  assert.match(out, /http2_protocol_options\.allow_connect: not supported by Legate yet on a cluster/);
  assert.doesNotMatch(out, /http_connection_manager[^\n]*allow_connect/);
});
