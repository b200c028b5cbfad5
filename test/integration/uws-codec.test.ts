/**
 * The uWS downstream codec behind the same connection manager: requests and bodies pass through it
 * to the upstream exactly as with Legate's own codec (with --concurrency 2: port 0 is resolved once).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  runLegate,
  startLegate,
  startOrigin,
  request,
  catchAllYaml,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

let origin: Origin;
let legate: LegateProcess;
let port: number;

before(async () => {
  origin = await startOrigin((req, res, body) => {
    res.setHeader('x-sha256', createHash('sha256').update(body).digest('hex'));
    res.end(`${req.method} ${req.url} ${body.length}`);
  });
  legate = await startLegate(catchAllYaml([origin.port]), { args: ['--http1-codec', 'uws'] });
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await origin?.close();
});

test('GET and POST go through the uWS codec to the upstream', async () => {
  assert.match(legate.output(), /listening on 127\.0\.0\.1:\d+ \(uws codec\)/);
  const get = await request(port, { path: '/u?q=1' });
  assert.equal(get.status, 200);
  assert.equal(get.body.toString(), 'GET /u?q=1 0');
  assert.equal(get.headers.server, 'legate');
  const body = Buffer.alloc(300 * 1024, 3);
  const post = await request(port, { method: 'POST', path: '/p', body });
  assert.equal(post.headers['x-sha256'], createHash('sha256').update(body).digest('hex'));
  assert.equal(post.body.toString(), `POST /p ${body.length}`);
});

test('every request through the uWS codec is counted in the shared stats', async () => {
  const before = await stat(legate, 'cluster.o.upstream_rq_total');
  const n = 40;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => request(port, { path: `/n/${i}` })));
  for (const r of results) assert.equal(r.status, 200);
  assert.equal((await stat(legate, 'cluster.o.upstream_rq_total')) - before, n);
});

test('what the uws codec cannot serve is a config error at legate_http1_codec: network filters before the HCM, codec_type HTTP2', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-uws-refusals-'));
  const cases: [string, string, RegExp][] = [
    [
      'filters-before',
      catchAllYaml([origin.port]).replace(
        '      - name: envoy.filters.network.http_connection_manager',
        `      - name: envoy.filters.network.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
          stat_prefix: rl
          token_bucket: { max_tokens: 10, fill_interval: 1s }
      - name: envoy.filters.network.http_connection_manager`,
      ),
      /legate_http1_codec.*network filters before http_connection_manager would never run/s,
    ],
    [
      'http2',
      catchAllYaml([origin.port], { hcmExtra: 'codec_type: HTTP2' }),
      /legate_http1_codec.*serves HTTP\/1\.1 only/s,
    ],
  ];
  for (const [name, yaml, expected] of cases) {
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(file, yaml);
    const r = await runLegate(['-c', file, '--http1-codec', 'uws', '--mode', 'validate']);
    assert.equal(r.code, 1, name);
    assert.match(r.stdout + r.stderr, expected, name);
  }
});
