/**
 * TLS terminated by the native engine (native-bindings/src/engine/tls.c): which TLS listeners it
 * serves (and why the others stay on Node's TLS), bodies through SSL_read / SSL_write both ways
 * (piped from the origin, uploaded, to a slow reader), pipelined requests, codec_type AUTO without
 * ALPN h2 and with it (HTTP/2 served by JS over the engine's TLS, tls_bridge.c), an upgrade
 * tunnelled the same way, and no file descriptor or memory left behind by thousands of handshakes
 * that succeed, fail or are cut off. Each test holds on every pass: on the JS passes (LEGATE_ENGINE=js,
 * LEGATE_NATIVE=0) the same listeners run on Node's TLS.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { after, before, test } from 'node:test';
import { NativeEngine } from '../../src/engine/native-engine';
import { startUpgradeOrigin } from '../support/upgrade-origin';
import {
  admin,
  startLegate,
  startLegateArgs,
  startOrigin,
  stat,
  type LegateProcess,
  type Origin,
} from '../integration/harness';
import {
  certPath,
  chainYaml,
  GET,
  listenerYaml,
  pem,
  staticCluster,
  tlsClient,
  tlsSocketYaml,
} from './fixtures';

/** Where a TLS listener the engine can terminate runs in this pass. */
const EXPECTED_PATH =
  NativeEngine.unavailableReason() === null && NativeEngine.tlsUnavailableReason() === null ? 'native' : 'js';

const SIZE = 8 * 1024 * 1024;
const download = randomBytes(SIZE);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let origin: Origin;
before(async () => {
  origin = await startOrigin((req, res, body) => {
    res.setHeader('x-upload-sha256', sha256(body));
    if (req.url === '/big') {
      res.setHeader('content-length', SIZE);
      res.end(download);
    } else if (req.url === '/big-chunked') {
      res.write(download.subarray(0, SIZE / 2));
      res.end(download.subarray(SIZE / 2));
    } else {
      res.end(`origin ${req.method} ${req.url}\n`);
    }
  });
});
after(async () => {
  await origin.close();
});

function yamlWith(o: { tls?: string; hcmExtra?: string } = {}): string {
  return listenerYaml({
    chains: [chainYaml({ cluster: 'origin', tls: o.tls ?? tlsSocketYaml({}), hcmExtra: o.hcmExtra })],
    clusters: [staticCluster('origin', origin.port)],
  });
}

async function withLegate(
  yaml: string,
  body: (port: number, lp: LegateProcess) => Promise<void>,
): Promise<void> {
  const lp = await startLegate(yaml, { concurrency: 1 });
  try {
    await body(lp.ports.get('proxy')!, lp);
  } finally {
    await lp.stop();
  }
}

async function dataPath(lp: LegateProcess): Promise<string> {
  const listeners = JSON.parse((await admin(lp, '/listeners?format=json')).body.toString()) as {
    listener_statuses: { legate_data_path: string }[];
  };
  return listeners.listener_statuses[0]!.legate_data_path;
}

test(`TLS listeners the engine terminates run on the ${EXPECTED_PATH} path; the others on Node's TLS, saying why`, async () => {
  const cases: [string, string, string | null, Parameters<typeof tlsClient>[1]?][] = [
    [
      'one HCM chain, RSA + ECDSA',
      yamlWith({ tls: tlsSocketYaml({ certs: ['server-rsa', 'server-ec'] }) }),
      null,
    ],
    [
      'codec_type AUTO, alpn http/1.1',
      yamlWith({ tls: tlsSocketYaml({ common: 'alpn_protocols: [http/1.1]' }) }),
      null,
    ],
    [
      'client certificates',
      yamlWith({
        tls: tlsSocketYaml({
          common: `validation_context:\n  trusted_ca: { filename: ${certPath('ca.crt')} }`,
          context: 'require_client_certificate: true',
        }),
      }),
      'require_client_certificate (mTLS)',
      { cert: pem('client.crt'), key: pem('client.key') },
    ],
    [
      'codec_type AUTO with alpn h2 (an HTTP/1.1 client)',
      yamlWith({ tls: tlsSocketYaml({ common: 'alpn_protocols: [h2, http/1.1]' }) }),
      null,
    ],
    ['upgrade_configs', yamlWith({ hcmExtra: 'upgrade_configs: [{ upgrade_type: websocket }]' }), null],
    [
      'several certificates of one key type',
      yamlWith({ tls: tlsSocketYaml({ certs: ['server-rsa', 'server-b'] }) }),
      'several certificates of one key type (chosen by SNI)',
    ],
  ];
  for (const [name, yaml, reason, client] of cases) {
    await withLegate(yaml, async (port, lp) => {
      assert.equal(await dataPath(lp), reason === null ? EXPECTED_PATH : 'js', name);
      if (EXPECTED_PATH === 'native') {
        const said =
          reason === null ? 'TLS terminated by the native engine' : `not on the native engine: ${reason}`;
        assert.ok(lp.output().includes(said), `${name}: the log says "${said}"`);
      }
      const r = await tlsClient(port, { ...client, request: GET('/x') });
      assert.match(r.response, /^HTTP\/1\.1 200 /, name);
      assert.match(r.response, /origin GET \/x/, name);
    });
  }
});

