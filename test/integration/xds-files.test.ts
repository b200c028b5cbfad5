/**
 * File-based xDS (`dynamic_resources.cds_config` / `lds_config` with `path_config_source`): the
 * listener and cluster that arrive by file serve real traffic; a new file moved into place is
 * applied while keep-alive traffic flows and loses no request; a malformed one is rejected with its
 * location in the xDS file while the last good config serves; writes in place are not watched (as
 * in Envoy: only a move is atomic); `watched_directory` reloads on a symlink swap; /config_dump and
 * the cluster_manager / listener_manager stats show the dynamic resources. Runs on whichever engine
 * the suite runs (native engine, LEGATE_ENGINE=js, LEGATE_NATIVE=0), on both downstream codecs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  admin,
  catchAllVirtualHost,
  httpProxyYaml,
  request,
  runLegate,
  startLegateArgs,
  startOrigin,
  staticCluster,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';
import { assertAllAnswered, steadyLoad } from '../support/steady-load';

const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const LISTENER_TYPE = 'type.googleapis.com/envoy.config.listener.v3.Listener';

/** A DiscoveryResponse in YAML: `items` are resources written as YAML list items. */
function discoveryResponse(version: string, type: string, items: string[]): string {
  const resources = items.map((item) => item.replace(/^- /, `- "@type": ${type}\n  `)).join('\n');
  return `version_info: "${version}"\nresources:${items.length === 0 ? ' []' : `\n${resources}`}\n`;
}

