import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/config-error';
import { bootstrapFromObject, loadBootstrap } from '../../src/config/load';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import { SEED_PATH } from './helpers';

const OVERLAY = `admin:
  address: { socket_address: { port_value: 9902 } }
static_resources:
  clusters:
  - name: extra
    connect_timeout: 1s
    load_assignment: { cluster_name: extra, endpoints: [] }
`;

test('--config-yaml merges over the file: scalars replace, mappings merge, sequences append', () => {
  const { bootstrap } = loadBootstrap({ path: SEED_PATH, configYaml: OVERLAY }, createBuiltinRegistry());
  // admin.address.socket_address merged field by field: the port replaced, the address kept.
  assert.deepEqual(bootstrap.admin?.address, { address: '0.0.0.0', port: 9902 });
  assert.deepEqual(
    bootstrap.admin?.accessLog.map((l) => [l.name, (l.config as { path: string }).path]),
    [['envoy.access_loggers.file', '/tmp/admin_access.log']],
  );
  assert.deepEqual(
    bootstrap.clusters.map((c) => c.name),
    ['some_service', 'extra'],
  );
  assert.equal(bootstrap.clusters[1]!.connectTimeoutMs, 1000);
  assert.equal(bootstrap.listeners.length, 1);
  assert.equal(bootstrap.sourcePath, SEED_PATH);
});

test('a camelCase overlay key merges into the snake_case field it names', () => {
  const { bootstrap } = loadBootstrap(
    { path: SEED_PATH, configYaml: 'admin: { address: { socketAddress: { portValue: 9903 } } }' },
    createBuiltinRegistry(),
  );
  assert.deepEqual(bootstrap.admin?.address, { address: '0.0.0.0', port: 9903 });
});

test('issues in --config-yaml point into it, issues in the file point into the file', () => {
  const overlay = 'static_resources:\n  clusters:\n  - name: x\n    conect_timeout: 1s\n';
  assert.throws(
    () => loadBootstrap({ path: SEED_PATH, configYaml: overlay }, createBuiltinRegistry()),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const errors = e.issues.filter((i) => i.severity === 'error');
      assert.deepEqual(
        errors.map((i) => [i.location, i.path]),
        [['<config-yaml>:4:5', 'static_resources.clusters[1].conect_timeout']],
      );
      assert.equal(errors[0]!.hint, "did you mean 'connect_timeout'?");
      // The file's own warning still points into the file.
      assert.ok(e.issues.some((i) => i.severity === 'warning' && i.location === `${SEED_PATH}:2:3`));
      return true;
    },
  );
});

test('--config-yaml alone is a whole config', () => {
  const { bootstrap } = loadBootstrap(
    { configYaml: OVERLAY.slice(OVERLAY.indexOf('static_resources')) },
    createBuiltinRegistry(),
  );
  assert.equal(bootstrap.sourcePath, '');
  assert.deepEqual(
    bootstrap.clusters.map((c) => c.name),
    ['extra'],
  );
});

test('no config at all is an error', () => {
  assert.throws(() => loadBootstrap({}, createBuiltinRegistry()), /no configuration given/);
});

test('bootstrapFromObject (the CLI short form) goes through the same parser and checks', () => {
  const config = {
    static_resources: {
      clusters: [{ name: 'c', type: 'STATIC', load_assignment: { cluster_name: 'c', endpoints: [] } }],
    },
  };
  const { bootstrap } = bootstrapFromObject(config, createBuiltinRegistry());
  assert.equal(bootstrap.clusters[0]!.connectTimeoutMs, 5000);
  assert.equal(bootstrap.sourcePath, '');

  const bad = { static_resources: { clusters: [{ name: 'c', lb_policy: 'RANDUM' }] } };
  assert.throws(
    () => bootstrapFromObject(bad, createBuiltinRegistry()),
    /<command line>:\d+:\d+: error: static_resources\.clusters\[0\]\.lb_policy: unknown value 'RANDUM'.*did you mean 'RANDOM'\?$/,
  );
});