test("LEGATE_ENGINE_TLS=js: TLS listeners stay on Node's TLS, saying so, and serve as before", async () => {
  const lp = await startLegate(yamlWith(), { concurrency: 1, env: { LEGATE_ENGINE_TLS: 'js' } });
  try {
    assert.equal(await dataPath(lp), 'js');
    if (NativeEngine.unavailableReason() === null)
      assert.match(
        lp.output(),
        /TLS on Node's TLS sockets \(not on the native engine: disabled by LEGATE_ENGINE_TLS=js\)/,
      );
    const r = await tlsClient(lp.ports.get('proxy')!, { request: GET('/x') });
    assert.match(r.response, /^HTTP\/1\.1 200 /);
  } finally {
    await lp.stop();
  }
});

/** An HTTPS request to the listener: status, body, and the client's TLS socket's view. */
function httpsRequest(
  port: number,
  path: string,
  o: { method?: string; body?: Buffer; chunked?: boolean; slowReadMs?: number; agent?: https.Agent } = {},
): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: o.method ?? 'GET',
        ca: pem('ca.crt'),
        servername: 'a.example',
        agent: o.agent ?? false,
        headers: o.body !== undefined && !o.chunked ? { 'content-length': o.body.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        if (o.slowReadMs !== undefined) {
          // Stop reading for a while: the engine's output backs up behind SSL_write, then drains.
          res.pause();
          setTimeout(() => res.resume(), o.slowReadMs);
        }
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (o.body !== undefined) {
      // Written in pieces: several records, several reads on the engine's side.
      for (let off = 0; off < o.body.length; off += 100_000) req.write(o.body.subarray(off, off + 100_000));
    }
    req.end();
  });
}

test('8 MiB through TLS both ways: downloads piped from the origin (both framings, a slow reader), uploads (both framings)', async () => {
  await withLegate(yamlWith(), async (port) => {
    for (const path of ['/big', '/big-chunked']) {
      for (const slowReadMs of [undefined, 300]) {
        const r = await httpsRequest(port, path, { slowReadMs });
        assert.equal(r.status, 200, path);
        assert.equal(r.body.length, SIZE, `${path} slow=${slowReadMs}`);
        assert.equal(sha256(r.body), sha256(download), `${path} slow=${slowReadMs}`);
      }
    }
    const upload = randomBytes(SIZE);
    for (const chunked of [false, true]) {
      const r = await httpsRequest(port, '/up', { method: 'POST', body: upload, chunked });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-upload-sha256'], sha256(upload), `chunked=${chunked}`);
    }
  });
});

test('keep-alive and pipelining over TLS: responses in order, one connection', async () => {
  await withLegate(yamlWith(), async (port, lp) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pem('ca.crt'), servername: 'a.example' });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    const ask = (paths: string[]): string =>
      paths.map((p) => `GET ${p} HTTP/1.1\r\nhost: a.example\r\n\r\n`).join('');
    // Three requests in one record, then two more one by one on the same connection.
    socket.write(ask(['/1', '/2', '/3']));
    const until = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && (received.match(/origin GET/g) ?? []).length < n; i++)
        await new Promise((r) => setTimeout(r, 20));
    };
    await until(3);
    socket.write(ask(['/4']));
    await until(4);
    socket.write(ask(['/5']));
    await until(5);
    socket.destroy();
    assert.deepEqual(
      [...received.matchAll(/origin GET (\/\d)/g)].map((m) => m[1]),
      ['/1', '/2', '/3', '/4', '/5'],
    );
    assert.equal(await stat(lp, 'listener.127.0.0.1_0.ssl.handshake'), 1);
    assert.equal(await stat(lp, 'http.ingress.downstream_rq_total'), 5);
  });
});

