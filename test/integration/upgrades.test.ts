/**
 * HTTP upgrades through the HCM (`upgrade_configs`), end to end with real clients: the `ws`
 * WebSocket client and server, and raw sockets for the byte-level cases (half-close each way,
 * resets, broken upstreams, bad requests). Each test runs on whatever engine this pass uses: with
 * the native engine on, the engine hands each connection whose request asks for an upgrade to
 * Legate's JS codec (test/engine/upgrade-handoff.test.ts), and upgrade requests go upstream on JS
 * connections (the tunnel pool).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import {
  catchAllVirtualHost,
  catchAllYaml,
  fileAccessLogYaml,
  httpProxyYaml,
  rawExchange,
  request,
  runLegate,
  startLegate,
  staticCluster,
  stat,
  type LegateProcess,
} from './harness';
import { startUpgradeOrigin, type UpgradeOrigin } from '../support/upgrade-origin';
import { requireTool } from '../support/system-tools';
import { certPath } from '../tls/fixtures';
import { startConnectProxy, startTlsOrigin } from '../support/tunnel-peers';
import { startEcho } from '../l4/fixtures';
import { SPLICE_FILL, expectSplicedTunnels, pipeFdCount } from '../support/spliced-tunnels';

const WAIT_MS = 5000;
const execFileAsync = promisify(execFile);

/** Polls `check` every 20 ms until it holds; fails after `ms`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Legate with websocket enabled on the HCM, `echo` listed but disabled there (routes enable it),
 * and routes: `/off` (websocket disabled on the route), `/echo` and `/fin-first` (echo enabled
 * on the route), `/h2` to an HTTP/2 cluster, everything else to the origin.
 */
function upgradeYaml(origin: UpgradeOrigin, hcmExtra = ''): string {
  const route = (prefix: string, upgrades: string): string => `
- match: { prefix: "${prefix}" }
  route:
    cluster: o
    upgrade_configs: ${upgrades}`;
  return httpProxyYaml({
    hcmExtra: `
upgrade_configs:
- upgrade_type: websocket
- upgrade_type: echo
  enabled: false
${hcmExtra}`,
    virtualHosts: catchAllVirtualHost({
      routesBefore: [
        route('/off', '[{ upgrade_type: WebSocket, enabled: false }]'),
        route('/echo', '[{ upgrade_type: echo }]'),
        route('/fin-first', '[{ upgrade_type: echo, enabled: { value: true } }]'),
        `
- match: { prefix: "/h2" }
  route: { cluster: h2 }`,
      ].join(''),
    }),
    clusters:
      staticCluster('o', [origin.port]) +
      staticCluster(
        'h2',
        [origin.port],
        `typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config: { http2_protocol_options: {} }`,
      ),
  });
}