/** A listener (a resources item): every request to `cluster`, or a direct 200 answering `direct`. */
function listenerItem(name: string, o: { cluster?: string; direct?: string; serverName?: string }): string {
  const action =
    o.cluster !== undefined
      ? `route: { cluster: ${o.cluster} }`
      : `direct_response: { status: 200, body: { inline_string: "${o.direct}" } }`;
  return `- name: ${name}
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ${name}
        server_name: ${o.serverName ?? 'legate'}
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: { prefix: "/" }
              ${action}
        http_filters:
        - name: envoy.filters.http.router
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;
}

interface Shape {
  route: 'a' | 'b';
  clusterB: boolean;
  extra: boolean;
  variant: number;
}

function versionOf(s: Shape): string {
  return `${s.route}.${s.clusterB}.${s.extra}.${s.variant}`;
}

function cdsFor(origins: { a: Origin; b: Origin }, s: Shape): string {
  const lb = `lb_policy: ${s.variant % 2 === 0 ? 'ROUND_ROBIN' : 'LEAST_REQUEST'}`;
  const items = [staticCluster('a', [origins.a.port], lb)];
  if (s.clusterB) items.push(staticCluster('b', [origins.b.port]));
  return discoveryResponse(`cds-${versionOf(s)}`, CLUSTER_TYPE, items);
}

function ldsFor(s: Shape): string {
  const items = [listenerItem('proxy', { cluster: s.route, serverName: `variant-${s.variant}` })];
  if (s.extra) items.push(listenerItem('extra', { direct: 'extra' }));
  return discoveryResponse(`lds-${versionOf(s)}`, LISTENER_TYPE, items);
}

interface XdsProxy {
  lp: LegateProcess;
  dir: string;
  cdsPath: string;
  ldsPath: string;
  /** Writes `text` beside the file and moves it into place (the atomic update Envoy watches for). */
  move(file: 'cds' | 'lds', text: string): void;
  close(): Promise<void>;
}

let moves = 0;

async function startXds(
  cds: string,
  lds: string,
  opts: { args?: string[]; bootstrapExtra?: string; dir?: string; concurrency?: number } = {},
): Promise<XdsProxy> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'legate-xds-'));
  const cdsPath = path.join(dir, 'cds.yaml');
  const ldsPath = path.join(dir, 'lds.yaml');
  if (opts.dir === undefined) {
    fs.writeFileSync(cdsPath, cds);
    fs.writeFileSync(ldsPath, lds);
  }
  const bootstrap = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(
    bootstrap,
    `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
dynamic_resources:
  cds_config:
    resource_api_version: V3
    path_config_source: { path: ${cdsPath} }
  lds_config:
    resource_api_version: V3
    path_config_source: { path: ${ldsPath} }
${opts.bootstrapExtra ?? ''}`,
  );
  const lp = await startLegateArgs(['-c', bootstrap, ...(opts.args ?? [])], {
    concurrency: opts.concurrency,
  });
  return {
    lp,
    dir,
    cdsPath,
    ldsPath,
    move(file, text) {
      const tmp = path.join(dir, `.${file}-${++moves}.tmp`);
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, file === 'cds' ? cdsPath : ldsPath);
    },
    close: async () => {
      await lp.stop();
    },
  };
}

/** Polls `name` until it reaches `value` (bounded: 5 s). */
async function waitForStat(lp: LegateProcess, name: string, value: number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 100; i++) {
    last = await stat(lp, name);
    if (last === value) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`${name} is ${last}, expected ${value}\n${lp.output().slice(-3000)}`);
}

async function listenerPort(lp: LegateProcess, name: string): Promise<number | undefined> {
  const text = (await admin(lp, '/listeners?format=json')).body.toString();
  const entry = (
    JSON.parse(text) as {
      listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[];
    }
  ).listener_statuses.find((l) => l.name === name);
  return entry?.local_address.socket_address.port_value;
}

/** Origins A and B (answering `a` and `b`) for `body`, closed after it. */
async function withOrigins(body: (origins: { a: Origin; b: Origin }) => Promise<void>): Promise<void> {
  const a = await startOrigin((_req, res) => res.end('a'));
  const b = await startOrigin((_req, res) => res.end('b'));
  try {
    await body({ a, b });
  } finally {
    await a.close();
    await b.close();
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

for (const codec of ['legate', 'uws'] as const) {
  test(`${codec} codec: a listener and clusters from xDS files serve; updates moved into place under steady load lose no request`, async () => {
    await withOrigins(async ({ a, b }) => {
      const shapes: Shape[] = [
        { route: 'a', clusterB: false, extra: false, variant: 0 },
        { route: 'b', clusterB: true, extra: true, variant: 0 },
        { route: 'a', clusterB: false, extra: false, variant: 1 },
        { route: 'b', clusterB: true, extra: false, variant: 2 },
        { route: 'a', clusterB: true, extra: true, variant: 3 },
      ];
      const proxy = await startXds(cdsFor({ a, b }, shapes[0]!), ldsFor(shapes[0]!), {
        args: ['--http1-codec', codec],
      });
      const { lp } = proxy;
      const port = lp.ports.get('proxy')!;
      assert.ok(port > 0, 'the listener from the LDS file was started');
      assert.equal((await request(port)).body.toString(), 'a');
      const load = steadyLoad(port, 6, 5);
      let cdsUpdates = 1;
      let ldsUpdates = 1;
      try {
        let previous = shapes[0]!;
        for (let round = 1; round <= 2 * (shapes.length - 1); round++) {
          const shape = shapes[round % shapes.length]!;
          // A cluster arrives before the route to it, and leaves after it (as a control plane orders them).
          const cds = async (): Promise<void> => {
            if (cdsFor({ a, b }, shape) === cdsFor({ a, b }, previous)) return;
            proxy.move('cds', cdsFor({ a, b }, shape));
            await waitForStat(lp, 'cluster_manager.cds.update_success', ++cdsUpdates);
          };
          const lds = async (): Promise<void> => {
            proxy.move('lds', ldsFor(shape));
            await waitForStat(lp, 'listener_manager.lds.update_success', ++ldsUpdates);
          };
          if (shape.clusterB) {
            await cds();
            await lds();
          } else {
            await lds();
            await cds();
          }
          previous = shape;
          const res = await request(port);
          assert.equal(res.body.toString(), shape.route, `round ${round}: route to ${shape.route}`);
          assert.equal(res.headers.server, `variant-${shape.variant}`);
          const extraPort = await listenerPort(lp, 'extra');
          assert.equal(extraPort !== undefined, shape.extra, `round ${round}: listener extra`);
          if (extraPort !== undefined) assert.equal((await request(extraPort)).body.toString(), 'extra');
          assert.equal(await stat(lp, 'cluster_manager.active_clusters'), shape.clusterB ? 2 : 1);
          assert.equal(await stat(lp, 'listener_manager.total_listeners_active'), shape.extra ? 2 : 1);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        const result = await load.stop();
        const rejected = await stat(lp, 'cluster_manager.cds.update_rejected');
        await proxy.close();
        assertAllAnswered(result, 100);
        assert.equal(rejected, 0);
      }
    });
  });
}

test('a malformed xDS update is rejected with its location and the last good config serves; writes in place are not watched; JSON is read too', async () => {
  await withOrigins(async ({ a, b }) => {
    const first: Shape = { route: 'a', clusterB: true, extra: false, variant: 0 };
    const proxy = await startXds(cdsFor({ a, b }, first), ldsFor(first));
    const { lp, cdsPath, ldsPath } = proxy;
    const port = lp.ports.get('proxy')!;
    try {
      assert.equal((await request(port)).body.toString(), 'a');
      // A typo'd field and a negative timeout in the second cluster.
      const good = cdsFor({ a, b }, first);
      const bad = good.replace(
        /(- "@type"[^]*?)(- "@type"[^]*?)connect_timeout: 1s/,
        '$1$2conect_timeout: -1s',
      );
      assert.notEqual(bad, good);
      proxy.move('cds', bad);
      await waitForStat(lp, 'cluster_manager.cds.update_rejected', 1);
      assert.match(
        lp.output(),
        new RegExp(
          `${escape(cdsPath)}:\\d+:\\d+: error: resources\\[1\\]\\.conect_timeout: unknown field 'conect_timeout'`,
        ),
      );
      assert.match(lp.output(), /rejected; the last good config stays/);
      assert.equal(await stat(lp, 'cluster_manager.cds.update_attempt'), 2);
      assert.equal(await stat(lp, 'cluster_manager.cds.update_success'), 1);
      assert.equal((await request(port)).body.toString(), 'a', 'the old config serves');

      // A route to a cluster that does not exist, and a resource of the wrong type.
      proxy.move('lds', ldsFor({ ...first, route: 'nope' as 'a' }));
      await waitForStat(lp, 'listener_manager.lds.update_rejected', 1);
      assert.match(
        lp.output(),
        new RegExp(
          `${escape(ldsPath)}:\\d+:\\d+: error: resources\\[0\\]\\.filter_chains\\[0\\].*cluster: unknown cluster 'nope'`,
        ),
      );
      proxy.move('cds', good.replace(CLUSTER_TYPE, LISTENER_TYPE));
      await waitForStat(lp, 'cluster_manager.cds.update_rejected', 2);
      assert.match(
        lp.output(),
        new RegExp(
          `${escape(cdsPath)}:3:3: error: resources\\[0\\]\\.@type: expected ${escape(CLUSTER_TYPE)}, found ${escape(LISTENER_TYPE)}`,
        ),
      );
      assert.equal((await request(port)).body.toString(), 'a');

      // Written in place (not moved): Envoy does not watch that, nor does Legate.
      fs.writeFileSync(ldsPath, ldsFor({ ...first, route: 'b' }));
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(await stat(lp, 'listener_manager.lds.update_attempt'), 2);
      assert.equal((await request(port)).body.toString(), 'a');

      // The same response in JSON, moved into place.
      const json = JSON.stringify({
        version_info: 'json-1',
        resources: [
          {
            '@type': LISTENER_TYPE,
            name: 'proxy',
            address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
            filter_chains: [
              {
                filters: [
                  {
                    name: 'envoy.filters.network.http_connection_manager',
                    typed_config: {
                      '@type':
                        'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                      stat_prefix: 'proxy',
                      route_config: {
                        virtual_hosts: [
                          {
                            name: 'all',
                            domains: ['*'],
                            routes: [{ match: { prefix: '/' }, route: { cluster: 'b' } }],
                          },
                        ],
                      },
                      http_filters: [
                        {
                          name: 'envoy.filters.http.router',
                          typed_config: {
                            '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                          },
                        },
                      ],
                    },
                  },
                ],
              },
            ],
          },
        ],
      });
      proxy.move('lds', json);
      await waitForStat(lp, 'listener_manager.lds.update_success', 2);
      assert.equal((await request(port)).body.toString(), 'b');

      const dump = JSON.parse((await admin(lp, '/config_dump')).body.toString()) as {
        configs: Record<string, unknown>[];
      };
      const clusters = dump.configs.find(
        (c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      ) as {
        version_info: string;
        static_clusters: unknown[];
        dynamic_active_clusters: { version_info: string; cluster: { name: string }; last_updated: string }[];
        dynamic_warming_clusters: unknown[];
      };
      assert.equal(clusters.version_info, `cds-${versionOf(first)}`);
      assert.deepEqual(clusters.static_clusters, []);
      assert.deepEqual(
        clusters.dynamic_active_clusters.map((c) => [c.cluster.name, c.version_info]),
        [
          ['a', clusters.version_info],
          ['b', clusters.version_info],
        ],
      );
      assert.ok(!Number.isNaN(Date.parse(clusters.dynamic_active_clusters[0]!.last_updated)));
      assert.deepEqual(clusters.dynamic_warming_clusters, []);
      const listeners = dump.configs.find(
        (c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      ) as {
        version_info: string;
        dynamic_listeners: {
          name: string;
          active_state: { version_info: string; listener: { '@type': string } };
        }[];
      };
      assert.equal(listeners.version_info, 'json-1');
      assert.deepEqual(
        listeners.dynamic_listeners.map((l) => [
          l.name,
          l.active_state.version_info,
          l.active_state.listener['@type'],
        ]),
        [['proxy', 'json-1', LISTENER_TYPE]],
      );
      assert.equal(await stat(lp, 'listener_manager.listener_modified'), 1);
      assert.equal(await stat(lp, 'listener_manager.listener_added'), 1);
    } finally {
      await proxy.close();
    }
  });
});

test('watched_directory: a symlink swapped in the directory (a Kubernetes ConfigMap update) reloads the file', async () => {
  await withOrigins(async ({ a, b }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-xds-cm-'));
    // A ConfigMap volume: <dir>/cds.yaml → ..data/cds.yaml, ..data → a versioned directory.
    const version = (n: number, route: 'a' | 'b'): void => {
      const v = path.join(dir, `..v${n}`);
      fs.mkdirSync(v);
      fs.writeFileSync(
        path.join(v, 'cds.yaml'),
        cdsFor({ a, b }, { route, clusterB: true, extra: false, variant: 0 }),
      );
      fs.writeFileSync(path.join(v, 'lds.yaml'), ldsFor({ route, clusterB: true, extra: false, variant: 0 }));
      fs.symlinkSync(`..v${n}`, path.join(dir, '..data_tmp'));
      fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    };
    version(1, 'a');
    fs.symlinkSync('..data/cds.yaml', path.join(dir, 'cds.yaml'));
    fs.symlinkSync('..data/lds.yaml', path.join(dir, 'lds.yaml'));
    const bootstrap = path.join(dir, 'bootstrap.yaml');
    fs.writeFileSync(
      bootstrap,
      `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
dynamic_resources:
  cds_config:
    path_config_source: { path: ${dir}/cds.yaml, watched_directory: { path: ${dir} } }
  lds_config:
    path_config_source: { path: ${dir}/lds.yaml, watched_directory: { path: ${dir} } }
`,
    );
    const lp = await startLegateArgs(['-c', bootstrap]);
    try {
      const port = lp.ports.get('proxy')!;
      assert.equal((await request(port)).body.toString(), 'a');
      version(2, 'b');
      await waitForStat(lp, 'listener_manager.lds.update_success', 2);
      assert.equal((await request(port)).body.toString(), 'b');
    } finally {
      await lp.stop();
    }
  });
});

test('an LDS file rejected for a route to a cluster not there yet is applied once the CDS file brings the cluster', async () => {
  await withOrigins(async ({ a, b }) => {
    const first: Shape = { route: 'a', clusterB: false, extra: false, variant: 0 };
    const next: Shape = { route: 'b', clusterB: true, extra: false, variant: 1 };
    const proxy = await startXds(cdsFor({ a, b }, first), ldsFor(first));
    const { lp } = proxy;
    try {
      const port = lp.ports.get('proxy')!;
      proxy.move('lds', ldsFor(next));
      await waitForStat(lp, 'listener_manager.lds.update_rejected', 1);
      assert.match(lp.output(), /unknown cluster 'b'/);
      assert.equal((await request(port)).body.toString(), 'a');
      proxy.move('cds', cdsFor({ a, b }, next));
      await waitForStat(lp, 'listener_manager.lds.update_success', 2);
      const res = await request(port);
      assert.equal(res.body.toString(), 'b');
      assert.equal(res.headers.server, 'variant-1');
    } finally {
      await proxy.close();
    }
  });
});

test('a listener an LDS update replaced counts in total_listeners_draining until its connections are gone', async () => {
  await withOrigins(async ({ a, b }) => {
    const first: Shape = { route: 'a', clusterB: false, extra: false, variant: 0 };
    // One worker: the connection is on the worker that reports the gauge.
    const proxy = await startXds(cdsFor({ a, b }, first), ldsFor(first), { concurrency: 1 });
    const { lp } = proxy;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const port = lp.ports.get('proxy')!;
      assert.equal((await request(port, { agent })).body.toString(), 'a');
      proxy.move('lds', ldsFor({ ...first, variant: 1 }));
      await waitForStat(lp, 'listener_manager.lds.update_success', 2);
      // The keep-alive connection answered a request less than 1 s ago: it drains for a while.
      assert.equal(await stat(lp, 'listener_manager.total_listeners_draining'), 1);
      assert.equal(await stat(lp, 'listener_manager.total_listeners_active'), 1);
      await waitForStat(lp, 'listener_manager.total_listeners_draining', 0);
    } finally {
      agent.destroy();
      await proxy.close();
    }
  });
});

test('an invalid xDS file at startup is rejected (Legate starts without its resources) and a valid one moved in later applies', async () => {
  await withOrigins(async ({ a, b }) => {
    const shape: Shape = { route: 'a', clusterB: false, extra: false, variant: 0 };
    const proxy = await startXds(
      cdsFor({ a, b }, shape),
      ldsFor(shape).replace('filter_chains', 'filter_chain'),
    );
    const { lp } = proxy;
    try {
      assert.equal(lp.ports.get('proxy'), undefined);
      assert.equal(await stat(lp, 'listener_manager.lds.update_rejected'), 1);
      assert.match(
        lp.output(),
        /lds\.yaml:\d+:\d+: error: resources\[0\]\.filter_chain: unknown field 'filter_chain'; did you mean 'filter_chains'/,
      );
      assert.equal(await stat(lp, 'cluster_manager.cds.update_success'), 1);
      proxy.move('lds', ldsFor(shape));
      await waitForStat(lp, 'listener_manager.lds.update_success', 1);
      const port = await listenerPort(lp, 'proxy');
      assert.ok(port !== undefined);
      assert.equal((await request(port)).body.toString(), 'a');
    } finally {
      await proxy.close();
    }
  });
});

test('dynamic_resources: a missing file and gRPC sources are located config errors', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-xds-bad-'));
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(
    file,
    `dynamic_resources:
  cds_config:
    path_config_source: { path: ${dir}/nope.yaml }
  lds_config:
    api_config_source: { api_type: GRPC }
`,
  );
  const r = await runLegate(['--mode', 'validate', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(
      `${escape(file)}:3:27: error: dynamic_resources\\.cds_config\\.path_config_source\\.path: '${escape(dir)}/nope\\.yaml' does not exist`,
    ),
  );
  assert.match(
    r.stderr,
    /:5:5: error: dynamic_resources\.lds_config\.api_config_source: not supported by Legate yet: xDS from a management server/,
  );
});

test('static and dynamic resources together: a CDS resource may not take a static name; a reload keeps the accepted xDS resources (deprecated `path` form)', async () => {
  await withOrigins(async ({ a, b }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-xds-mix-'));
    const cdsPath = path.join(dir, 'cds.yaml');
    const ldsPath = path.join(dir, 'lds.yaml');
    const bootstrapPath = path.join(dir, 'envoy.yaml');
    const bootstrap = (staticClusters: string[]): string => `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  clusters:
${staticClusters.map((c) => c.replace(/^/gm, '  ')).join('\n')}
dynamic_resources:
  cds_config: { path: ${cdsPath} }
  lds_config: { path: ${ldsPath} }
`;
    // The CDS file names the static cluster `a`: rejected at startup, located in the file.
    fs.writeFileSync(cdsPath, discoveryResponse('1', CLUSTER_TYPE, [staticCluster('a', [b.port])]));
    fs.writeFileSync(ldsPath, ldsFor({ route: 'a', clusterB: false, extra: false, variant: 0 }));
    fs.writeFileSync(bootstrapPath, bootstrap([staticCluster('a', [a.port])]));
    const lp = await startLegateArgs(['-c', bootstrapPath]);
    const move = (file: string, text: string): void => {
      fs.writeFileSync(`${file}.tmp`, text);
      fs.renameSync(`${file}.tmp`, file);
    };
    try {
      assert.match(lp.output(), /path: deprecated; use path_config_source/);
      assert.match(
        lp.output(),
        new RegExp(
          `${escape(cdsPath)}:4:3: error: resources\\[0\\]\\.name: duplicate cluster name 'a' \\(also static_resources\\.clusters\\[0\\]\\)`,
        ),
      );
      assert.equal(await stat(lp, 'cluster_manager.cds.update_rejected'), 1);
      const port = lp.ports.get('proxy')!;
      assert.equal((await request(port)).body.toString(), 'a');

      move(cdsPath, discoveryResponse('2', CLUSTER_TYPE, [staticCluster('b', [b.port])]));
      await waitForStat(lp, 'cluster_manager.cds.update_success', 1);
      move(ldsPath, ldsFor({ route: 'b', clusterB: true, extra: false, variant: 0 }));
      await waitForStat(lp, 'listener_manager.lds.update_success', 2);
      assert.equal((await request(port)).body.toString(), 'b');

      // A reload whose static clusters take the CDS resource's name changes nothing.
      fs.writeFileSync(
        bootstrapPath,
        bootstrap([staticCluster('a', [a.port]), staticCluster('b', [a.port])]),
      );
      const rejected = await admin(lp, '/reload', 'POST');
      assert.equal(rejected.status, 400);
      assert.match(rejected.body.toString(), /cluster 'b' is also a resource of .*cds\.yaml/);
      assert.equal((await request(port)).body.toString(), 'b');

      // A valid reload keeps the xDS resources serving.
      fs.writeFileSync(bootstrapPath, bootstrap([staticCluster('a', [a.port], 'lb_policy: RANDOM')]));
      const ok = await admin(lp, '/reload', 'POST');
      assert.equal(ok.status, 200, ok.body.toString());
      assert.equal((await request(port)).body.toString(), 'b');
      assert.equal(await stat(lp, 'cluster_manager.cluster_modified'), 1);
      assert.equal(await stat(lp, 'cluster_manager.active_clusters'), 2);
    } finally {
      await lp.stop();
    }
  });
});

/** A ClusterLoadAssignment (a resources item) for `cluster`: one endpoint per port, `priorities[i]` its priority. */
function assignmentItem(
  cluster: string,
  ports: number[],
  priorities: number[] = [],
  health: string[] = [],
): string {
  const localities = ports.map(
    (port, i) => `  - priority: ${priorities[i] ?? 0}
    locality: { zone: zone-${i} }
    lb_endpoints:
    - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }
      load_balancing_weight: ${i + 1}
      health_status: ${health[i] ?? 'UNKNOWN'}`,
  );
  return `- cluster_name: ${cluster}\n  endpoints:\n${localities.join('\n')}`;
}

const ENDPOINT_TYPE = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

test('EDS from a file: the cluster serves the endpoints of its ClusterLoadAssignment; new ones moved into place apply under load, a malformed one is rejected', async () => {
  await withOrigins(async ({ a, b }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-eds-'));
    const edsPath = path.join(dir, 'eds.yaml');
    const bootstrapPath = path.join(dir, 'envoy.yaml');
    const move = (text: string): void => {
      fs.writeFileSync(`${edsPath}.tmp`, text);
      fs.renameSync(`${edsPath}.tmp`, edsPath);
    };
    // Another cluster's assignment in the same file is not this one's.
    fs.writeFileSync(
      edsPath,
      discoveryResponse('1', ENDPOINT_TYPE, [
        assignmentItem('other', [b.port]),
        assignmentItem('svc', [a.port]),
      ]),
    );
    fs.writeFileSync(
      bootstrapPath,
      httpProxyYaml({
        virtualHosts: catchAllVirtualHost({ cluster: 'web' }),
        clusters: `- name: web
  connect_timeout: 1s
  type: EDS
  eds_cluster_config:
    service_name: svc
    eds_config: { path_config_source: { path: ${edsPath} } }