test('codec_type AUTO without ALPN h2: HTTP/1 over TLS; the HTTP/2 preface is not sniffed in the decrypted bytes (as on Node TLS)', async () => {
  await withLegate(yamlWith(), async (port) => {
    const ok = await tlsClient(port, { request: GET('/auto') });
    assert.match(ok.response, /^HTTP\/1\.1 200 /);
    // On TLS the codec follows ALPN only: a client that skips ALPN and speaks HTTP/2 gets HTTP/1's 400.
    const preface = await tlsClient(port, { request: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' });
    assert.match(preface.response, /^HTTP\/1\.1 400 /);
  });
});

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssBytes(pid: number): number {
  const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
  return pages * 4096;
}

/** The ClientHello node:tls sends (captured from a listener that only reads it). */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  const hello = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = tls.connect({
    port: (server.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    servername: 'a.example',
  });
  client.on('error', () => {});
  const bytes = await hello;
  server.close();
  return bytes;
}

/** One connection that ends as `how` says: after a request, mid-handshake, with garbage, or never speaking. */
function connection(
  port: number,
  how: 'request' | 'mid-handshake' | 'garbage' | 'silent-reset',
  clientHello: Buffer,
): Promise<void> {
  return new Promise((resolve) => {
    if (how === 'request') {
      void tlsClient(port, { request: GET() }).then(() => resolve());
      return;
    }
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    // The server's first flight came: cut the handshake off there.
    sock.on('data', () => sock.resetAndDestroy());
    sock.on('close', () => resolve());
    sock.on('connect', () => {
      if (how === 'garbage') sock.end(Buffer.alloc(200, 0x47));
      else if (how === 'silent-reset') setTimeout(() => sock.resetAndDestroy(), 5);
      else sock.write(clientHello);
    });
  });
}

test('thousands of TLS connections that succeed, fail or are cut off leave no fd behind (nor memory, on the engine)', async (t) => {
  if (process.platform !== 'linux') {
    t.skip('reads /proc');
    return;
  }
  await withLegate(yamlWith({ tls: tlsSocketYaml({ certs: ['server-rsa'] }) }), async (port, lp) => {
    const pid = lp.proc.pid!;
    const kinds = ['request', 'mid-handshake', 'garbage', 'silent-reset'] as const;
    const hello = await captureClientHello();
    const round = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += 20)
        await Promise.all(
          Array.from({ length: 20 }, (_, k) => connection(port, kinds[(i + k) % kinds.length]!, hello)),
        );
    };
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 50 && (await stat(lp, 'listener.127.0.0.1_0.downstream_cx_active')) > 0; i++)
        await new Promise((r) => setTimeout(r, 20));
    };
    await round(400); // warm-up: allocator pools, JIT
    await settle();
    const fds = openFds(pid);
    const rss = rssBytes(pid);
    await round(2000);
    await settle();
    // The engine closes a connection at the end of its dispatch: give the last ones a moment.
    let fdsAfter = openFds(pid);
    for (let i = 0; i < 50 && fdsAfter > fds; i++) {
      await new Promise((r) => setTimeout(r, 20));
      fdsAfter = openFds(pid);
    }
    assert.ok(fdsAfter <= fds, `fds ${fds} -> ${fdsAfter}`);
    const grown = rssBytes(pid) - rss;
    // The engine's SSL objects are freed at close; on Node's TLS the V8 heap grows until a GC, which
    // says nothing of a leak, so RSS is held to a bound on the engine only.
    if (EXPECTED_PATH === 'native')
      assert.ok(
        grown < 16 * 1024 * 1024,
        `RSS grew ${(grown / 1048576).toFixed(1)} MiB over 2000 connections`,
      );
    t.diagnostic(`fds ${fds} -> ${fdsAfter}, RSS +${(grown / 1048576).toFixed(1)} MiB`);
    const handshakes = await stat(lp, 'listener.127.0.0.1_0.ssl.handshake');
    const errors = await stat(lp, 'listener.127.0.0.1_0.ssl.connection_error');
    assert.equal(handshakes, 600, 'every requesting client was served');
    assert.equal(handshakes + errors, 2400, 'every connection was counted once');
    assert.equal(await stat(lp, 'listener.127.0.0.1_0.downstream_cx_total'), 2400);
  });
});

