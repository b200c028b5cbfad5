/** The wrk driver of the scenario runner parses a real wrk run against a local origin. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runWrk } from '../../bench/runner/wrk';
import { requireTool } from '../support/system-tools';

test('runWrk reports requests, req/s and ordered latency percentiles from a real wrk run', async (t) => {
  if (requireTool(t, 'wrk') === null) return;
  let served = 0;
  const server = http.createServer((_req, res) => {
    served++;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const r = await runWrk(
      `http://127.0.0.1:${port}/`,
      {
        path: '/',
        connections: 4,
        threads: 1,
        durationMs: 1000,
        http1Close: false,
        rate: 0,
        generator: 'wrk',
        streams: 1,
        grpcMessageBytes: 0,
      },
      1000,
    );
    assert.ok(r.requests > 0);
    // wrk counts completed responses; the server may have answered a few more at the deadline.
    assert.ok(r.requests <= served, `${r.requests} reported, ${served} served`);
    assert.ok(r.rps > 0);
    assert.ok(r.latency.p50 > 0 && r.latency.p50 <= r.latency.p99, JSON.stringify(r.latency));
    assert.equal(r.errors.non2xx, 0);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});