function openWebSocket(port: number, urlPath: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${urlPath}`, { maxPayload: 64 * 1024 * 1024 });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

/** The next message on `ws`, as it arrived. */
function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data: Buffer, isBinary) => resolve({ data, isBinary })),
  );
}

/** A raw client of an `Upgrade: echo` path: what it read, and when the proxy's FIN and close came. */
interface RawTunnel {
  socket: net.Socket;
  text(): string;
  ended: Promise<void>;
  closed: Promise<void>;
}

function rawUpgrade(port: number, urlPath: string, extraHead = '', early = ''): RawTunnel {
  return rawTunnel(
    port,
    `GET ${urlPath} HTTP/1.1\r\nhost: x\r\nupgrade: echo\r\nconnection: upgrade\r\n${extraHead}\r\n${early}`,
  );
}

/** A half-open capable client that sends `request` (a head, maybe tunnel bytes behind it). */
function rawTunnel(port: number, request: string): RawTunnel {
  const socket = net.connect(port, '127.0.0.1');
  socket.allowHalfOpen = true;
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.write(request);
  return {
    socket,
    text: () => text,
    ended: new Promise((r) => socket.once('end', r)),
    closed: new Promise((r) => socket.once('close', r)),
  };
}

/** Waits until no tunnel is open, in Legate and at the origin; `total` were opened. */
async function tunnelsEnded(legate: LegateProcess, origin: UpgradeOrigin, total: number): Promise<void> {
  await waitFor('the tunnels to end', async () => {
    return (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0;
  });
  assert.equal(await stat(legate, 'http.ingress_http.downstream_cx_upgrades_total'), total);
  await waitFor('the origin sockets to close', () => origin.openSockets === 0);
}

/** Sends `data` on a new connection; resolves with what came back once it matches `until` (3 s at most). */
function rawReply(port: number, data: string, until: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, 3000);
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until.test(text)) done();
    });
    socket.write(data);
  });
}

/**
 * `curl -p -x` through Legate at `proxyPort` to the test HTTPS origin at `tlsPort`: the body.
 * Not spawnSync: the peers (forward proxy, TLS origin) run on this event loop.
 */
async function curlThroughProxy(curl: string, proxyPort: number, tlsPort: number): Promise<string> {
  const r = await execFileAsync(curl, [
    '-sS',
    '--max-time',
    '5',
    '-p',
    '-x',
    `http://127.0.0.1:${proxyPort}`,
    '--cacert',
    certPath('ca.crt'),
    `https://127.0.0.1:${tlsPort}/`,
  ]);
  return r.stdout;
}

/**
 * Waits until `n` tunnels are open on the splice relay when this pass has it (the default), and
 * checks none is without it (LEGATE_NATIVE=0): each test runs on the path its pass has. A tunnel
 * moves once SPLICE_FILL went through it.
 */
type SplicedCheck = (n: number) => Promise<void>;

async function withUpgradeLegate(
  hcmExtra: string,
  body: (legate: LegateProcess, port: number, origin: UpgradeOrigin, spliced: SplicedCheck) => Promise<void>,
): Promise<void> {
  const origin = await startUpgradeOrigin();
  const legate = await startLegate(upgradeYaml(origin, hcmExtra), { concurrency: 1 });
  const pid = legate.proc.pid!;
  const basePipes = pipeFdCount(pid);
  try {
    await body(legate, legate.ports.get('proxy')!, origin, (n) => expectSplicedTunnels(pid, basePipes, n));
  } finally {
    await legate.stop();
    await origin.close();
  }
}

test('WebSocket through Legate: text, binary, fragmented and 16 MiB messages, ping/pong, many messages, close codes both ways', async () => {
  await withUpgradeLegate('', async (legate, port, origin, spliced) => {
    const ws = await openWebSocket(port, '/ws');
    assert.equal(await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active'), 1);

    ws.send('hello');
    assert.deepEqual(await nextMessage(ws), { data: Buffer.from('hello'), isBinary: false });

    const binary = Buffer.from([0, 1, 2, 255, 254, 13, 10]);
    ws.send(binary);
    assert.deepEqual(await nextMessage(ws), { data: binary, isBinary: true });

    // One message in three frames.
    ws.send('frag-', { fin: false });
    ws.send('ment-', { fin: false });
    ws.send('ed', { fin: true });
    assert.equal((await nextMessage(ws)).data.toString(), 'frag-ment-ed');

    const big = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    ws.send(big);
    const echoed = await nextMessage(ws);
    assert.equal(echoed.data.length, big.length);
    assert.ok(echoed.data.equals(big), 'the 16 MiB message came back intact');
    await spliced(1); // what follows runs on the relay

    const big2 = Buffer.from(big).reverse();
    ws.send(big2);
    assert.ok((await nextMessage(ws)).data.equals(big2), 'a 16 MiB message on the relay came back intact');

    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping(Buffer.from('are you there'));
    assert.equal((await pong).toString(), 'are you there');

    // Many messages in flight on one connection: all come back, in order.
    const COUNT = 2000;
    const received: string[] = [];
    const all = new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        received.push(d.toString());
        if (received.length === COUNT) resolve();
      }),
    );
    for (let i = 0; i < COUNT; i++) ws.send(`m${i}`);
    await all;
    ws.removeAllListeners('message');
    assert.deepEqual(
      received,
      Array.from({ length: COUNT }, (_, i) => `m${i}`),
    );

    // The client closes with a code: the server sees it, the client gets its answer.
    const clientClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(4001, 'client bye');
    assert.equal(await clientClosed, 4001);
    await waitFor('the server to see the close', () => origin.closesReceived.length === 1);
    assert.deepEqual(origin.closesReceived[0], { code: 4001, reason: 'client bye' });

    // The server closes with a code: the client sees it.
    const ws2 = await openWebSocket(port, '/ws');
    const serverClosed = new Promise<[number, string]>((resolve) =>
      ws2.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    ws2.send('close-me');
    assert.deepEqual(await serverClosed, [4002, 'server bye']);

    await tunnelsEnded(legate, origin, 2);
  });
});

