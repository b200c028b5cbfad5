/**
 * A request body larger than the cluster's per_connection_buffer_limit_bytes is not kept for
 * retries: a retriable answer then goes to the client as it is, and the origin never receives the
 * request again without its body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catchAllYaml, request, startOrigin, stat, withLegate } from './harness';

test('a retriable 503 to an upload larger than the buffer limit is relayed, not retried with a lost body', async () => {
  const origin = await startOrigin((_req, res, body) => {
    res.statusCode = origin.requests.length === 1 ? 503 : 200;
    res.end(`got ${body.length}`);
  });
  try {
    const yaml = catchAllYaml([origin.port], {
      routeExtra: 'retry_policy: { retry_on: 5xx, num_retries: 1 }',
      clusterExtra: 'per_connection_buffer_limit_bytes: 16',
    });
    await withLegate(yaml, { concurrency: 1 }, async (lp) => {
      const r = await request(lp.ports.get('proxy')!, { method: 'POST', body: 'x'.repeat(40) });
      assert.deepEqual(
        origin.requests.map((q) => q.body.length),
        [40],
        'the origin got the upload once, whole',
      );
      assert.equal(r.status, 503);
      assert.equal(r.body.toString(), 'got 40');
      assert.equal(await stat(lp, 'cluster.o.upstream_rq_retry'), 0);
    });
  } finally {
    await origin.close();
  }
});
