/**
 * Downstream HTTP/2 on the JS path (node:http2) in front of an HTTP/1.1 origin: body framing ×
 * sizes around the flow-control windows × streams per connection, Envoy's header translation,
 * trailers, codec_type AUTO (preface on plaintext, ALPN on TLS), http2_protocol_options, stats,
 * rapid reset, and the GOAWAY of a graceful drain. Real clients: node:http2, curl, h2load.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import { promisify } from 'node:util';
import {
  catchAllVirtualHost,
  catchAllYaml,
  httpProxyYaml,
  request,
  runLegate,
  startLegate,
  startOrigin,
  stat,
  withLegate,
  type LegateProcess,
  type Origin,
  staticCluster as originCluster,
} from '../integration/harness';
import { requireTool } from '../support/system-tools';
import { h2Connect, h2Request, rapidReset } from './h2-client';
import {
  certPath,
  chainYaml,
  listenerYaml,
  pem,
  rawTcp,
  staticCluster,
  tlsSocketYaml,
} from '../tls/fixtures';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const run = promisify(execFile);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * The origin: `/echo` answers the request body's length and hash and the fields it saw; `/bytes/N`
 * answers N bytes (Content-Length); `/chunked/N` N bytes chunked with a trailer; `/slow` after 400 ms.
 */
function originHandler(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const url = req.url ?? '/';
  const bytes = /^\/(bytes|chunked)\/(\d+)/.exec(url);
  if (bytes !== null) {
    const data = Buffer.alloc(Number(bytes[2]), 'abcdefgh');
    if (bytes[1] === 'bytes') {
      res.setHeader('content-length', data.length);
      res.setHeader('connection', 'keep-alive');
      res.setHeader('keep-alive', 'timeout=60');
      res.end(data);
    } else {
      res.setHeader('trailer', 'x-digest');
      res.write(data);
      res.addTrailers({ 'x-digest': sha(data) });
      res.end();
    }
    return;
  }
  const answer = (): void => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        method: req.method,
        url,
        version: req.httpVersion,
        length: body.length,
        sha: sha(body),
        host: req.headers.host,
        cookie: req.headers.cookie ?? null,
        te: req.headers.te ?? null,
        transferEncoding: req.headers['transfer-encoding'] ?? null,
        contentLength: req.headers['content-length'] ?? null,
      }),
    );
  };
  if (url === '/slow') setTimeout(answer, 400);
  else answer();
}

/** Waits (up to 5 s) for a gauge to reach `value`; its last value is in the failure. */
async function statReaches(lp: LegateProcess, name: string, value: number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 250 && last !== value; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 20));
    last = await stat(lp, name);
  }
  assert.equal(last, value, name);
}

let origin: Origin;
/** codec_type HTTP2 (prior knowledge only): served by node:http2 whatever the engine. */
let h2Only: LegateProcess;
/** The same HCM behind TLS with ALPN h2. */
let h2Tls: LegateProcess;

/** `/direct` answers at once, whatever the request body still coming. */
const DIRECT_ROUTE = `- match: { prefix: /direct }
  direct_response: { status: 200, body: { inline_string: direct } }`;

const HTTP2_OPTIONS = `codec_type: HTTP2
http2_protocol_options:
  max_concurrent_streams: 10
  initial_stream_window_size: 65535
  initial_connection_window_size: 1048576`;

before(async () => {
  origin = await startOrigin(originHandler);
  h2Only = await startLegate(
    httpProxyYaml({
      hcmExtra: HTTP2_OPTIONS,
      virtualHosts: catchAllVirtualHost({ routesBefore: DIRECT_ROUTE }),
      clusters: originCluster('o', [origin.port]),
    }),
    { concurrency: 1 },
  );
  h2Tls = await startLegate(
    listenerYaml({
      chains: [
        chainYaml({
          cluster: 'origin',
          statPrefix: 'ingress_http',
          hcmExtra: HTTP2_OPTIONS,
          tls: tlsSocketYaml({ common: 'alpn_protocols: [h2]' }),
        }),
      ],
      clusters: [staticCluster('origin', origin.port)],
    }),
    { concurrency: 1 },
  );
});

