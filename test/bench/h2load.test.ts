/**
 * The h2load driver of the scenario runner: a real h2load run against a local node:http2 origin
 * (plain GETs, and gRPC-shaped POSTs whose bodies the origin checks), and the parser on its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseH2load, runH2load } from '../../bench/runner/h2load';
import type { HttpLoad } from '../../bench/runner/scenario';
import { requireTool } from '../support/system-tools';

const LOAD: HttpLoad = {
  path: '/',
  connections: 2,
  threads: 1,
  durationMs: 1000,
  http1Close: false,
  rate: 0,
  generator: 'h2load',
  streams: 4,
  grpcMessageBytes: 0,
};

test('runH2load reports 2xx requests, req/s and ordered percentiles; gRPC calls carry a message frame', async (t) => {
  if (requireTool(t, 'h2load', 'nghttp2-client') === null) return;
  let served = 0;
  const bodies = new Set<string>();
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      served++;
      if (headers[':method'] === 'POST')
        bodies.add(
          `${String(headers['content-type'])} ${String(headers.te)} ${Buffer.concat(chunks).toString('hex')}`,
        );
      stream.respond({ ':status': served % 10 === 0 ? 503 : 200 });
      stream.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const scratch = mkdtempSync(join(tmpdir(), 'legate-h2load-'));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const r = await runH2load(url, LOAD, 1000, scratch);
    assert.ok(r.requests > 0);
    assert.ok(r.requests <= served, `${r.requests} reported, ${served} served`);
    assert.ok(r.errors.non2xx > 0, 'every tenth answer was a 503');
    assert.ok(Math.abs(r.errors.non2xx - r.requests / 9) <= r.requests / 9, JSON.stringify(r.errors));
    assert.ok(r.rps > 0);
    assert.ok(r.latency.p50 > 0 && r.latency.p50 <= r.latency.p99 && r.latency.p99 <= r.latency.max);
    assert.equal(bodies.size, 0);

    await runH2load(`${url}bench.Echo/Unary`, { ...LOAD, grpcMessageBytes: 3 }, 1000, scratch);
    assert.deepEqual([...bodies], ['application/grpc trailers 0000000003676767']);
  } finally {
    server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('parseH2load: counts from the report, latency from the request log, failed streams left out', () => {
  const report = `finished in 1.00s, 3.00 req/s, 1KB/s
requests: 4 total, 4 started, 4 done, 3 succeeded, 1 failed, 1 errored, 0 timeout
status codes: 2 2xx, 0 3xx, 0 4xx, 1 5xx
`;
  const log = ['1\t200\t1000', '2\t200\t3000', '3\t503\t2000', '4\t-1\t900000', ''].join('\n');
  const r = parseH2load(report, log);
  assert.equal(r.requests, 2);
  assert.equal(r.rps, 3);
  assert.equal(r.errors.non2xx, 1);
  assert.equal(r.errors.reset, 1);
  assert.ok(r.latency.max < 4, `the failed stream is not a latency: ${r.latency.max} ms`);
  assert.ok(r.latency.p50 >= 1.9 && r.latency.p50 <= 2.1, String(r.latency.p50));
  assert.throws(() => parseH2load('nonsense', ''), /cannot parse h2load output/);
});
