/**
 * Valid Envoy configs that Legate used to reject (issue 10, defect 5): enum values in any case,
 * host names with '_', an extension `name` that disagrees with its `@type`, `admin.access_log`, and
 * a repeated field written as a single mapping.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { test } from 'node:test';
import { withLegate } from '../integration/harness';
import { errorAt, issuesOf, load, minimalConfig, tempPath } from './helpers';

const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const CLUSTER0 = 'static_resources.clusters[0]';

/** minimalConfig() with cluster c0's endpoint address replaced. */
function withEndpoint(address: string, clusterFields: string): string {
  return minimalConfig({ cluster: clusterFields }).replace(
    'address: { socket_address: { address: 127.0.0.1, port_value: 8080 } }',
    `address: { socket_address: { address: ${address}, port_value: 8080 } }`,
  );
}

test('enum values are read in any case, as Envoy (protobuf case_insensitive_enum_parsing) reads them', () => {
  const text = withEndpoint(
    'backend',
    'type: strict_dns\nlb_policy: round_robin\ndns_lookup_family: v4_only\ncircuit_breakers: { thresholds: [{ priority: high }] }',
  ).replace('stat_prefix: ingress', 'stat_prefix: ingress\n          codec_type: auto');
  const { bootstrap, warnings } = load(text);
  const cluster = bootstrap.clusters[0]!;
  assert.deepEqual(
    [cluster.type, cluster.lbPolicy, cluster.dnsLookupFamily, cluster.endpoints[0]!.address.address],
    ['STRICT_DNS', 'ROUND_ROBIN', 'V4_ONLY', 'backend'],
  );
  assert.deepEqual(warnings, []);
  const mixed = load(minimalConfig({ cluster: 'lb_policy: Least_Request' })).bootstrap.clusters[0]!;
  assert.equal(mixed.lbPolicy, 'LEAST_REQUEST');
});

test('a cluster type that is really unknown is the only error: its host names are not blamed', () => {
  const issues = issuesOf(withEndpoint('backend', 'type: strict_dsn'));
  assert.deepEqual(
    issues.map((i) => i.path),
    [`${CLUSTER0}.type`],
  );
  assert.equal(issues[0]!.hint, "did you mean 'STRICT_DNS'?");
});

test("DNS names may contain '_', as Docker Compose names services", () => {
  for (const type of ['STRICT_DNS', 'LOGICAL_DNS']) {
    const { bootstrap } = load(withEndpoint('web_service', `type: ${type}`));
    assert.equal(bootstrap.clusters[0]!.endpoints[0]!.address.address, 'web_service', type);
  }
  const bad = errorAt(
    issuesOf(withEndpoint('"web service"', 'type: STRICT_DNS')),
    `${CLUSTER0}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address`,
  );
  assert.match(bad.message, /'web service' is not a valid host name/);
});

test("an access log whose name is another logger's is picked by @type, with a warning", () => {
  const text = minimalConfig({
    hcm: `access_log:
- name: envoy.access_loggers.file
  typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog }`,
  });
  const { bootstrap, warnings } = load(text);
  const hcm = bootstrap.listeners[0]!.filterChains[0]!.filters[0]!.config as {
    accessLog: { name: string }[];
  };
  assert.equal(hcm.accessLog[0]!.name, 'envoy.access_loggers.stdout');
  assert.deepEqual(
    warnings.map((w) => [w.path, w.severity]),
    [[`${HCM}.access_log[0].name`, 'warning']],
  );
});

test('a repeated field written as one mapping is read as a list of one, with a warning', () => {
  const text = minimalConfig()
    .replace('  clusters:\n  - name: c0\n', '  clusters:\n    name: c0\n')
    .replace(/\n {4}load_assignment/, '\n    load_assignment');
  const { bootstrap, warnings } = load(text);
  assert.deepEqual(
    bootstrap.clusters.map((c) => c.name),
    ['c0'],
  );
  assert.deepEqual(
    warnings.map((w) => w.path),
    ['static_resources.clusters'],
  );
  assert.match(warnings[0]!.message, /read as a list of one/);
});

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

/** Waits (bounded) until `file` has `lines` lines. */
async function readLines(file: string, lines: number): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const text = (() => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    })();
    const found = text.split('\n').filter((l) => l !== '');
    if (found.length >= lines) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  return assert.fail(`${file} never had ${lines} line(s)`);
}

test('admin.access_log (and the deprecated access_log_path) log admin requests', async () => {
  const modern = tempPath('admin-modern.log');
  const legacy = tempPath('admin-legacy.log');
  const text = `admin:
  access_log_path: ${legacy}
  access_log:
  - name: envoy.access_loggers.file
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
      path: ${modern}
      log_format: { text_format_source: { inline_string: "admin %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE%\\n" } }
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${minimalConfig().replace('port_value: 10000', 'port_value: 0')}`;
  const { warnings } = load(text);
  assert.deepEqual(
    warnings.map((w) => w.path),
    ['admin.access_log_path'],
  );
  await withLegate(text, { concurrency: 1 }, async (legate) => {
    assert.equal(await get(legate.adminPort!, '/ready'), 200);
    assert.equal(await get(legate.adminPort!, '/nope'), 404);
    assert.deepEqual(await readLines(modern, 2), ['admin GET /ready 200', 'admin GET /nope 404']);
    const [first] = await readLines(legacy, 2);
    // Envoy's default format: [time] "GET /ready HTTP/1.1" 200 …
    assert.match(first!, /^\[[^\]]+\] "GET \/ready HTTP\/1\.1" 200 /);
  });
});