after(async () => {
  await h2Only?.stop();
  await h2Tls?.stop();
  await origin?.close();
});

const proxyPort = (): number => h2Only.ports.get('proxy')!;
const TLS_CLIENT = { ca: pem('ca.crt'), servername: 'a.example' };

test(
  'body framing × sizes around the windows × streams per connection, both directions',
  { timeout: 60_000 },
  async () => {
    // 65,535 is the stream window announced above; 1 MiB the connection window.
    const sizes = [0, 1, 16_384, 65_535, 65_536, 200_000, 1_048_577];
    for (const secure of [false, true]) {
      const session = secure
        ? await h2Connect(h2Tls.ports.get('proxy')!, TLS_CLIENT)
        : await h2Connect(proxyPort());
      try {
        for (const size of sizes) {
          const body = Buffer.alloc(size, 'xyz');
          for (const withLength of [true, false]) {
            for (const streams of [1, 10]) {
              const label = `${secure ? 'TLS' : 'h2c'}, ${size} B, ${withLength ? 'content-length' : 'no length'}, ${streams} streams`;
              const uploads = Array.from({ length: streams }, () =>
                h2Request(session, {
                  method: 'POST',
                  path: '/echo',
                  headers: withLength ? { 'content-length': String(size) } : {},
                  body,
                  chunkSize: 16_000,
                }),
              );
              for (const r of await Promise.all(uploads)) {
                assert.equal(r.status, 200, label);
                const seen = JSON.parse(r.body.toString()) as Record<string, unknown>;
                assert.equal(seen.length, size, label);
                assert.equal(seen.sha, sha(body), label);
                assert.equal(seen.version, '1.1', label);
                // Without a length, the HTTP/1.1 upstream gets the body chunked (or none when empty).
                if (withLength) assert.equal(seen.contentLength, String(size), label);
                else if (size > 0) assert.equal(seen.transferEncoding, 'chunked', label);
              }
              const downloads = Array.from({ length: streams }, () =>
                h2Request(session, { path: `/${withLength ? 'bytes' : 'chunked'}/${size}` }),
              );
              for (const r of await Promise.all(downloads)) {
                assert.equal(r.status, 200, label);
                assert.equal(r.body.length, size, label);
                assert.equal(sha(r.body), sha(Buffer.alloc(size, 'abcdefgh')), label);
              }
            }
          }
        }
      } finally {
        session.close();
      }
    }
  },
);

test(
  "Envoy's header translation: :authority to Host, cookies joined, te: trailers kept, connection fields stripped, trailers passed",
  { timeout: 60_000 },
  async () => {
    const session = await h2Connect(proxyPort());
    try {
      const r = await h2Request(session, {
        path: '/echo',
        headers: { ':authority': 'svc.example:8443', cookie: ['a=1', 'b=2'], te: 'trailers' },
      });
      const seen = JSON.parse(r.body.toString()) as Record<string, unknown>;
      assert.equal(seen.host, 'svc.example:8443');
      assert.equal(seen.cookie, 'a=1; b=2');
      assert.equal(seen.te, 'trailers');
      // The origin's Connection / Keep-Alive fields cannot go out on HTTP/2 (Node would refuse them).
      const kept = await h2Request(session, { path: '/bytes/10' });
      assert.equal(kept.status, 200);
      assert.equal(kept.headers.connection, undefined);
      assert.equal(kept.headers['keep-alive'], undefined);
      assert.equal(kept.headers['content-length'], '10');
      const chunked = await h2Request(session, { path: '/chunked/100' });
      assert.equal(chunked.trailers?.['x-digest'], sha(Buffer.alloc(100, 'abcdefgh')));
    } finally {
      session.close();
    }
  },
);