test('upgrades not enabled get 403 (HCM or route), a refused upgrade is an ordinary response, Upgrade without Connection: upgrade and h2c are plain requests', async () => {
  await withUpgradeLegate('', async (legate, port, origin) => {
    const head = (urlPath: string, upgrade: string, connection = 'upgrade'): string =>
      `GET ${urlPath} HTTP/1.1\r\nhost: x\r\nupgrade: ${upgrade}\r\nconnection: ${connection}\r\n\r\n`;
    const forbidden = /^HTTP\/1\.1 403 [^]*\r\n\r\n$/;
    // Disabled on the route, though the HCM enables it.
    assert.match(await rawReply(port, head('/off', 'websocket'), forbidden), forbidden);
    // Not configured at all.
    assert.match(await rawReply(port, head('/ws', 'spdy/3'), forbidden), forbidden);
    // Listed but disabled on the HCM, and not enabled by this route.
    assert.match(await rawReply(port, head('/ws', 'echo'), forbidden), forbidden);
    assert.equal(await stat(legate, 'http.ingress_http.downstream_rq_ws_on_non_ws_route'), 3);
    assert.equal(origin.upgradeRequests.length, 0, 'none of them reached the origin');

    // The upstream refuses: its answer is passed on, and the connection serves the next request.
    const refusedThenPlain = await rawExchange(
      port,
      head('/refuse', 'websocket') + 'GET /plain HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
      3000,
    );
    assert.match(refusedThenPlain, /^HTTP\/1\.1 400 [^]*\r\n\r\nrefused/);
    assert.match(refusedThenPlain, /HTTP\/1\.1 200 [^]*\r\n\r\nplain$/);
    assert.equal(origin.upgradeRequests.at(-1)?.headers.upgrade, 'websocket', 'Upgrade forwarded');
    assert.equal(origin.upgradeRequests.at(-1)?.headers.connection, 'upgrade');

    // Not an upgrade: Upgrade without Connection: upgrade, and h2c (ignored, as Envoy does).
    const notUpgrades = [head('/x', 'websocket', 'keep-alive'), head('/y', 'h2c', 'upgrade, http2-settings')];
    for (const h of notUpgrades) {
      const reply = await rawReply(port, h.replace('\r\n\r\n', '\r\nhttp2-settings: AAA\r\n\r\n'), /plain$/);
      assert.match(reply, /^HTTP\/1\.1 200 [^]*plain$/, h);
    }
    assert.equal(origin.upgradeRequests.length, 1, 'the plain requests reached the origin as plain requests');
    const plain = await request(port, { path: '/plain', headers: { upgrade: 'h2c', connection: 'upgrade' } });
    assert.equal(plain.status, 200);
  });
});

