/**
 * Stats across workers: with --concurrency 2 every worker writes its own row of the shared tables
 * and the admin sums them, so N requests must read back as exactly N — counters and histograms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { admin, catchAllYaml, request, startLegate, startOrigin, stat } from '../integration/harness';

const N = 400;
const PARALLEL = 16;

test(`${N} requests through --concurrency 2: upstream_rq_total, downstream_rq_total and the histograms count ${N}`, async () => {
  const origin = await startOrigin((req, res) => {
    res.statusCode = req.url === '/created' ? 201 : 200;
    res.end('ok');
  });
  const legate = await startLegate(catchAllYaml([origin.port]), { concurrency: 2 });
  // Many keep-alive connections, so SO_REUSEPORT spreads them over both workers.
  const agent = new http.Agent({ keepAlive: true, maxSockets: PARALLEL });
  try {
    const port = legate.ports.get('proxy')!;
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < N) {
          const i = next++;
          const r = await request(port, { path: i % 4 === 0 ? '/created' : '/', agent });
          assert.equal(r.status, i % 4 === 0 ? 201 : 200);
        }
      }),
    );
    agent.destroy();
    const info = JSON.parse((await admin(legate, '/server_info')).body.toString());
    // Without the native addon Legate serves from one worker (and says so): the sums must still hold.
    assert.equal(info.command_line_options.concurrency, info.legate.native.active ? 2 : 1);
    assert.equal(await stat(legate, 'cluster.o.upstream_rq_total'), N);
    assert.equal(await stat(legate, 'cluster.o.upstream_rq_completed'), N);
    assert.equal(await stat(legate, 'cluster.o.upstream_rq_2xx'), N);
    assert.equal(await stat(legate, 'cluster.o.upstream_rq_201'), N / 4);
    assert.equal(await stat(legate, 'cluster.o.upstream_rq_200'), (3 * N) / 4);
    assert.equal(await stat(legate, 'http.ingress_http.downstream_rq_total'), N);
    assert.equal(await stat(legate, 'cluster.o.membership_total'), 1, 'one worker reports membership');
    assert.ok((await stat(legate, 'cluster.o.upstream_cx_total')) >= 1);
    assert.ok((await stat(legate, 'cluster.o.upstream_cx_tx_bytes_total')) > 0);
    const prom = (await admin(legate, '/stats/prometheus')).body.toString();
    for (const [metric, label] of [
      ['envoy_cluster_upstream_rq_time', 'envoy_cluster_name="o"'],
      ['envoy_http_downstream_rq_time', 'envoy_http_conn_manager_prefix="ingress_http"'],
    ]) {
      const count = new RegExp(`^${metric}_count\\{${label}\\} (\\d+)$`, 'm').exec(prom);
      assert.ok(count, `${metric}_count in:\n${prom}`);
      assert.equal(Number(count[1]), N, metric);
      const inf = new RegExp(`^${metric}_bucket\\{${label},le="\\+Inf"\\} (\\d+)$`, 'm').exec(prom);
      assert.equal(Number(inf?.[1]), N);
    }
    const text = (await admin(legate, '/stats?filter=rq_time')).body.toString();
    assert.match(text, /^cluster\.o\.upstream_rq_time: P0\([^,]+,[\d.]+\) P25\(.* P100\([^,]+,[\d.]+\)$/m);
  } finally {
    agent.destroy();
    await legate.stop();
    await origin.close();
  }
});
