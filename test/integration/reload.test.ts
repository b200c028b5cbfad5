/**
 * Reload (SIGHUP, admin POST /reload, `legate reload`): a new config applied while a client loop
 * sends requests at a steady pace loses none of them; route, cluster and listener changes are
 * served by the next request; an invalid config changes nothing and says why, located; memory
 * stays flat over many reloads. Runs on whichever engine the suite runs (native engine,
 * LEGATE_ENGINE=js, LEGATE_NATIVE=0), on both downstream codecs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  catchAllVirtualHost,
  httpProxyYaml,
  keepAliveConnection,
  request,
  runLegate,
  startLegateArgs,
  startOrigin,
  staticCluster,
  type LegateProcess,
  type Origin,
} from './harness';
import { assertAllAnswered, steadyLoad } from '../support/steady-load';

interface Shape {
  /** Route `/` to this cluster. */
  route: 'a' | 'b';
  /** Declare cluster b (origin B). */
  clusterB: boolean;
  /** A second listener `extra` answering 200 "extra" directly. */
  extra: boolean;
  /** Changes cluster a's settings and the proxy HCM's response header: changed objects, same hosts. */
  variant: number;
}

function configYaml(origins: { a: Origin; b: Origin }, s: Shape): string {
  const extra = s.extra
    ? `- name: extra
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: extra
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: { prefix: "/" }
              direct_response: { status: 200, body: { inline_string: "extra" } }
        http_filters:
        - name: envoy.filters.http.router
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`
    : '';
  return httpProxyYaml({
    virtualHosts: catchAllVirtualHost({ cluster: s.route }),
    hcmExtra: `server_name: variant-${s.variant}`,
    extraListeners: extra,
    clusters:
      staticCluster(
        'a',
        [origins.a.port],
        `lb_policy: ${s.variant % 2 === 0 ? 'ROUND_ROBIN' : 'LEAST_REQUEST'}`,
      ) + (s.clusterB ? staticCluster('b', [origins.b.port]) : ''),
  });
}

async function adminText(
  lp: LegateProcess,
  p: string,
  method = 'GET',
): Promise<{ status: number; text: string }> {
  const r = await request(lp.adminPort!, { method, path: p });
  return { status: r.status, text: r.body.toString() };
}

