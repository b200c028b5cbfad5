/**
 * RDS from a file (HCM `rds` with a `path_config_source`): the connection manager routes by the
 * RouteConfiguration its `route_config_name` names; a new file moved into place reroutes the next
 * request of every open connection, which stays open (Envoy's RDS semantics); an invalid file is
 * rejected, located, while the last good routes serve; a name the file lacks routes nothing (404);
 * stats `http.<stat_prefix>.rds.<name>.*` and /config_dump's RoutesConfigDump show it. Runs on
 * whichever engine the suite runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  admin,
  indent,
  keepAliveConnection,
  request,
  startLegateArgs,
  startOrigin,
  staticCluster,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

const ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

/** An RDS file: route configuration `local_route` sends everything to `cluster`; `other` to b. */
function rdsFile(version: string, cluster: string, typo = false): string {
  const routeConfig = (name: string, to: string): string => `- "@type": ${ROUTE_TYPE}
  name: ${name}
  virtual_hosts:
  - name: all
    domains: ["*"]
    routes:
    - match: { prefix: "/" }
      ${typo ? 'rout' : 'route'}: { cluster: ${to} }`;
  return `version_info: "${version}"\nresources:\n${routeConfig('local_route', cluster)}\n${routeConfig('other', 'b')}\n`;
}

function hcm(statPrefix: string, routeConfigName: string, rdsPath: string): string {
  return `      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${statPrefix}
          rds:
            route_config_name: ${routeConfigName}
            config_source: { path_config_source: { path: ${rdsPath} }, resource_api_version: V3 }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;
}

let a: Origin;
let b: Origin;
let lp: LegateProcess;
let dir: string;
let rdsPath: string;
let moves = 0;

function move(text: string): void {
  const next = path.join(dir, `rds.${++moves}.tmp`);
  fs.writeFileSync(next, text);
  fs.renameSync(next, rdsPath);
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

before(async () => {
  a = await startOrigin((_req, res) => res.end('a'));
  b = await startOrigin((_req, res) => res.end('b'));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-rds-'));
  rdsPath = path.join(dir, 'rds.yaml');
  fs.writeFileSync(rdsPath, rdsFile('v1', 'a'));
  const bootstrap = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(
    bootstrap,
    `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: proxy
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
${hcm('ingress_http', 'local_route', rdsPath)}
  - name: missing
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
${hcm('missing_http', 'not_in_the_file', rdsPath)}
  clusters:
${indent(staticCluster('a', [a.port]) + staticCluster('b', [b.port]), 2)}
`,
  );
  lp = await startLegateArgs(['-c', bootstrap, '--concurrency', '1']);
});

after(async () => {
  await lp?.stop(); // undefined when it failed to start
  await a.close();
  await b.close();
});

test('routes come from the file; a move reroutes the next request of an open connection, which stays open', async () => {
  const port = lp.ports.get('proxy')!;
  assert.equal((await request(port)).body.toString(), 'a');
  const connection = keepAliveConnection(port);
  try {
    assert.match(await connection.get(), /\r\n\r\na$/);
    move(rdsFile('v2', 'b'));
    await until('the v2 routes', async () => (await request(port)).body.toString() === 'b');
    const next = await connection.get();
    assert.match(next, /\r\n\r\nb$/);
    assert.doesNotMatch(next, /connection: close/i);
  } finally {
    connection.close();
  }
  assert.equal(await stat(lp, 'http.ingress_http.rds.local_route.update_success'), 2);
  assert.notEqual(await stat(lp, 'http.ingress_http.rds.local_route.version'), 0);
});

test('an invalid file is rejected, located in it, and the last good routes serve', async () => {
  const port = lp.ports.get('proxy')!;
  move(rdsFile('v3', 'a', true));
  await until(
    'the rejection',
    async () => (await stat(lp, 'http.ingress_http.rds.local_route.update_rejected')) === 1,
  );
  assert.match(
    lp.output(),
    new RegExp(`${rdsPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error: .*rout`),
  );
  assert.equal((await request(port)).body.toString(), 'b');
});

test('a route_config_name the file lacks routes nothing (404), as an empty route table', async () => {
  const r = await request(lp.ports.get('missing')!);
  assert.equal(r.status, 404);
});

test('/config_dump lists the route configurations RDS delivered', async () => {
  const dump = JSON.parse((await admin(lp, '/config_dump')).body.toString()) as {
    configs: {
      '@type': string;
      dynamic_route_configs?: { version_info: string; route_config: { name: string } }[];
    }[];
  };
  const routes = dump.configs.find((c) => c['@type'].endsWith('RoutesConfigDump'))!;
  assert.deepEqual(
    routes.dynamic_route_configs!.map((r) => [r.route_config.name, r.version_info]),
    [
      ['local_route', 'v2'],
      ['other', 'v2'],
    ],
  );
});