test('ssl.curves.* count the group each handshake used, in Envoy spelling (on the engine; Node TLS cannot tell)', async () => {
  await withLegate(yamlWith(), async (port, lp) => {
    for (const ecdhCurve of ['X25519', 'P-256', 'P-256'])
      assert.match((await tlsClient(port, { ecdhCurve, request: GET() })).response, /^HTTP\/1\.1 200 /);
    const counted = EXPECTED_PATH === 'native';
    assert.equal(await stat(lp, 'listener.127.0.0.1_0.ssl.curves.X25519'), counted ? 1 : 0);
    assert.equal(await stat(lp, 'listener.127.0.0.1_0.ssl.curves.P-256'), counted ? 2 : 0);
    assert.equal(await stat(lp, 'listener.127.0.0.1_0.ssl.handshake'), 3);
  });
});

/** Opens an HTTP/2 session over TLS (ALPN h2), runs `body`, closes it. */
async function withH2<T>(port: number, body: (session: http2.ClientHttp2Session) => Promise<T>): Promise<T> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: pem('ca.crt'), servername: 'a.example' });
  session.on('error', () => {});
  try {
    return await body(session);
  } finally {
    await new Promise<void>((resolve) => session.close(resolve));
  }
}

function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  upload?: Buffer,
): Promise<{ status: number; body: Buffer; headers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': upload === undefined ? 'GET' : 'POST' });
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (headers = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      resolve({ status: Number(headers[':status']), body: Buffer.concat(chunks), headers }),
    );
    stream.on('error', reject);
    stream.end(upload);
  });
}

test('codec_type AUTO with alpn h2: HTTP/2 clients are served by node:http2 over the engine’s TLS, HTTP/1.1 clients in C, no fd left', async (t) => {
  await withLegate(
    yamlWith({ tls: tlsSocketYaml({ common: 'alpn_protocols: [h2, http/1.1]' }) }),
    async (port, lp) => {
      assert.equal(await dataPath(lp), EXPECTED_PATH);
      const pid = lp.proc.pid!;
      const upload = randomBytes(2 * 1024 * 1024);
      await withH2(port, async (session) => {
        // Concurrent streams, a download piped through the bridge, an upload.
        const small = await Promise.all(['/a', '/b', '/c'].map((p) => h2Request(session, p)));
        assert.deepEqual(
          small.map((r) => r.body.toString()),
          ['origin GET /a\n', 'origin GET /b\n', 'origin GET /c\n'],
        );
        const big = await h2Request(session, '/big');
        assert.equal(sha256(big.body), sha256(download));
        const up = await h2Request(session, '/up', upload);
        assert.equal(up.headers['x-upload-sha256'], sha256(upload));
      });
      const h1 = await tlsClient(port, { ALPNProtocols: ['http/1.1'], request: GET('/h1') });
      assert.equal(h1.alpn, 'http/1.1');
      assert.match(h1.response, /origin GET \/h1/);
      // Sessions opened and closed one after another leave nothing open behind them (the baseline
      // holds the origin pool's connections, made above).
      const fds = openFds(pid);
      for (let i = 0; i < 40; i++) await withH2(port, (session) => h2Request(session, `/s${i}`));
      let after = openFds(pid);
      for (let i = 0; i < 50 && after > fds; i++) {
        await new Promise((r) => setTimeout(r, 20));
        after = openFds(pid);
      }
      t.diagnostic(`fds ${fds} -> ${after}`);
      assert.ok(after <= fds, `fds ${fds} -> ${after}`);
      assert.equal(await stat(lp, 'listener.127.0.0.1_0.ssl.handshake'), 42);
    },
  );
});

test('an upgrade over TLS: the engine keeps the session, JS tunnels over the bridge; both ends close cleanly', async () => {
  const upgradeOrigin = await startUpgradeOrigin();
  const yaml = listenerYaml({
    chains: [
      chainYaml({
        cluster: 'u',
        tls: tlsSocketYaml({}),
        hcmExtra: 'upgrade_configs: [{ upgrade_type: echo }]',
      }),
    ],
    clusters: [staticCluster('u', upgradeOrigin.port)],
  });
  try {
    await withLegate(yaml, async (port, lp) => {
      assert.equal(await dataPath(lp), EXPECTED_PATH);
      const socket = tls.connect({ host: '127.0.0.1', port, ca: pem('ca.crt'), servername: 'a.example' });
      socket.allowHalfOpen = true;
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      const ended = new Promise<void>((resolve) => socket.once('end', resolve));
      const until = async (pattern: RegExp, what: string): Promise<void> => {
        for (let i = 0; i < 250 && !pattern.test(text); i++) await new Promise((r) => setTimeout(r, 20));
        assert.match(text, pattern, what);
      };
      await new Promise<void>((resolve) => socket.once('secureConnect', resolve));
      socket.write('GET /plain HTTP/1.1\r\nhost: x\r\n\r\n');
      await until(/plain/, 'a plain request first');
      socket.write('GET /echo HTTP/1.1\r\nhost: x\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\nearly');
      await until(/101 Switching Protocols[^]*\r\n\r\nearly$/, 'the 101 and the early bytes echoed');
      const bulk = randomBytes(256 * 1024).toString('hex'); // 512 KiB each way through the bridge
      socket.write(bulk);
      await until(new RegExp(`${bulk.slice(-64)}$`), 'bulk tunnel bytes echoed');
      assert.ok(text.endsWith(`early${bulk}`), 'every tunnel byte, in order');
      socket.end();
      await ended;
      assert.match(text, /bye$/, 'the client FIN reached the origin, its answer and FIN came back');
      assert.equal(await stat(lp, 'listener.127.0.0.1_0.ssl.handshake'), 1);
    });
  } finally {
    await upgradeOrigin.close();
  }
});