test('bad upgrades: a body on an upgrade request is 400; a 101 without Upgrade, or unasked for, is 503; an upgrade to an HTTP/2 cluster is 403; nothing hangs', async () => {
  await withUpgradeLegate('', async (legate, port, origin) => {
    const withBody = await rawExchange(
      port,
      'GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\ncontent-length: 5\r\n\r\nhello',
      3000,
    );
    assert.match(withBody, /^HTTP\/1\.1 400 /);
    const chunked = await rawExchange(
      port,
      'GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      3000,
    );
    assert.match(chunked, /^HTTP\/1\.1 400 /);
    assert.equal(origin.upgradeRequests.length, 0);

    // The answer comes at once, not after a timeout (the connection stays open for the next request).
    const broken = await rawReply(
      port,
      'GET /no-upgrade-field HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
      /protocol error$/,
    );
    assert.match(broken, /^HTTP\/1\.1 503 [^]*protocol error$/);
    // A 101 to a request that asked for no upgrade.
    const unasked = await rawReply(port, 'GET /unasked-101 HTTP/1.1\r\nhost: x\r\n\r\n', /protocol error$/);
    assert.match(unasked, /^HTTP\/1\.1 503 [^]*protocol error$/);
    assert.equal(await stat(legate, 'cluster.o.upstream_cx_protocol_error'), 2);
    // An upgrade to an HTTP/2 cluster would need extended CONNECT upstream.
    const forbidden = /^HTTP\/1\.1 403 /;
    const h2 = 'GET /h2 HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n';
    assert.match(await rawReply(port, h2, forbidden), forbidden);
    assert.equal(await stat(legate, 'http.ingress_http.downstream_cx_upgrades_total'), 0);
  });
});

test('tunnel half-close: the client’s FIN reaches the upstream and its reply still arrives; the upstream’s FIN reaches the client, whose bytes still arrive', async () => {
  await withUpgradeLegate('', async (legate, port, origin, spliced) => {
    // Bytes sent right behind the upgrade request, before the 101, are the tunnel's first bytes.
    const eager = rawUpgrade(port, '/echo', '', 'eager bytes');
    await waitFor('the eager bytes back', () => eager.text().endsWith('\r\n\r\neager bytes'));
    eager.socket.end();
    await eager.closed;

    // Client first: it sends, half-closes, and still reads the origin's last words.
    const first = rawUpgrade(port, '/echo');
    await waitFor('the 101', () => first.text().includes('\r\n\r\n'));
    first.socket.write(SPLICE_FILL);
    await waitFor('the fill echoed', () => first.text().endsWith(SPLICE_FILL));
    await spliced(1);
    assert.match(first.text(), /^HTTP\/1\.1 101 [^]*upgrade: echo\r\n/i);
    assert.match(first.text(), /connection: upgrade\r\n/i);
    first.socket.write('ping-1');
    await waitFor('the echo', () => first.text().endsWith('ping-1'));
    first.socket.end('ping-2');
    await first.ended;
    assert.ok(first.text().endsWith('ping-1ping-2bye'), first.text());
    await first.closed;

    // Upstream first: the client reads `hello` and the FIN, then still sends.
    const second = rawUpgrade(port, '/fin-first', '');
    await second.ended;
    assert.ok(second.text().endsWith('\r\n\r\nhello'), second.text());
    second.socket.end('late words');
    await second.closed;
    await waitFor('the origin to get the late words', () => origin.afterFin.length === 1);
    assert.equal(origin.afterFin[0], 'late words');

    await tunnelsEnded(legate, origin, 3);
  });
});

