/** Reading health_checks, common_lb_config and endpoint health_check_config through the real loader. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HealthCheckConfig } from '../../src/config/bootstrap';
import { issuesOf, loadOk } from '../config/helpers';

function yaml(clusterExtra: string, endpointExtra = ''): string {
  return `static_resources:
  clusters:
  - name: web
    connect_timeout: 1s
${clusterExtra
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => '    ' + l)
  .join('\n')}
    load_assignment:
      cluster_name: web
      endpoints:
      - lb_endpoints:
        - endpoint:
            address: { socket_address: { address: 127.0.0.1, port_value: 8080 } }
${endpointExtra}
`;
}

test('an HTTP health check with Envoy defaults filled in', () => {
  const b = loadOk(
    yaml(`
health_checks:
- timeout: 0.5s
  interval: 2s
  unhealthy_threshold: 3
  healthy_threshold: { value: 2 }
  unhealthy_interval: 5s
  interval_jitter: 0.1s
  reuse_connection: false
  http_health_check:
    path: /healthz
    expected_statuses: [{ start: 200, end: 300 }]
    request_headers_to_add: [{ header: { key: x-a, value: b } }]
common_lb_config:
  healthy_panic_threshold: { value: 25 }`),
  );
  const c = b.clusters[0]!;
  assert.equal(c.healthyPanicThreshold, 25);
  const hc = c.healthChecks![0]!;
  assert.equal(hc.timeoutMs, 500);
  assert.equal(hc.intervalMs, 2000);
  assert.equal(hc.unhealthyIntervalMs, 5000);
  assert.equal(hc.unhealthyEdgeIntervalMs, 5000);
  assert.equal(hc.healthyEdgeIntervalMs, 2000);
  assert.equal(hc.intervalJitterMs, 100);
  assert.equal(hc.unhealthyThreshold, 3);
  assert.equal(hc.healthyThreshold, 2);
  assert.equal(hc.reuseConnection, false);
  assert.equal(hc.tcp, null);
  assert.deepEqual(hc.http!.expectedStatuses, [[200, 300]]);
  assert.equal(hc.http!.method, 'GET');
  assert.equal(hc.http!.requestHeadersToAdd[0]!.key, 'x-a');
});

test('defaults: no checks, panic threshold 50, expected status 200', () => {
  assert.equal(loadOk(yaml('')).clusters[0]!.healthyPanicThreshold, 50);
  const hc = loadOk(
    yaml(`
health_checks:
- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: / } }`),
  ).clusters[0]!.healthChecks![0]!;
  assert.deepEqual(hc.http!.expectedStatuses, [[200, 201]]);
  assert.equal(hc.reuseConnection, true);
  const wrapped = (value: string): boolean =>
    loadOk(
      yaml(`
health_checks:
- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, reuse_connection: ${value}, http_health_check: { path: / } }`),
    ).clusters[0]!.healthChecks![0]!.reuseConnection;
  assert.equal(wrapped('{ value: false }'), false, 'BoolValue in its wrapped form');
  assert.equal(wrapped('{}'), false, 'an empty wrapper is false');
});

test('a TCP check with hex payloads and an endpoint health_check_config port', () => {
  const c = loadOk(
    yaml(
      `
health_checks:
- timeout: 1s
  interval: 1s
  unhealthy_threshold: 1
  healthy_threshold: 1
  tcp_health_check: { send: { text: "50494E47" }, receive: [{ text: "504f4e47" }] }`,
      '            health_check_config: { port_value: 9090 }',
    ),
  ).clusters[0]!;
  assert.deepEqual(c.healthChecks![0]!.tcp, { send: '50494e47', receive: ['504f4e47'] });
  assert.equal(c.endpoints[0]!.healthCheckPort, 9090);
});

test('required fields, bad payloads, custom checks and a second check are reported', () => {
  const messages = issuesOf(
    yaml(`
health_checks:
- { interval: 1s, healthy_threshold: 1, tcp_health_check: { send: { text: "zz" } } }
- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, custom_health_check: {} }`),
  ).map((i) => `${i.path}: ${i.message}`);
  const has = (re: RegExp): void =>
    assert.ok(
      messages.some((m) => re.test(m)),
      `${re} in ${messages.join('\n')}`,
    );
  has(/health_checks\[0\]\.timeout: is required/);
  has(/health_checks\[0\]\.unhealthy_threshold: is required/);
  has(/send\.text: 'zz' is not a hex string/);
  has(/health_checks\[1\]\.custom_health_check/);
  has(/one health check per cluster/);
});

test('grpc_health_check: service_name, authority and initial_metadata are read', () => {
  const c = loadOk(
    yaml(`
health_checks:
- timeout: 1s
  interval: 2s
  unhealthy_threshold: 1
  healthy_threshold: 1
  grpc_health_check:
    service_name: svc.Echo
    authority: health.example
    initial_metadata: [{ header: { key: X-HC, value: grpc } }]`),
  ).clusters[0]!;
  assert.deepEqual(c.healthChecks![0]!.grpc, {
    serviceName: 'svc.Echo',
    authority: 'health.example',
    initialMetadata: [{ key: 'x-hc', value: 'grpc' }],
  });
  assert.equal(c.healthChecks![0]!.http, null);
});

test('no-traffic intervals, event_log_path and the always_log options are read with Envoy defaults', () => {
  const hc = (extra: string): HealthCheckConfig =>
    loadOk(
      yaml(`
health_checks:
- timeout: 1s
  interval: 2s
  unhealthy_threshold: 1
  healthy_threshold: 1
  tcp_health_check: {}
${extra
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => '  ' + l)
  .join('\n')}`),
    ).clusters[0]!.healthChecks![0]!;
  const defaults = hc('');
  assert.equal(defaults.noTrafficIntervalMs, 60_000);
  assert.equal(defaults.noTrafficHealthyIntervalMs, 60_000);
  assert.equal(defaults.eventLogPath, null);
  assert.equal(defaults.alwaysLogFailures, false);
  assert.equal(defaults.alwaysLogSuccess, false);
  const set = hc(`
no_traffic_interval: 5s
event_log_path: /tmp/hc.log
always_log_health_check_failures: true
always_log_health_check_success: true`);
  assert.equal(set.noTrafficIntervalMs, 5000);
  assert.equal(set.noTrafficHealthyIntervalMs, 5000, 'defaults to no_traffic_interval');
  assert.equal(set.eventLogPath, '/tmp/hc.log');
  assert.equal(set.alwaysLogFailures, true);
  assert.equal(set.alwaysLogSuccess, true);
  assert.equal(hc('no_traffic_healthy_interval: 7s').noTrafficHealthyIntervalMs, 7000);
  const messages = issuesOf(
    yaml(`
health_checks:
- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {}, event_logger: [] }`),
  ).map((i) => `${i.path}: ${i.message}`);
  assert.ok(
    messages.some((m) => /health_checks\[0\]\.event_logger/.test(m)),
    messages.join('\n'),
  );
});

test('a BoolValue written as a list is an error, not a crash', () => {
  const messages = issuesOf(
    yaml(`
health_checks:
- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, reuse_connection: [true], http_health_check: { path: / } }`),
  );
  assert.ok(
    messages.some((m) => m.path.endsWith('reuse_connection') && m.severity === 'error'),
    JSON.stringify(messages),
  );
});