async function stat(lp: LegateProcess, name: string): Promise<number | undefined> {
  const { text } = await adminText(lp, `/stats?filter=${encodeURIComponent(`^${name}$`)}`);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

async function listenerPort(lp: LegateProcess, name: string): Promise<number | undefined> {
  const { text } = await adminText(lp, '/listeners?format=json');
  const entry = (
    JSON.parse(text) as {
      listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[];
    }
  ).listener_statuses.find((l) => l.name === name);
  return entry?.local_address.socket_address.port_value;
}

/** Origins A and B, the config file written for `shape`, and Legate serving it. */
async function startReloadable(
  shape: Shape,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{
  lp: LegateProcess;
  file: string;
  write(shape: Shape): void;
  yaml(shape: Shape): string;
  close(): Promise<void>;
}> {
  const a = await startOrigin((_req, res) => res.end('a'));
  const b = await startOrigin((_req, res) => res.end('b'));
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-reload-')), 'envoy.yaml');
  const yaml = (s: Shape): string => configYaml({ a, b }, s);
  fs.writeFileSync(file, yaml(shape));
  const lp = await startLegateArgs(['-c', file, ...args], { env });
  return {
    lp,
    file,
    yaml,
    write: (s) => fs.writeFileSync(file, yaml(s)),
    close: async () => {
      await lp.stop();
      await a.close();
      await b.close();
    },
  };
}

for (const codec of ['legate', 'uws'] as const) {
  test(`${codec} codec: reloads under steady load change routes, clusters and listeners and lose no request`, async () => {
    const shapes: Shape[] = [
      { route: 'a', clusterB: false, extra: false, variant: 0 },
      { route: 'b', clusterB: true, extra: true, variant: 0 },
      { route: 'a', clusterB: false, extra: false, variant: 1 },
      { route: 'b', clusterB: true, extra: false, variant: 2 },
      { route: 'a', clusterB: true, extra: true, variant: 3 },
      { route: 'a', clusterB: false, extra: false, variant: 4 },
    ];
    const proxy = await startReloadable(shapes[0]!, ['--http1-codec', codec]);
    const { lp } = proxy;
    const port = lp.ports.get('proxy')!;
    const load = steadyLoad(port, 6, 5);
    try {
      for (let round = 1; round <= 2 * (shapes.length - 1); round++) {
        const shape = shapes[round % shapes.length]!;
        proxy.write(shape);
        const r = await adminText(lp, '/reload', 'POST');
        assert.equal(r.status, 200, r.text);
        // The next request (a new connection) is served by the new config.
        const res = await request(port);
        assert.equal(res.body.toString(), shape.route, `round ${round}: route to ${shape.route}`);
        assert.equal(res.headers.server, `variant-${shape.variant}`);
        const extraPort = await listenerPort(lp, 'extra');
        assert.equal(extraPort !== undefined, shape.extra, `round ${round}: listener extra`);
        if (extraPort !== undefined) assert.equal((await request(extraPort)).body.toString(), 'extra');
        assert.equal((await stat(lp, 'cluster.b.upstream_rq_total')) !== undefined, shape.clusterB);
        // Some load between reloads.
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    } finally {
      const result = await load.stop();
      const reloads = await stat(lp, 'server.reload_success');
      await proxy.close();
      assertAllAnswered(result, 100);
      assert.equal(reloads, 2 * (shapes.length - 1));
    }
  });
}

test('an invalid config is rejected with located errors and the old one keeps serving; SIGHUP and `legate reload` apply a valid one', async () => {
  const first: Shape = { route: 'a', clusterB: false, extra: false, variant: 0 };
  const proxy = await startReloadable(first);
  const { lp, file } = proxy;
  const port = lp.ports.get('proxy')!;
  try {
    // A typo'd field and a route to a cluster that does not exist.
    const good = proxy.yaml(first);
    fs.writeFileSync(
      file,
      good.replace('connect_timeout: 1s', 'conect_timeout: 1s').replace('cluster: a', 'cluster: nope'),
    );
    const r = await adminText(lp, '/reload', 'POST');
    assert.equal(r.status, 400);
    assert.match(
      r.text,
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error: .*conect_timeout`),
    );
    assert.equal(await stat(lp, 'server.reload_failed'), 1);
    assert.equal(await stat(lp, 'server.reload_success'), 0);
    assert.equal((await request(port)).body.toString(), 'a', 'the old config serves');
    assert.match(lp.output(), /reload rejected, the running config stays/);

    const cli = await runLegate(['reload', '--admin', `127.0.0.1:${lp.adminPort}`]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /conect_timeout/);

    proxy.write({ route: 'b', clusterB: true, extra: false, variant: 0 });
    lp.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && (await stat(lp, 'server.reload_success')) !== 1; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await stat(lp, 'server.reload_success'), 1);
    assert.equal((await request(port)).body.toString(), 'b');

    proxy.write(first);
    const ok = await runLegate(['reload', '--admin', `127.0.0.1:${lp.adminPort}`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK: reload 2 applied/);
    assert.equal((await request(port)).body.toString(), 'a');
  } finally {
    await proxy.close();
  }
});

test('memory stays flat over many reloads that add and remove clusters and listeners', async () => {
  const shapes: Shape[] = [
    { route: 'a', clusterB: false, extra: false, variant: 0 },
    { route: 'b', clusterB: true, extra: true, variant: 1 },
  ];
  const RELOADS = 200;
  const proxy = await startReloadable(shapes[0]!, [], { LEGATE_TEST_HOOKS: '1' });
  const { lp } = proxy;
  const port = lp.ports.get('proxy')!;
  // The JS heap every thread retains (after a full collection), and the process's RSS.
  const memory = async (): Promise<{ heap: number; rss: number }> => {
    await adminText(lp, '/debug/gc', 'POST');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const mem = JSON.parse((await adminText(lp, '/memory')).text) as {
      allocated: string;
      total_physical_bytes: string;
    };
    return { heap: Number(mem.allocated), rss: Number(mem.total_physical_bytes) };
  };
  try {
    let early = { heap: 0, rss: 0 };
    for (let i = 1; i <= RELOADS; i++) {
      const shape = shapes[i % 2]!;
      proxy.write(shape);
      const r = await adminText(lp, '/reload', 'POST');
      assert.equal(r.status, 200, r.text);
      assert.equal((await request(port)).body.toString(), shape.route);
      if (i === 20) early = await memory();
    }
    const late = await memory();
    const mib = (n: number): string => (n / 1048576).toFixed(1);
    // A listener or cluster a reload leaves reachable would retain 180 × its size here (a
    // replaced listener with its HCM and routes: tens of KB); what remains is V8's own growth.
    assert.ok(
      late.heap - early.heap < 3 * 1024 * 1024,
      `heap retained grew ${mib(late.heap - early.heap)} MiB from reload 20 to ${RELOADS} (RSS ${mib(early.rss)} → ${mib(late.rss)} MiB)`,
    );
  } finally {
    await proxy.close();
  }
});

for (const codec of ['legate', 'uws'] as const) {
  test(`${codec} codec: a reload that changes only routes routes the next request of an open connection, which stays open`, async () => {
    const proxy = await startReloadable({ route: 'a', clusterB: true, extra: false, variant: 0 }, [
      '--http1-codec',
      codec,
    ]);
    const connection = keepAliveConnection(proxy.lp.ports.get('proxy')!);
    try {
      assert.match(await connection.get(), /\r\n\r\na$/);
      proxy.write({ route: 'b', clusterB: true, extra: false, variant: 0 });
      assert.equal((await adminText(proxy.lp, '/reload', 'POST')).status, 200);
      const after = await connection.get();
      assert.match(after, /\r\n\r\nb$/, 'the same connection, the new route');
      assert.doesNotMatch(after, /connection: close/i, 'not drained: only the routes changed');
      // Anything else (here the HCM's server_name) still rebuilds the listener: the legate codec's
      // connection drains; uWS serves every new request with the new listener at once.
      proxy.write({ route: 'a', clusterB: true, extra: false, variant: 1 });
      assert.equal((await adminText(proxy.lp, '/reload', 'POST')).status, 200);
      const rebuilt = await connection.get();
      if (codec === 'legate') assert.match(rebuilt, /connection: close/i);
      else assert.match(rebuilt, /server: variant-1/i);
    } finally {
      connection.close();
      await proxy.close();
    }
  });
}