test('tunnel resets: a client reset closes the upstream connection, an upstream close mid-tunnel closes the client', async () => {
  await withUpgradeLegate('', async (legate, port, origin, spliced) => {
    const tunnel = rawUpgrade(port, '/echo');
    tunnel.socket.write(SPLICE_FILL + 'x');
    await waitFor('the echo', () => tunnel.text().endsWith('x'));
    assert.equal(origin.openSockets, 1);
    await spliced(1);
    tunnel.socket.resetAndDestroy();
    await waitFor('the upstream connection to close', () => origin.openSockets === 0);
    await spliced(0);

    const ws = await openWebSocket(port, '/ws');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await waitFor('the origin socket', () => origin.openSockets === 1);
    ws.send(SPLICE_FILL);
    await nextMessage(ws);
    await spliced(1);
    await origin.close(); // destroys the upgraded socket without a close frame
    assert.equal(await closed, 1006, 'abnormal closure: the connection went away');
    await waitFor('the tunnels to end', async () => {
      return (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0;
    });
  });
});

test('stream_idle_timeout applies to a tunnel: a silent one is closed, a chatty one lives on; the access log has bytes, duration and flags', async () => {
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-upgrade-')), 'access.log');
  const IDLE_MS = 500;
  const hcmExtra = `
stream_idle_timeout: ${IDLE_MS / 1000}s
${fileAccessLogYaml(logFile, '%REQ(:PATH)% %RESPONSE_CODE% %BYTES_RECEIVED% %BYTES_SENT% %RESPONSE_FLAGS% %DURATION%')}`;
  await withUpgradeLegate(hcmExtra, async (legate, port, _origin, spliced) => {
    // Both move to the relay after their first bytes (in a few ms): the timeout runs on it.
    const chatty = rawUpgrade(port, '/echo', '', SPLICE_FILL);
    const silent = rawUpgrade(port, '/echo', '', SPLICE_FILL);
    const started = Date.now();
    await spliced(2);
    let silentMs = -1;
    // Legate closes the connection (this client would keep its own half open).
    void silent.ended.then(() => (silentMs = Date.now() - started));
    // Three times the timeout, a byte every fifth of it.
    for (let i = 0; i < 15; i++) {
      chatty.socket.write('.');
      await new Promise((r) => setTimeout(r, IDLE_MS / 5));
    }
    assert.ok(
      silentMs >= IDLE_MS && silentMs < IDLE_MS * 2.5,
      `the silent tunnel closed after ${silentMs} ms`,
    );
    assert.ok(!chatty.socket.destroyed && chatty.text().endsWith('.'.repeat(15)), 'the chatty one lives');
    assert.equal(await stat(legate, 'http.ingress_http.downstream_rq_idle_timeout'), 1);
    chatty.socket.end();
    await chatty.closed;
    await legate.stop();
    const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    const silentLine = lines.find((l) => / SI /.test(l));
    assert.ok(silentLine !== undefined, lines.join('\n'));
    const fill = SPLICE_FILL.length;
    assert.match(silentLine, new RegExp(`^/echo 101 ${fill} ${fill} SI \\d+$`));
    // The chatty tunnel: the fill and 15 bytes up, the same back plus `bye` after the 101's head.
    const chattyLine = lines.find((l) => l !== silentLine);
    const m = new RegExp(`^/echo 101 ${fill + 15} ${fill + 15 + 3} - (\\d+)$`).exec(chattyLine ?? '');
    assert.ok(m !== null, lines.join('\n'));
    assert.ok(Number(m[1]) >= IDLE_MS * 3, `duration ${m[1]} ms covers the tunnel's life`);
  });
});

test('upgrade_configs: the uws codec refuses them; per-upgrade filters, a repeated upgrade_type, connect_config off CONNECT and its allow_post are clear errors', async () => {
  const origin = await startUpgradeOrigin();
  try {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-upgrade-config-'));
    const file = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(file, upgradeYaml(origin));
    const uws = await runLegate(['-c', file, '--http1-codec', 'uws', '--mode', 'validate']);
    assert.equal(uws.code, 1);
    assert.match(uws.stdout + uws.stderr, /uws codec cannot turn a connection into a tunnel/);

    const bad = upgradeYaml(origin)
      .replace(
        '- upgrade_type: websocket\n',
        `- upgrade_type: websocket
            filters: [{ name: envoy.filters.http.router }]
          - upgrade_type: WEBSOCKET
`,
      )
      .replace(
        'upgrade_configs: [{ upgrade_type: echo }]',
        'upgrade_configs: [{ upgrade_type: echo, connect_config: {} }, { upgrade_type: CONNECT, connect_config: { allow_post: true } }]',
      );
    fs.writeFileSync(file, bad);
    const r = await runLegate(['-c', file, '--mode', 'validate']);
    const out = r.stdout + r.stderr;
    assert.equal(r.code, 1, out);
    assert.match(out, /upgrade_configs\[0\]\.filters: not supported by Legate yet/);
    assert.match(out, /upgrade_type 'websocket' is configured more than once/);
    assert.match(
      out,
      /upgrade_configs\[0\]\.connect_config: connect_config is for upgrade_type 'CONNECT' only/,
    );
    assert.match(out, /connect_config\.allow_post: not supported by Legate yet/);

    fs.writeFileSync(file, upgradeYaml(origin));
    const ok = await runLegate(['-c', file, '--mode', 'validate']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  } finally {
    await origin.close();
  }
});

test('CONNECT is proxied upstream on a connect_matcher route when upgrade_type CONNECT is enabled; a bad authority is 400, CONNECT elsewhere 403', async (t) => {
  const forward = await startConnectProxy();
  const echo = await startEcho();
  const tlsOrigin = await startTlsOrigin();
  const tlsPort = tlsOrigin.port;
  const legate = await startLegate(
    httpProxyYaml({
      hcmExtra: 'upgrade_configs: [{ upgrade_type: CONNECT }]',
      virtualHosts: `
- name: proxied
  domains: ["127.0.0.1:${echo.port}", "127.0.0.1:${tlsPort}"]
  routes:
  - match: { connect_matcher: {} }
    route: { cluster: forward }
- name: other
  domains: ["*"]
  routes:
  - match: { connect_matcher: {} }
    route: { cluster: forward, upgrade_configs: [{ upgrade_type: connect, enabled: false }] }
  - match: { prefix: "/" }
    route: { cluster: forward }`,
      clusters: staticCluster('forward', [forward.port]),
    }),
    { concurrency: 1 },
  );
  try {
    const port = legate.ports.get('proxy')!;
    const basePipes = pipeFdCount(legate.proc.pid!);
    // Through Legate and the forward proxy to the echo server: bytes both ways, then half-close.
    const target = `127.0.0.1:${echo.port}`;
    const tunnel = rawTunnel(port, `CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
    await waitFor('the 200', () => tunnel.text().includes('\r\n\r\n'));
    tunnel.socket.write(SPLICE_FILL);
    await waitFor('the fill echoed', () => tunnel.text().endsWith(SPLICE_FILL));
    await expectSplicedTunnels(legate.proc.pid!, basePipes, 1);
    assert.match(tunnel.text(), /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(
      tunnel.text(),
      /content-length|transfer-encoding/i,
      'a 2xx to CONNECT has no framing',
    );
    tunnel.socket.write('through the tunnel');
    await waitFor('the echo', () => tunnel.text().endsWith('through the tunnel'));
    tunnel.socket.end('!');
    await tunnel.ended;
    assert.ok(tunnel.text().endsWith('through the tunnel!'), tunnel.text());
    tunnel.socket.destroy();
    assert.deepEqual(
      forward.requests.map((r) => r.target),
      [`127.0.0.1:${echo.port}`],
    );

    const curl = requireTool(t, 'curl');
    if (curl !== null) assert.equal(await curlThroughProxy(curl, port, tlsPort), 'over tls\r\n');

    const bad = /^HTTP\/1\.1 400 /;
    for (const target of ['127.0.0.1', '127.0.0.1:99999', 'user@127.0.0.1:80', '/path:80']) {
      assert.match(await rawReply(port, `CONNECT ${target} HTTP/1.1\r\nhost: x\r\n\r\n`, bad), bad, target);
    }
    const forbidden = /^HTTP\/1\.1 403 /;
    assert.match(
      await rawReply(port, 'CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n', forbidden),
      forbidden,
      'the other virtual host disables CONNECT on its route',
    );
    assert.equal(forward.requests.length, curl === null ? 1 : 2);
    await waitFor('the tunnels to end', async () => {
      return (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0;
    });
  } finally {
    await legate.stop();
    await forward.close();
    await echo.close();
    await tlsOrigin.close();
  }
});

test('CONNECT terminated by a connect_config route: TCP to the cluster, 200 from Legate, half-close, curl -p -x to a TLS origin, 503 when the cluster refuses', async (t) => {
  const echo = await startEcho();
  const tlsOrigin = await startTlsOrigin();
  const refused = net.createServer();
  await new Promise<void>((r) => refused.listen(0, '127.0.0.1', r));
  const refusedPort = (refused.address() as net.AddressInfo).port;
  await new Promise((r) => refused.close(r)); // nothing listens there now
  const terminate = (domain: string, cluster: string): string => `
- name: ${cluster}
  domains: ["${domain}"]
  routes:
  - match: { connect_matcher: {} }
    route:
      cluster: ${cluster}
      upgrade_configs: [{ upgrade_type: CONNECT, connect_config: {} }]`;
  const legate = await startLegate(
    httpProxyYaml({
      hcmExtra: 'upgrade_configs: [{ upgrade_type: CONNECT }]',
      virtualHosts: [
        terminate('echo.test:7', 'echo'),
        terminate(`127.0.0.1:${tlsOrigin.port}`, 'tls'),
        terminate('refused.test:1', 'refused'),
      ].join(''),
      clusters:
        staticCluster('echo', [echo.port]) +
        staticCluster('tls', [tlsOrigin.port]) +
        staticCluster('refused', [refusedPort]),
    }),
    { concurrency: 1 },
  );
  try {
    const port = legate.ports.get('proxy')!;
    const basePipes = pipeFdCount(legate.proc.pid!);
    // Eager bytes right behind the CONNECT: the first of the tunnel's.
    const tunnel = rawTunnel(
      port,
      `CONNECT echo.test:7 HTTP/1.1\r\nhost: echo.test:7\r\n\r\n${SPLICE_FILL}eager `,
    );
    await waitFor('the echo', () => tunnel.text().endsWith('eager '));
    await expectSplicedTunnels(legate.proc.pid!, basePipes, 1);
    assert.match(tunnel.text(), /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(tunnel.text(), /content-length|transfer-encoding/i);
    tunnel.socket.write('later');
    await waitFor('the echo', () => tunnel.text().endsWith('eager later'));
    tunnel.socket.end();
    await tunnel.ended; // the echo server ended after our FIN, and Legate passed its FIN on
    tunnel.socket.destroy();

    const curl = requireTool(t, 'curl');
    if (curl !== null) assert.equal(await curlThroughProxy(curl, port, tlsOrigin.port), 'over tls\r\n');

    const unavailable = /^HTTP\/1\.1 503 [^]*connection failure/;
    assert.match(
      await rawReply(port, 'CONNECT refused.test:1 HTTP/1.1\r\nhost: refused.test:1\r\n\r\n', unavailable),
      unavailable,
    );
    assert.equal(await stat(legate, 'cluster.refused.upstream_cx_connect_fail'), 1);
    await waitFor('the tunnels to end', async () => {
      return (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0;
    });
    assert.equal(await stat(legate, 'cluster.echo.upstream_cx_active'), 0);
    // Counted whichever way they went: the fill through JS, `later` on the relay.
    assert.equal(
      await stat(legate, 'cluster.echo.upstream_cx_rx_bytes_total'),
      SPLICE_FILL.length + 'eager later'.length,
    );
  } finally {
    await legate.stop();
    await echo.close();
    await tlsOrigin.close();
  }
});

test('the uws codec, which cannot tunnel, answers upgrade requests 403', async () => {
  const origin = await startUpgradeOrigin();
  const legate = await startLegate(catchAllYaml([origin.port]), {
    concurrency: 1,
    args: ['--http1-codec', 'uws'],
  });
  try {
    const forbidden = /^HTTP\/1\.1 403 /;
    const head = 'GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n';
    assert.match(await rawReply(legate.ports.get('proxy')!, head, forbidden), forbidden);
    assert.equal(origin.upgradeRequests.length, 0);
  } finally {
    await legate.stop();
    await origin.close();
  }
});
