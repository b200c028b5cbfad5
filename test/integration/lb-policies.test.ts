/**
 * Load-balancing policies end to end, through `--concurrency 2`: a route hash_policy keeps each
 * user on one origin of a RING_HASH / MAGLEV cluster, and PEAK_EWMA stops sending to a slow origin.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { catchAllYaml, request, startLegate, startOrigin, type Origin } from './harness';

const origins: Origin[] = [];
after(async () => {
  for (const o of origins) await o.close();
});

for (const policy of ['RING_HASH', 'MAGLEV']) {
  test(`${policy}: a header hash_policy keeps every user on one origin, across both workers`, async () => {
    const o = await Promise.all([startOrigin(), startOrigin(), startOrigin()]);
    origins.push(...o);
    const legate = await startLegate(
      catchAllYaml(
        o.map((x) => x.port),
        {
          clusterExtra: `lb_policy: ${policy}`,
          routeExtra: 'hash_policy: [{ header: { header_name: x-user } }]',
        },
      ),
    );
    try {
      const served = new Map<string, Set<string>>();
      for (let round = 0; round < 4; round++) {
        for (let u = 0; u < 12; u++) {
          // A new connection per request: the kernel spreads them over both workers.
          const r = await request(legate.ports.get('proxy')!, { headers: { 'x-user': `user-${u}` } });
          assert.equal(r.status, 200);
          const origin = r.body.toString().split(' ')[1]!;
          served.set(`user-${u}`, (served.get(`user-${u}`) ?? new Set()).add(origin));
        }
      }
      for (const [user, set] of served)
        assert.equal(set.size, 1, `${user} was served by ${[...set].join(', ')}`);
      assert.ok(new Set([...served.values()].map((s) => [...s][0])).size >= 2, 'users spread over origins');
    } finally {
      await legate.stop();
    }
  });
}

test('PEAK_EWMA: a slow origin stops receiving requests once its latency is known', async () => {
  const slow = await startOrigin((_req, res) => setTimeout(() => res.end('slow'), 50));
  const fast = await Promise.all([startOrigin(), startOrigin()]);
  origins.push(slow, ...fast);
  const legate = await startLegate(
    catchAllYaml([fast[0]!.port, slow.port, fast[1]!.port], { clusterExtra: 'lb_policy: PEAK_EWMA' }),
  );
  try {
    for (let i = 0; i < 60; i++) assert.equal((await request(legate.ports.get('proxy')!)).status, 200);
    // Every request that reached the slow origin taught both workers (shared table) to avoid it;
    // round robin would have sent it 20.
    assert.ok(slow.requests.length <= 4, `the slow origin got ${slow.requests.length} of 60`);
  } finally {
    await legate.stop();
  }
});
