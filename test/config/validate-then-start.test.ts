/**
 * `--mode validate` builds what the workers build (issue 10, defect 3): a config it accepts must
 * start, and what a worker would fail on is a located error in both modes, before any worker runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { loadBootstrap } from '../../src/config/load';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import {
  buildDataPlane,
  checkDataPlane,
  closeDataPlane,
  singleWorkerDeps,
} from '../../src/worker/data-plane';
import { closeAccessLogSinks } from '../../src/access-log/sinks';
import { runLegate, withLegate } from '../integration/harness';
import { corpusFiles, validCorpus } from '../fuzz/corpus';
import { locationOf, minimalConfig, writeConfig } from './helpers';

const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const VH0 = `${HCM}.route_config.virtual_hosts[0]`;

/** `legate --mode validate -c <text in a file>`: exit code, and stderr's lines. */
async function validate(text: string): Promise<{ code: number | null; file: string; errors: string[] }> {
  const file = writeConfig(text);
  const r = await runLegate(['--mode', 'validate', '-c', file]);
  return { code: r.code, file, errors: r.stderr.split('\n').filter((l) => l.includes(': error: ')) };
}

const NOPE_HEADER = minimalConfig().replace(
  '              domains: ["*"]\n',
  '              domains: ["*"]\n              request_headers_to_add:\n              - header: { key: x-a, value: "%NOPE%" }\n',
);
const BAD_REWRITE = minimalConfig({
  route: 'route:\n  cluster: c0\n  regex_rewrite: { pattern: { regex: "^/(a)" }, substitution: "/\\\\3" }',
});

test('validate rejects a header value format the workers cannot compile, at the value', async () => {
  const { code, file, errors } = await validate(NOPE_HEADER);
  assert.equal(code, 1, 'validate must fail');
  assert.deepEqual(errors, [
    `${locationOf(NOPE_HEADER, 'value: "%NOPE%"').replace('<config-yaml>', file)}: error: ` +
      `${VH0}.request_headers_to_add[0].header.value: invalid header value format '%NOPE%': unsupported operator %NOPE%`,
  ]);
});

test('validate rejects a regex_rewrite whose substitution names a missing group, at regex_rewrite', async () => {
  const { code, file, errors } = await validate(BAD_REWRITE);
  assert.equal(code, 1, 'validate must fail');
  assert.deepEqual(errors, [
    `${locationOf(BAD_REWRITE, 'regex_rewrite').replace('<config-yaml>', file)}: error: ` +
      `${VH0}.routes[0].route.regex_rewrite: invalid regex_rewrite: rewrite refers to group \\3 but the pattern has 1 group(s)`,
  ]);
});

test('serve mode reports the same errors before it starts any worker', async () => {
  const file = writeConfig(NOPE_HEADER);
  const r = await runLegate(['-c', file, '--concurrency', '1']);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /: error: .*request_headers_to_add\[0\]\.header\.value: invalid header value format/,
  );
  assert.doesNotMatch(r.stderr + r.stdout, /worker failed to start/);
});

test('every problem of a config is reported in one run: routes, access logs and both levels', () => {
  const text = minimalConfig({
    hcm: `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: /nonexistent-dir/legate/access.log`,
    route: 'route:\n  cluster: c0\n  regex_rewrite: { pattern: { regex: "a" }, substitution: "\\\\q" }',
    moreRoutes: `- match: { prefix: /b }
  route: { cluster: c0 }
  response_headers_to_add: [{ header: { key: x-b, value: "100%" } }]`,
  });
  const registry = createBuiltinRegistry();
  const issues = (() => {
    try {
      loadBootstrap({ configYaml: text, check: (b) => checkDataPlane(b, registry) }, registry);
    } catch (e) {
      return (e as { issues: { path: string; location: string; message: string }[] }).issues;
    }
    return assert.fail('expected errors');
  })();
  assert.deepEqual(
    issues.map((i) => [i.location, i.path]),
    [
      [locationOf(text, 'name: envoy.access_loggers.file'), `${HCM}.access_log[0]`],
      [locationOf(text, 'regex_rewrite'), `${VH0}.routes[0].route.regex_rewrite`],
      [locationOf(text, 'value: "100%"'), `${VH0}.routes[1].response_headers_to_add[0].header.value`],
    ],
    issues.map((i) => `${i.location} ${i.path}: ${i.message}`).join('\n'),
  );
  assert.match(issues[0]!.message, /cannot open access log '\/nonexistent-dir\/legate\/access\.log'/);
});

/** Builds a worker's data plane in this thread as worker-main does (no socket; DNS answered here). */
function buildAsWorker(text: string): void {
  const registry = createBuiltinRegistry();
  const { bootstrap } = loadBootstrap({ configYaml: text }, registry);
  const plane = buildDataPlane({
    ...singleWorkerDeps(bootstrap, registry),
    dnsResolver: () => Promise.resolve(['127.0.0.1']),
  });
  closeDataPlane(plane);
  closeAccessLogSinks();
}

test('every config of examples/, test/ and the test builders validates, and a worker builds it', () => {
  const corpus = validCorpus();
  assert.ok(corpus.length >= 12, `corpus too small: ${corpus.map((c) => c.name).join(', ')}`);
  const registry = createBuiltinRegistry();
  for (const { name, text } of corpus) {
    assert.doesNotThrow(
      () => loadBootstrap({ configYaml: text, check: (b) => checkDataPlane(b, registry) }, registry),
      `${name} validates`,
    );
    assert.doesNotThrow(() => buildAsWorker(text), `${name} builds in a worker`);
  }
});

/** The text with every listener and the admin on port 0, so that it can start beside other tests. */
function onFreePorts(text: string): string {
  const doc = parseDocument(text);
  if (doc.hasIn(['admin', 'address'])) doc.setIn(['admin', 'address', 'socket_address', 'port_value'], 0);
  const listeners = doc.getIn(['static_resources', 'listeners']) as { items: unknown[] } | undefined;
  listeners?.items.forEach((_, i) =>
    doc.setIn(['static_resources', 'listeners', i, 'address', 'socket_address', 'port_value'], 0),
  );
  return doc.toString();
}

test('every YAML file of examples/ and test/ starts (listeners on free ports) and serves', async () => {
  const files = corpusFiles();
  assert.ok(files.some((f) => f.name === 'examples/quickstart.yaml'));
  for (const { name, text } of files) {
    await withLegate(onFreePorts(text), { concurrency: 1 }, async (legate) => {
      assert.match(legate.output(), /legate ready/, name);
      assert.doesNotMatch(legate.output(), /worker failed to start|error:/, name);
    });
  }
});

test('validate reads the xDS files too: an error in one is located in it, and the exit code says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'legate-validate-xds-'));
  const cds = join(dir, 'cds.yaml');
  const cluster = (field: string): string => `version_info: "1"
resources:
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: c1
  ${field}: 1s
  load_assignment: { cluster_name: c1, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } }] }] }
`;
  const bootstrap = `admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
dynamic_resources:
  cds_config: { path_config_source: { path: ${cds} } }
`;
  writeFileSync(cds, cluster('conect_timeout'));
  const bad = await validate(bootstrap);
  assert.equal(bad.code, 1);
  assert.deepEqual(bad.errors, [
    `${cds}:5:3: error: resources[0].conect_timeout: unknown field 'conect_timeout'; did you mean 'connect_timeout'?`,
  ]);
  writeFileSync(cds, cluster('connect_timeout'));
  const good = await validate(bootstrap);
  assert.equal(good.code, 0, good.errors.join('\n'));
});