`,
      }),
    );
    const lp = await startLegateArgs(['-c', bootstrapPath]);
    const port = lp.ports.get('proxy')!;
    const load = steadyLoad(port, 4, 5);
    try {
      assert.equal(await stat(lp, 'cluster.web.update_success'), 1);
      assert.equal((await request(port)).body.toString(), 'a');

      move(discoveryResponse('2', ENDPOINT_TYPE, [assignmentItem('svc', [b.port])]));
      await waitForStat(lp, 'cluster.web.update_success', 2);
      assert.equal((await request(port)).body.toString(), 'b');

      // Priority 0 takes everything while it is healthy.
      move(discoveryResponse('3', ENDPOINT_TYPE, [assignmentItem('svc', [b.port, a.port], [1, 0])]));
      await waitForStat(lp, 'cluster.web.update_success', 3);
      for (let i = 0; i < 5; i++) assert.equal((await request(port)).body.toString(), 'a');

      // An endpoint the assignment says is unhealthy takes no traffic (Envoy's failed_eds_health).
      move(
        discoveryResponse('3h', ENDPOINT_TYPE, [
          assignmentItem('svc', [a.port, b.port], [], ['UNHEALTHY', 'HEALTHY']),
        ]),
      );
      await waitForStat(lp, 'cluster.web.update_success', 4);
      for (let i = 0; i < 5; i++) assert.equal((await request(port)).body.toString(), 'b');
      const clusters = (await admin(lp, '/clusters')).body.toString();
      assert.match(clusters, new RegExp(`web::127\\.0\\.0\\.1:${a.port}::health_flags::/failed_eds_health`));
      assert.match(clusters, new RegExp(`web::127\\.0\\.0\\.1:${b.port}::health_flags::healthy`));
      move(discoveryResponse('3', ENDPOINT_TYPE, [assignmentItem('svc', [b.port, a.port], [1, 0])]));
      await waitForStat(lp, 'cluster.web.update_success', 5);

      // A host name where EDS takes IP addresses, and a typo: rejected, located; the last good one serves.
      move(
        discoveryResponse('4', ENDPOINT_TYPE, [assignmentItem('svc', [b.port])])
          .replace('address: 127.0.0.1', 'address: origin.local')
          .replace('lb_endpoints', 'lb_endpoint'),
      );
      await waitForStat(lp, 'cluster.web.update_rejected', 1);
      assert.match(
        lp.output(),
        new RegExp(
          `${escape(edsPath)}:\\d+:\\d+: error: resources\\[0\\]\\.endpoints\\[0\\]\\.lb_endpoint: unknown field 'lb_endpoint'`,
        ),
      );
      assert.equal((await request(port)).body.toString(), 'a');
      assert.equal(await stat(lp, 'cluster_manager.cluster_modified'), 4);
    } finally {
      const result = await load.stop();
      await lp.stop();
      assertAllAnswered(result, 20);
    }
  });
});

test('EDS clusters from a CDS file, and EDS config errors', async () => {
  await withOrigins(async ({ a }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-cds-eds-'));
    const edsPath = path.join(dir, 'eds.yaml');
    fs.writeFileSync(edsPath, discoveryResponse('e1', ENDPOINT_TYPE, [assignmentItem('a', [a.port])]));
    const edsCluster = `- name: a
  connect_timeout: 1s
  type: EDS
  eds_cluster_config: { eds_config: { path_config_source: { path: ${edsPath} } } }`;
    const shape: Shape = { route: 'a', clusterB: false, extra: false, variant: 0 };
    const proxy = await startXds(discoveryResponse('c1', CLUSTER_TYPE, [edsCluster]), ldsFor(shape));
    const { lp } = proxy;
    try {
      const port = lp.ports.get('proxy')!;
      assert.equal((await request(port)).body.toString(), 'a');
      assert.equal(await stat(lp, 'cluster.a.update_success'), 1);

      const bad = path.join(dir, 'bad.yaml');
      fs.writeFileSync(
        bad,
        `static_resources:
  clusters:
  - name: e
    type: EDS
    load_assignment: { cluster_name: e }
  - name: s
    type: STATIC
    eds_cluster_config: { eds_config: { path: ${edsPath} } }
`,
      );
      const r = await runLegate(['--mode', 'validate', '-c', bad]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /:5:5: error: static_resources\.clusters\[0\]\.load_assignment: an EDS cluster takes its endpoints from eds_cluster_config\.eds_config/,
      );
      assert.match(r.stderr, /:3:5: error: static_resources\.clusters\[0\]\.eds_cluster_config: .*missing/);
      assert.match(
        r.stderr,
        /:8:5: error: static_resources\.clusters\[1\]\.eds_cluster_config: applies to EDS clusters only \(this one is STATIC\)/,
      );
    } finally {
      await proxy.close();
    }
  });
});