test(
  'http2_protocol_options: SETTINGS announce max_concurrent_streams and the stream window; stats count HTTP/2',
  { timeout: 60_000 },
  async () => {
    const before = await stat(h2Only, 'http.ingress_http.downstream_rq_http2_total');
    const session = await h2Connect(proxyPort());
    try {
      const settings = session.remoteSettings;
      assert.equal(settings.maxConcurrentStreams, 10);
      assert.equal(settings.initialWindowSize, 65_535);
      // Twelve at once: the client queues what exceeds ten, every one is answered.
      const all = await Promise.all(Array.from({ length: 12 }, () => h2Request(session, { path: '/echo' })));
      assert.deepEqual(
        all.map((r) => r.status),
        Array(12).fill(200),
      );
      assert.equal(await stat(h2Only, 'http.ingress_http.downstream_cx_http2_active'), 1);
    } finally {
      session.close();
    }
    assert.equal((await stat(h2Only, 'http.ingress_http.downstream_rq_http2_total')) - before, 12);
  },
);

test(
  'a stream the client resets is counted in http2.rx_reset and the others on the connection go on',
  { timeout: 60_000 },
  async () => {
    const before = await stat(h2Only, 'http2.rx_reset');
    const session = await h2Connect(proxyPort());
    try {
      const cancelled = session.request({ ':path': '/slow' });
      cancelled.on('error', () => {});
      await new Promise((r) => setTimeout(r, 100));
      cancelled.close(8 /* CANCEL */);
      const r = await h2Request(session, { path: '/echo' });
      assert.equal(r.status, 200);
    } finally {
      session.close();
    }
    for (let i = 0; i < 50 && (await stat(h2Only, 'http2.rx_reset')) === before; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal((await stat(h2Only, 'http2.rx_reset')) - before, 1);
  },
);

test(
  'rapid reset (CVE-2023-44487): the connection gets GOAWAY ENHANCE_YOUR_CALM and closes, the worker serves others',
  { timeout: 60_000 },
  async () => {
    const before = await stat(h2Only, 'http.ingress_http.downstream_rq_too_many_premature_resets');
    const attack = rapidReset(proxyPort(), 2000, 5000);
    // Meanwhile another client on the same (single) worker is served.
    const session = await h2Connect(proxyPort());
    const other = await h2Request(session, { path: '/echo' });
    session.close();
    const outcome = await attack;
    assert.equal(other.status, 200);
    assert.equal(outcome.closed, true, 'the server closed the attacking connection');
    assert.ok(
      outcome.goaways.some(([, code]) => code === 11 /* ENHANCE_YOUR_CALM */),
      `GOAWAY frames: ${JSON.stringify(outcome.goaways)}`,
    );
    assert.equal(
      (await stat(h2Only, 'http.ingress_http.downstream_rq_too_many_premature_resets')) - before,
      1,
    );
    const after = await h2Connect(proxyPort());
    assert.equal((await h2Request(after, { path: '/echo' })).status, 200);
    after.close();
  },
);

test(
  'curl --http2-prior-knowledge and h2load (50 connections × 10 streams) through codec_type HTTP2',
  { timeout: 60_000 },
  async (t) => {
    const curl = requireTool(t, 'curl');
    const h2load = requireTool(t, 'h2load', 'nghttp2-client');
    if (curl === null || h2load === null) return;
    const { stdout } = await run(curl, [
      '-s',
      '--http2-prior-knowledge',
      '-w',
      '\n%{http_version} %{http_code}',
      '-d',
      'hello',
      `http://127.0.0.1:${proxyPort()}/echo`,
    ]);
    const [json, status] = stdout.split('\n');
    assert.equal(status, '2 200');
    assert.equal((JSON.parse(json!) as { length: number }).length, 5);
    const load = await run(h2load, [
      '-n',
      '2000',
      '-c',
      '50',
      '-m',
      '10',
      `http://127.0.0.1:${proxyPort()}/bytes/13`,
    ]);
    assertAllSucceeded(load.stdout, 2000);
  },
);

function assertAllSucceeded(h2loadOutput: string, requests: number): void {
  assert.match(
    h2loadOutput,
    new RegExp(
      `requests: ${requests} total, ${requests} started, ${requests} done, ${requests} succeeded, 0 failed`,
    ),
  );
  assert.match(h2loadOutput, new RegExp(`status codes: ${requests} 2xx`));
}

test('h2load (50 connections × 10 streams) through codec_type AUTO (the native engine hands each connection to node:http2)', async (t) => {
  const h2load = requireTool(t, 'h2load', 'nghttp2-client');
  if (h2load === null) return;
  await withLegate(catchAllYaml([origin.port]), { concurrency: 2 }, async (lp) => {
    const port = lp.ports.get('proxy')!;
    const load = await run(h2load, [
      '-n',
      '2000',
      '-c',
      '50',
      '-m',
      '10',
      `http://127.0.0.1:${port}/bytes/13`,
    ]);
    assertAllSucceeded(load.stdout, 2000);
    assert.equal(await stat(lp, 'http.ingress_http.downstream_cx_http2_total'), 50);
    await statReaches(lp, 'http.ingress_http.downstream_cx_active', 0);
  });
});

// The native engine serves AUTO listeners in C and hands a connection that opens with the HTTP/2
// preface (with the bytes it read) to node:http2; Legate's JS codec decides on a Node socket.
for (const engine of ['native', 'js'] as const) {
  test(
    `codec_type AUTO on plaintext (${engine} engine): the HTTP/2 preface picks HTTP/2, anything else HTTP/1.1, on one port`,
    { timeout: 60_000 },
    async () => {
      await withLegate(
        catchAllYaml([origin.port]),
        { concurrency: 1, env: engine === 'js' ? { LEGATE_ENGINE: 'js' } : {} },
        async (lp) => {
          const port = lp.ports.get('proxy')!;
          const h1 = await request(port, { path: '/echo', method: 'POST', body: 'one' });
          assert.equal(h1.status, 200);
          assert.equal((JSON.parse(h1.body.toString()) as { length: number }).length, 3);
          const session = await h2Connect(port);
          const h2 = await h2Request(session, { path: '/echo', method: 'POST', body: Buffer.from('two!') });
          session.close();
          assert.equal(h2.status, 200);
          assert.equal((JSON.parse(h2.body.toString()) as { length: number }).length, 4);
          // A first packet shorter than the preface: the decision waits for more bytes.
          const split = await run('node', [
            '-e',
            `const s=require('net').connect(${port},'127.0.0.1',()=>{s.write('PRI * HT');setTimeout(()=>s.write('TP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n'+Buffer.from([0,0,0,4,0,0,0,0,0]).toString('latin1'),'latin1'),50)});s.on('data',d=>{process.stdout.write(String(d[3]));s.destroy()})`,
          ]);
          assert.equal(split.stdout, '4', 'the server answered with its SETTINGS frame');
          // HTTP/1 again after the HTTP/2 connections, and a request that starts like the preface.
          const again = await request(port, { path: '/echo', method: 'POST', body: 'three' });
          assert.equal(again.status, 200);
          const pri = await rawTcp(port, Buffer.from('PRI * HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'));
          assert.match(
            pri.received.toString('latin1'),
            /^HTTP\/1\.1 4\d\d /,
            'not the preface: an HTTP/1 answer',
          );
          assert.equal(await stat(lp, 'http.ingress_http.downstream_rq_http1_total'), 3);
          assert.equal(await stat(lp, 'http.ingress_http.downstream_rq_http2_total'), 1);
          // Each connection counted once, HTTP/2 ones as such, and none left open.
          assert.equal(await stat(lp, 'http.ingress_http.downstream_cx_total'), 5);
          assert.equal(await stat(lp, 'http.ingress_http.downstream_cx_http2_total'), 2);
          await statReaches(lp, 'http.ingress_http.downstream_cx_active', 0);
          await statReaches(lp, 'listener.127.0.0.1_0.downstream_cx_active', 0);
        },
      );
    },
  );
}

test('codec_type AUTO on TLS: ALPN h2 gets HTTP/2, http/1.1 gets HTTP/1.1', { timeout: 60_000 }, async () => {
  const yaml = listenerYaml({
    chains: [
      chainYaml({
        cluster: 'origin',
        statPrefix: 'ingress_http',
        tls: tlsSocketYaml({ common: 'alpn_protocols: [h2, http/1.1]' }),
      }),
    ],
    clusters: [staticCluster('origin', origin.port)],
  });
  await withLegate(yaml, { concurrency: 1 }, async (lp) => {
    const port = lp.ports.get('proxy')!;
    const session = await h2Connect(port, { ca: pem('ca.crt'), servername: 'a.example' });
    const alpn = (session.socket as unknown as { alpnProtocol: string }).alpnProtocol;
    const h2 = await h2Request(session, { path: '/echo', headers: { ':authority': 'a.example' } });
    session.close();
    assert.equal(alpn, 'h2');
    assert.equal(h2.status, 200);
    const { stdout } = await run('node', [
      '-e',
      `require('https').get({host:'127.0.0.1',port:${port},path:'/echo',servername:'a.example',ca:require('fs').readFileSync(${JSON.stringify(certPath('ca.crt'))}),ALPNProtocols:['http/1.1']},r=>{process.stdout.write(r.httpVersion+' '+r.statusCode);r.resume()})`,
    ]);
    assert.equal(stdout, '1.1 200');
    assert.equal(await stat(lp, 'http.ingress_http.downstream_rq_http2_total'), 1);
    assert.equal(await stat(lp, 'http.ingress_http.downstream_rq_http1_total'), 1);
  });
});

test(
  'graceful drain: GOAWAY with the last stream id at once, the stream in flight completes',
  { timeout: 60_000 },
  async () => {
    await withLegate(
      catchAllYaml([origin.port], { hcmExtra: 'codec_type: HTTP2' }),
      { concurrency: 1 },
      async (lp) => {
        const session = await h2Connect(lp.ports.get('proxy')!);
        const goaway = new Promise<[number, number]>((resolve) =>
          session.once('goaway', (code: number, lastStreamId: number) => resolve([code, lastStreamId])),
        );
        const first = await h2Request(session, { path: '/echo' });
        assert.equal(first.status, 200);
        const inFlight = h2Request(session, { path: '/slow' });
        await new Promise((r) => setTimeout(r, 100));
        lp.proc.kill('SIGTERM');
        assert.deepEqual(await goaway, [0, 3], 'GOAWAY NO_ERROR naming stream 3, the one in flight');
        const slow = await inFlight;
        assert.equal(slow.status, 200);
        assert.equal(await lp.exited, 0);
      },
    );
  },
);

test(
  'http2_protocol_options Legate cannot honour are located config errors',
  { timeout: 60_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-h2-config-'));
    const file = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(
      file,
      catchAllYaml([1], {
        hcmExtra: `http2_protocol_options:
  max_outbound_frames: 100
  connection_keepalive: { interval: 10s }`,
      }),
    );
    const r = await runLegate(['--mode', 'validate', '-c', file]);
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    assert.match(
      out,
      /envoy\.yaml:\d+:\d+: error: .*http2_protocol_options\.max_outbound_frames: not supported by Legate yet: Node's nghttp2/,
    );
    assert.match(out, /connection_keepalive\.timeout: required/);
  },
);

test(
  'connection_keepalive: a client that never answers PING is closed and counted',
  { timeout: 60_000 },
  async () => {
    await withLegate(
      catchAllYaml([origin.port], {
        hcmExtra: `codec_type: HTTP2
http2_protocol_options:
  connection_keepalive: { interval: 0.2s, timeout: 0.2s, interval_jitter: { value: 0 } }`,
      }),
      { concurrency: 1 },
      async (lp) => {
        // A raw client: sends the preface and SETTINGS, then reads without ever acknowledging a PING.
        const raw = await rawTcp(
          lp.ports.get('proxy')!,
          Buffer.concat([
            Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
            Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
          ]),
          3000,
        );
        assert.notEqual(raw.closed, 'timeout', 'closed by the server');
        assert.equal(await stat(lp, 'http2.keepalive_timeout'), 1);
      },
    );
  },
);

test(
  'a response that ends before its request body: the body still streaming is stopped with RST_STREAM NO_ERROR, the response arrives whole',
  { timeout: 60_000 },
  async () => {
    const session = await h2Connect(proxyPort());
    try {
      const req = session.request({ ':method': 'POST', ':path': '/direct' });
      const chunks: Buffer[] = [];
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => chunks.push(c));
      const closed = new Promise<number>((resolve) => req.on('close', () => resolve(req.rstCode ?? -1)));
      req.on('error', () => {});
      // The client keeps sending for a while; the answer does not wait for it.
      let sent = 0;
      for (; sent < 20 && !req.closed; sent++) {
        req.write(Buffer.alloc(60_000));
        await new Promise((r) => setTimeout(r, 10));
      }
      if (!req.closed) req.end();
      assert.equal(await closed, 0);
      assert.ok(sent < 20, `the stream was closed while the client was still sending (${sent} of 20 chunks)`);
      assert.equal(status, 200);
      assert.equal(Buffer.concat(chunks).toString(), 'direct');
      // The connection serves the next request.
      assert.equal((await h2Request(session, { path: '/echo' })).status, 200);
    } finally {
      session.close();
    }
  },
);

