/**
 * Every admin endpoint of a real proxy, its format, and the method rule: mutating endpoints are
 * POST only (a GET gets 400, as in Envoy) and unknown paths 404 with the list of commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, catchAllYaml, request, startLegate, startOrigin, stat } from '../integration/harness';

const MUTATING = [
  '/quitquitquit',
  '/healthcheck/fail',
  '/healthcheck/ok',
  '/drain_listeners',
  '/reset_counters',
  '/logging',
];

test('admin endpoints: formats, filters and the POST rule', async () => {
  const origin = await startOrigin();
  const legate = await startLegate(catchAllYaml([origin.port]), { concurrency: 2 });
  try {
    const port = legate.ports.get('proxy')!;
    for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: `/r${i}` })).status, 200);

    // / and /help list the commands; an unknown path is 404 with the same list.
    const help = (await admin(legate, '/help')).body.toString();
    for (const p of ['/stats', '/clusters', '/listeners', '/ready', ...MUTATING])
      assert.match(help, new RegExp(`  ${p}: `));
    assert.equal((await admin(legate, '/')).body.toString(), help);
    const missing = await admin(legate, '/nope');
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /admin commands are:/);

    // Mutations need POST; GET changes nothing.
    for (const p of MUTATING) {
      const r = await admin(legate, p);
      assert.equal(r.status, 400, `GET ${p}`);
    }
    assert.equal(await stat(legate, 'cluster.o.upstream_rq_total'), 3, 'GET /reset_counters reset nothing');

    const ready = await admin(legate, '/ready');
    assert.deepEqual([ready.status, ready.body.toString()], [200, 'LIVE\n']);

    const info = JSON.parse((await admin(legate, '/server_info')).body.toString());
    assert.equal(info.state, 'LIVE');
    assert.match(info.version, /^legate\//);
    assert.match(info.uptime_current_epoch, /^\d+s$/);
    assert.equal(info.command_line_options.drain_time, '5s');

    const dump = JSON.parse((await admin(legate, '/config_dump')).body.toString());
    assert.deepEqual(
      dump.configs.map((c: { '@type': string }) => c['@type']),
      [
        'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
        'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
        'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      ],
    );

    // /stats: text, filter, usedonly, json; a bad regex is 400.
    const all = (await admin(legate, '/stats')).body.toString();
    assert.match(all, /^cluster\.o\.upstream_rq_total: 3$/m);
    assert.match(all, /^cluster\.o\.upstream_rq_200: 3$/m, 'per-code counter appears once used');
    assert.doesNotMatch(all, /^cluster\.o\.upstream_rq_404:/m, 'unused per-code counters stay hidden');
    assert.match(all, /^server\.uptime: \d+$/m);
    assert.match(all, /^server\.concurrency: [12]$/m);
    assert.match(all, /^cluster\.o\.upstream_cx_connect_ms: P0\(/m);
    const filtered = (await admin(legate, '/stats?filter=^cluster\\.o\\.upstream_rq_')).body.toString();
    assert.ok(
      filtered
        .split('\n')
        .filter(Boolean)
        .every((l) => l.startsWith('cluster.o.upstream_rq_')),
      filtered,
    );
    const used = (await admin(legate, '/stats?usedonly')).body.toString();
    assert.doesNotMatch(used, /: 0$/m);
    assert.doesNotMatch(used, /No recorded values/);
    assert.match(used, /^http\.ingress_http\.downstream_rq_2xx: 3$/m);
    assert.equal((await admin(legate, '/stats?filter=(')).status, 400);
    const json = JSON.parse((await admin(legate, '/stats?format=json&filter=ingress_http')).body.toString());
    assert.ok(
      json.stats.some(
        (s: { name: string; value: number }) =>
          s.name === 'http.ingress_http.downstream_rq_total' && s.value === 3,
      ),
    );
    const hist = json.stats.at(-1).histograms;
    assert.deepEqual(hist.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
    assert.equal(hist.computed_quantiles[0].name, 'http.ingress_http.downstream_rq_time');
    assert.equal(hist.computed_quantiles[0].values.length, 10);
    assert.equal(typeof hist.computed_quantiles[0].values[9].cumulative, 'number');
    assert.match(
      (await admin(legate, '/stats?format=prometheus')).body.toString(),
      /^# TYPE envoy_cluster_upstream_rq_total counter$/m,
    );

    // /clusters: Envoy's text lines from the shared host table, and JSON.
    const clusters = (await admin(legate, '/clusters')).body.toString();
    const host = `o::127.0.0.1:${origin.port}::`;
    assert.match(clusters, /^o::default_priority::max_connections::1024$/m);
    assert.match(clusters, /^o::added_via_api::false$/m);
    assert.match(clusters, new RegExp(`^${host}rq_total::3$`, 'm'));
    assert.match(clusters, new RegExp(`^${host}rq_active::0$`, 'm'));
    assert.match(clusters, new RegExp(`^${host}cx_active::[12]$`, 'm'));
    assert.match(clusters, new RegExp(`^${host}health_flags::healthy$`, 'm'));
    const cj = JSON.parse((await admin(legate, '/clusters?format=json')).body.toString());
    const hs = cj.cluster_statuses[0].host_statuses[0];
    assert.equal(hs.address.socket_address.port_value, origin.port);
    assert.deepEqual(
      hs.stats.find((s: { name: string }) => s.name === 'rq_total'),
      { name: 'rq_total', value: '3' },
    );
    assert.equal(hs.health_status.eds_health_status, 'HEALTHY');

    // /listeners: name::address with the bound port; JSON.
    assert.equal((await admin(legate, '/listeners')).body.toString(), `proxy::127.0.0.1:${port}\n`);
    const lj = JSON.parse((await admin(legate, '/listeners?format=json')).body.toString());
    assert.equal(lj.listener_statuses[0].local_address.socket_address.port_value, port);

    assert.ok(Number(JSON.parse((await admin(legate, '/memory')).body.toString()).allocated) > 0);
    assert.deepEqual(JSON.parse((await admin(legate, '/runtime')).body.toString()), {
      entries: {},
      layers: [],
    });

    // POST mutations.
    assert.equal((await admin(legate, '/logging?level=debug', 'POST')).status, 200);
    assert.equal((await admin(legate, '/logging?level=loud', 'POST')).status, 400);
    assert.equal((await admin(legate, '/logging?level=info', 'POST')).status, 200);
    assert.equal((await admin(legate, '/healthcheck/fail', 'POST')).status, 200);
    assert.equal((await admin(legate, '/healthcheck/ok', 'POST')).status, 200);
    assert.equal((await admin(legate, '/reset_counters', 'POST')).status, 200);
    assert.equal(await stat(legate, 'cluster.o.upstream_rq_total'), 0);
    assert.equal((await admin(legate, '/drain_listeners', 'POST')).status, 200);
    const draining = await admin(legate, '/ready');
    assert.deepEqual([draining.status, draining.body.toString()], [503, 'DRAINING\n']);
    assert.equal((await admin(legate, '/quitquitquit', 'POST')).status, 200);
    assert.equal(await legate.exited, 0);
  } finally {
    await legate.stop();
    await origin.close();
  }
});
