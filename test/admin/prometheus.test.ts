/**
 * /stats/prometheus through a real parser: Prometheus' own `promtool check metrics` (Debian package
 * `prometheus`; skipped with a reason where it is missing, CI installs it in .ci/run). promtool
 * exits 1 on a parse error and 3 on lint findings only; Envoy's metric names trip its naming lints
 * (no HELP text, counters without `_total`, `_ms` units) by design, so exactly those are allowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { requireTool } from '../support/system-tools';
import { admin, catchAllYaml, request, startLegate, startOrigin, stat } from '../integration/harness';

const ALLOWED_LINTS = [
  / no help text$/,
  / counter metrics should have "_total" suffix$/,
  / non-counter metrics should not have "_total" suffix$/,
  / metric names should not contain abbreviated units$/,
];

function check(tool: string, text: string): { status: number | null; findings: string[] } {
  const r = spawnSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000 });
  const findings = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() !== '');
  return { status: r.status, findings };
}

test('promtool itself rejects broken exposition text (the check can fail)', (t) => {
  const tool = requireTool(t, 'promtool', 'prometheus');
  if (tool === null) return;
  const r = check(tool, '# TYPE x counter\nx{a="1" 1\n');
  assert.equal(r.status, 1);
});

test('/stats/prometheus parses with promtool: counters, gauges, histograms, Envoy tags', async (t) => {
  const tool = requireTool(t, 'promtool', 'prometheus');
  if (tool === null) return;
  const origin = await startOrigin((req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end();
  });
  const legate = await startLegate(catchAllYaml([origin.port]), { concurrency: 2 });
  t.after(async () => {
    await legate.stop();
    await origin.close();
  });
  const port = legate.ports.get('proxy')!;
  for (const p of ['/', '/', '/missing']) await request(port, { path: p });
  // A worker counts a response just after writing it: on a busy machine the client can read it
  // (and ask the admin) first. Bounded wait for the last count to land.
  for (let i = 0; i < 50 && (await stat(legate, 'http.ingress_http.downstream_rq_4xx')) < 1; i++)
    await new Promise((r) => setTimeout(r, 20));
  const res = await admin(legate, '/stats/prometheus');
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const text = res.body.toString();
  const r = check(tool, text);
  assert.ok(r.status === 0 || r.status === 3, `promtool exit ${r.status}:\n${r.findings.join('\n')}`);
  const unexpected = r.findings.filter((f) => !ALLOWED_LINTS.some((re) => re.test(f)));
  assert.deepEqual(unexpected, []);

  // Every series once; Envoy's tag extraction.
  const series = text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.slice(0, l.lastIndexOf(' ')));
  assert.equal(new Set(series).size, series.length, 'duplicate series');
  assert.match(
    text,
    /^envoy_cluster_upstream_rq_xx\{envoy_response_code_class="2",envoy_cluster_name="o"\} 2$/m,
  );
  assert.match(text, /^envoy_cluster_upstream_rq\{envoy_response_code="404",envoy_cluster_name="o"\} 1$/m);
  assert.match(
    text,
    /^envoy_http_downstream_rq_xx\{envoy_response_code_class="4",envoy_http_conn_manager_prefix="ingress_http"\} 1$/m,
  );
  assert.match(
    text,
    /^envoy_listener_downstream_cx_active\{envoy_listener_address="127\.0\.0\.1_\d+",envoy_worker_id="0"\} \d+$/m,
  );
  assert.match(text, /^# TYPE envoy_cluster_upstream_rq_time histogram$/m);
  assert.match(text, /^envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="o",le="0\.5"\} \d+$/m);
  assert.match(text, /^envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="o",le="3600000"\} 3$/m);
  assert.match(text, /^envoy_cluster_upstream_rq_time_count\{envoy_cluster_name="o"\} 3$/m);
  assert.match(text, /^envoy_server_live 1$/m);
  const used = (await admin(legate, '/stats/prometheus?usedonly')).body.toString();
  // A used histogram may have empty buckets, and a sum of 0 when every value rounded to 0 ms
  // (a sub-millisecond connect): only those may print 0.
  const zeros = used
    .split('\n')
    .filter((l) => / 0$/.test(l) && !l.includes('_bucket{') && !l.includes('_sum{'));
  assert.deepEqual(zeros, [], 'usedonly leaves out zero stats (histogram buckets and sums may be 0)');
});
