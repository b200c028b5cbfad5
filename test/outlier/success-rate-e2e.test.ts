/**
 * End to end: five hosts, one of which fails every other request (so no run of consecutive 5xx
 * ever forms). The success-rate detector, fed by the workers' per-interval counts, ejects it at a
 * sweep; afterwards every request succeeds. `/clusters` shows what the detector computed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { admin, request, startOrigin, stat, type SimpleResponse } from '../integration/harness';
import { outlierProxy, PREFIX } from './helpers';

/** Four good origins and a fifth answering 500 to every other request, behind two workers. */
async function oneFlakyOfFive(t: TestContext, outlier: string) {
  let flaky = 0;
  const good = await Promise.all([0, 1, 2, 3].map(() => startOrigin()));
  const bad = await startOrigin((_req, res) => {
    flaky++;
    res.writeHead(flaky % 2 === 0 ? 500 : 200).end('maybe');
  });
  t.after(() => Promise.all([...good, bad].map((o) => o.close())));
  const proxy = await outlierProxy(t, [...good.map((o) => o.port), bad.port], outlier, 2);
  return {
    ...proxy,
    goodPorts: good.map((o) => o.port),
    badPort: bad.port,
    flakyHits: () => flaky,
    /** `n` requests at once over the keep-alive agent. */
    burst: (n: number): Promise<SimpleResponse[]> =>
      Promise.all(Array.from({ length: n }, () => request(proxy.port, { path: '/', agent: proxy.agent }))),
  };
}

test('success rate: the host failing half its requests is ejected; consecutive detectors never fire', async (t) => {
  const f = await oneFlakyOfFive(
    t,
    `outlier_detection:
  interval: 0.3s
  base_ejection_time: 60s
  max_ejection_percent: 50
  success_rate_request_volume: 20`,
  );
  const { lp } = f;
  const deadline = Date.now() + 15_000;
  let sent = 0;
  while ((await stat(lp, `${PREFIX}ejections_enforced_success_rate`)) === 0) {
    assert.ok(Date.now() < deadline && sent < 20_000, `no success-rate ejection after ${sent} requests`);
    await f.burst(50);
    sent += 50;
  }
  assert.equal(await stat(lp, `${PREFIX}ejections_detected_success_rate`), 1);
  assert.equal(await stat(lp, `${PREFIX}ejections_active`), 1);
  assert.equal(await stat(lp, `${PREFIX}ejections_detected_consecutive_5xx`), 0);
  const clusters = (await admin(lp, '/clusters')).body.toString();
  assert.match(clusters, new RegExp(`o::127\\.0\\.0\\.1:${f.badPort}::health_flags::/failed_outlier_check`));

  const before = f.flakyHits();
  const after = await f.burst(40);
  assert.deepEqual(
    after.map((r) => r.status),
    Array(40).fill(200),
  );
  assert.equal(f.flakyHits(), before);
});

/** mean and mean − 1.9 · stdev (Envoy's default success_rate_stdev_factor) of `rates`. */
function expectedNums(rates: number[]): { average: number; threshold: number } {
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const stdev = Math.sqrt(rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length);
  return { average: mean, threshold: mean - 1.9 * stdev };
}

interface JsonHost {
  address: { socket_address: { port_value: number } };
  success_rate?: { value: number };
  local_origin_success_rate?: { value: number };
}
interface JsonCluster {
  success_rate_ejection_threshold?: { value: number };
  local_origin_success_rate_ejection_threshold?: { value: number };
  host_statuses: JsonHost[];
}

test("/clusters shows the last interval's success rates: ~50 for the flaky host, 100 for the others", async (t) => {
  // Not enforced: the detector computes every interval and ejects nobody.
  const f = await oneFlakyOfFive(
    t,
    `outlier_detection:
  interval: 0.5s
  enforcing_success_rate: 0
  success_rate_request_volume: 20`,
  );
  const ports = [...f.goodPorts, f.badPort];
  const deadline = Date.now() + 20_000;
  /** Sends traffic until `read` returns a value (an interval counted every host), or fails. */
  async function underLoad<T>(what: string, read: () => Promise<T | null>): Promise<T> {
    for (let i = 0; i < 400 && Date.now() < deadline; i++) {
      await f.burst(50);
      const value = await read();
      if (value !== null) return value;
    }
    assert.fail(`${what}: no interval with every host rated before the deadline`);
  }

  const text = await underLoad('text', async () => {
    const body = (await admin(f.lp, '/clusters')).body.toString();
    const line = (field: string): string | undefined =>
      new RegExp(`^o::${field.replace(/\./g, '\\.')}::(\\S+)$`, 'm').exec(body)?.[1];
    const rates = ports.map((p) => Number(line(`127.0.0.1:${p}::success_rate`)));
    const average = Number(line('outlier::success_rate_average'));
    return rates.every((r) => r >= 0) && average >= 0 ? { body, line, rates, average } : null;
  });
  const [good, bad] = [text.rates.slice(0, 4), text.rates[4]!];
  assert.deepEqual(good, [100, 100, 100, 100]);
  assert.ok(bad > 35 && bad < 65, `flaky host's success rate ${bad}`);
  const want = expectedNums(text.rates);
  assert.ok(Math.abs(text.average - want.average) < 1e-3, `average ${text.average}, want ${want.average}`);
  const threshold = Number(text.line('outlier::success_rate_ejection_threshold'));
  assert.ok(Math.abs(threshold - want.threshold) < 1e-3, `threshold ${threshold}, want ${want.threshold}`);
  // Not split: the local-origin detector does not run.
  assert.equal(text.line('outlier::local_origin_success_rate_average'), '-1');
  assert.equal(text.line('outlier::local_origin_success_rate_ejection_threshold'), '-1');
  assert.equal(text.line(`127.0.0.1:${f.badPort}::local_origin_success_rate`), '-1');
  const lines = text.body.split('\n');
  assert.equal(lines[1], 'o::outlier::success_rate_average::' + text.line('outlier::success_rate_average'));
  assert.ok(
    lines[5]!.startsWith('o::default_priority::'),
    "Envoy's order: outlier lines, then circuit breakers",
  );

  const json = await underLoad('json', async () => {
    const body = JSON.parse((await admin(f.lp, '/clusters?format=json')).body.toString()) as {
      cluster_statuses: JsonCluster[];
    };
    const c = body.cluster_statuses[0]!;
    return c.host_statuses.every((h) => h.success_rate !== undefined) ? c : null;
  });
  const byPort = new Map(json.host_statuses.map((h) => [h.address.socket_address.port_value, h]));
  const jsonRates = ports.map((p) => byPort.get(p)!.success_rate!.value);
  assert.deepEqual(jsonRates.slice(0, 4), [100, 100, 100, 100]);
  assert.ok(jsonRates[4]! > 35 && jsonRates[4]! < 65, `flaky host's success rate ${jsonRates[4]}`);
  assert.ok(Math.abs(json.success_rate_ejection_threshold!.value - expectedNums(jsonRates).threshold) < 1e-9);
  assert.equal(json.local_origin_success_rate_ejection_threshold, undefined);
  assert.ok(json.host_statuses.every((h) => h.local_origin_success_rate === undefined));
  assert.equal(await stat(f.lp, `${PREFIX}ejections_enforced_total`), 0);
});
