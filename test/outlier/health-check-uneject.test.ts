/**
 * End to end, successful_active_health_check_uneject_host (default true, as in Envoy): a host
 * ejected for 5xx on traffic but passing its active health checks returns at the next passed
 * check, long before base_ejection_time; with the field false it stays ejected.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { healthChecksYaml, request, startOrigin, stat } from '../integration/harness';
import { outlierProxy, PREFIX, until } from './helpers';

/** Two origins, the second answering 500 to traffic and 200 to /hc; ejects it and returns the proxy. */
async function ejectedButHealthy(t: TestContext, uneject: boolean) {
  const good = await startOrigin();
  const bad = await startOrigin((req, res) => res.writeHead(req.url === '/hc' ? 200 : 500).end());
  t.after(() => Promise.all([good.close(), bad.close()]));
  const { lp, port, agent } = await outlierProxy(
    t,
    [good.port, bad.port],
    `outlier_detection:
  interval: 60s
  base_ejection_time: 60s
  max_ejection_percent: 50
  successful_active_health_check_uneject_host: ${uneject}
${healthChecksYaml('http_health_check: { path: /hc }', { timeoutS: 1, intervalS: 0.2, healthyThreshold: 1 })}`,
    1,
  );
  // Round robin over two hosts: ten requests give the bad host five consecutive 500s.
  for (let i = 0; i < 10; i++) await request(port, { path: '/', agent });
  await until(
    'the ejection',
    async () => (await stat(lp, `${PREFIX}ejections_enforced_consecutive_5xx`)) === 1,
  );
  return lp;
}

test('a passed active health check returns an ejected host at once', async (t) => {
  const lp = await ejectedButHealthy(t, true);
  await until('the return', async () => (await stat(lp, `${PREFIX}ejections_active`)) === 0, 5000);
});

test('with successful_active_health_check_uneject_host: false the host stays ejected', async (t) => {
  const lp = await ejectedButHealthy(t, false);
  // Several health-check intervals (0.2 s each) pass.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await stat(lp, `${PREFIX}ejections_active`), 1);
  assert.ok((await stat(lp, 'cluster.o.health_check.success')) >= 3);
});