test(
  'headers_with_underscores_action REJECT_REQUEST and max_request_headers_kb refuse the stream, not the connection; %PROTOCOL% is HTTP/2',
  { timeout: 60_000 },
  async () => {
    const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-h2-log-')), 'access.log');
    const yaml = catchAllYaml([origin.port], {
      hcmExtra: `codec_type: HTTP2
max_request_headers_kb: 2
common_http_protocol_options: { headers_with_underscores_action: REJECT_REQUEST }
access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${logFile}
    log_format: { text_format_source: { inline_string: "%PROTOCOL% %RESPONSE_CODE% %REQ(:PATH)%\\n" } }`,
    });
    await withLegate(yaml, { concurrency: 1 }, async (lp) => {
      const session = await h2Connect(lp.ports.get('proxy')!);
      try {
        const refused = (headers: Record<string, string>): Promise<string> =>
          h2Request(session, { path: '/echo', headers }).then(
            (r) => `answered ${r.status}`,
            (err: NodeJS.ErrnoException) => err.code ?? 'error',
          );
        assert.match(await refused({ x_bad: '1' }), /^(RST_STREAM 1|ERR_HTTP2_STREAM_ERROR)$/);
        // Node refuses a header list over SETTINGS_MAX_HEADER_LIST_SIZE itself (ENHANCE_YOUR_CALM).
        assert.match(
          await refused({ 'x-big': 'v'.repeat(3000) }),
          /^(RST_STREAM 11|ERR_HTTP2_STREAM_ERROR)$/,
        );
        const ok = await h2Request(session, { path: '/echo', headers: { 'x-fine': 'v'.repeat(1000) } });
        assert.equal(ok.status, 200);
      } finally {
        session.close();
      }
      assert.equal(await stat(lp, 'http2.rx_messaging_error'), 1);
      assert.equal(await stat(lp, 'http.ingress_http.downstream_rq_http2_total'), 1);
      let log = '';
      for (let i = 0; i < 50 && !log.includes('\n'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      }
      assert.equal(log, 'HTTP/2 200 /echo\n');
    });
  },
);