test('a reload that changes a TLS listener: new connections get the new certificate and routes, an open one keeps its own', async () => {
  const config = (cert: string, body: string): string =>
    listenerYaml({
      chains: [
        chainYaml({
          cluster: 'origin',
          tls: tlsSocketYaml({ certs: [cert] }),
          routes: `- match: { prefix: / }\n  direct_response: { status: 200, body: { inline_string: "${body}" } }`,
        }),
      ],
      clusters: [staticCluster('origin', origin.port)],
    });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-tls-reload-')), 'envoy.yaml');
  fs.writeFileSync(file, config('server-rsa', 'one'));
  const lp = await startLegateArgs(['-c', file, '--concurrency', '2']);
  try {
    const port = lp.ports.get('proxy')!;
    const before = await tlsClient(port, { request: GET() });
    assert.equal(before.serverKeyType, 'RSA');
    assert.match(before.response, /\r\n\r\none$/);
    // A keep-alive connection opened before the reload.
    const open = tls.connect({ host: '127.0.0.1', port, ca: pem('ca.crt'), servername: 'a.example' });
    let openText = '';
    open.on('data', (d: Buffer) => (openText += d.toString('latin1')));
    open.on('error', () => {});
    await new Promise<void>((resolve) => open.once('secureConnect', resolve));
    open.write('GET /1 HTTP/1.1\r\nhost: a\r\n\r\n');
    for (let i = 0; i < 100 && !openText.endsWith('one'); i++) await new Promise((r) => setTimeout(r, 20));
    fs.writeFileSync(file, config('server-ec', 'two'));
    assert.equal((await admin(lp, '/reload', 'POST')).status, 200);
    const after = await tlsClient(port, { request: GET() });
    assert.equal(after.serverKeyType, 'EC');
    assert.match(after.response, /\r\n\r\ntwo$/);
    assert.equal(await dataPath(lp), EXPECTED_PATH);
    // The old listener drains: its open connection still answers (with its old routes).
    open.write('GET /2 HTTP/1.1\r\nhost: a\r\n\r\n');
    for (let i = 0; i < 100 && (openText.match(/one/g) ?? []).length < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal((openText.match(/\r\n\r\none/g) ?? []).length, 2, openText);
    open.destroy();
  } finally {
    await lp.stop();
  }
});

test('x-forwarded-proto: https and the TLS access-log operators, TLS 1.2 and 1.3, with and without SNI', async () => {
  const accessLog = `access_log:
- name: envoy.access_loggers.stdout
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
    log_format:
      text_format_source:
        inline_string: "tls=%DOWNSTREAM_TLS_VERSION% cipher=%DOWNSTREAM_TLS_CIPHER% sni=%REQUESTED_SERVER_NAME% proto=%REQ(X-FORWARDED-PROTO)%\\n"`;
  await withLegate(yamlWith({ hcmExtra: accessLog }), async (port, lp) => {
    assert.equal(await dataPath(lp), EXPECTED_PATH);
    const shapes: [Parameters<typeof tlsClient>[1], string][] = [
      [{}, 'tls=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 sni=a.example proto=https'],
      [
        { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', servername: '' },
        'tls=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256 sni=- proto=https',
      ],
    ];
    for (const [options, line] of shapes) {
      const r = await tlsClient(port, { ...options, request: GET('/log') });
      assert.match(r.response, /^HTTP\/1\.1 200 /);
      for (let i = 0; i < 100 && !lp.output().includes(line); i++)
        await new Promise((res) => setTimeout(res, 20));
      assert.ok(lp.output().includes(line), `${line} in ${lp.output()}`);
    }
  });
});
