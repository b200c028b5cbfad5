/**
 * End to end: five hosts, one of which fails every other request (so no run of consecutive 5xx
 * ever forms). The success-rate detector, fed by the workers' per-interval counts, ejects it at a
 * sweep; afterwards every request succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import {
  admin,
  httpProxyYaml,
  request,
  startLegate,
  startOrigin,
  stat,
  staticCluster,
} from '../integration/harness';
import { PREFIX } from './helpers';

test('success rate: the host failing half its requests is ejected; consecutive detectors never fire', async (t) => {
  let flaky = 0;
  const good = await Promise.all([0, 1, 2, 3].map(() => startOrigin()));
  const bad = await startOrigin((_req, res) => {
    flaky++;
    res.writeHead(flaky % 2 === 0 ? 500 : 200).end('maybe');
  });
  t.after(() => Promise.all([...good, bad].map((o) => o.close())));
  const lp = await startLegate(
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/" }
    route: { cluster: o }`,
      clusters: staticCluster(
        'o',
        [...good.map((o) => o.port), bad.port],
        `outlier_detection:
  interval: 0.3s
  base_ejection_time: 60s
  max_ejection_percent: 50
  success_rate_request_volume: 20`,
      ),
    }),
    { concurrency: 2 },
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  t.after(async () => {
    agent.destroy();
    await lp.stop();
  });
  const port = lp.ports.get('proxy')!;

  const deadline = Date.now() + 15_000;
  let sent = 0;
  while ((await stat(lp, `${PREFIX}ejections_enforced_success_rate`)) === 0) {
    assert.ok(Date.now() < deadline && sent < 20_000, `no success-rate ejection after ${sent} requests`);
    await Promise.all(Array.from({ length: 50 }, () => request(port, { path: '/', agent })));
    sent += 50;
  }
  assert.equal(await stat(lp, `${PREFIX}ejections_detected_success_rate`), 1);
  assert.equal(await stat(lp, `${PREFIX}ejections_active`), 1);
  assert.equal(await stat(lp, `${PREFIX}ejections_detected_consecutive_5xx`), 0);
  const clusters = (await admin(lp, '/clusters')).body.toString();
  assert.match(clusters, new RegExp(`o::127\\.0\\.0\\.1:${bad.port}::health_flags::/failed_outlier_check`));

  const before = flaky;
  const after = await Promise.all(Array.from({ length: 40 }, () => request(port, { path: '/', agent })));
  assert.deepEqual(
    after.map((r) => r.status),
    Array(40).fill(200),
  );
  assert.equal(flaky, before);
});
