/** Reading `load_assignment.policy` (how priority levels share load) through the real loader. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorAt, issuesOf, loadOk } from '../config/helpers';

const CLUSTER0 = 'static_resources.clusters[0]';

function yaml(policy: string): string {
  return `static_resources:
  clusters:
  - name: web
    load_assignment:
      cluster_name: web
${policy === '' ? '' : `      policy: ${policy}\n`}      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
      - priority: 1
        lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8081 } } }
`;
}

test('defaults: overprovisioning factor 140, level health from host counts', () => {
  const c = loadOk(yaml('')).clusters[0]!;
  assert.equal(c.overprovisioningFactor, 140);
  assert.equal(c.weightedPriorityHealth, false);
  assert.deepEqual(
    c.endpoints.map((e) => e.priority),
    [0, 1],
  );
});

test('overprovisioning_factor (a UInt32Value, plain or wrapped) and weighted_priority_health are read', () => {
  const c = loadOk(yaml('{ overprovisioning_factor: 100, weighted_priority_health: true }')).clusters[0]!;
  assert.equal(c.overprovisioningFactor, 100);
  assert.equal(c.weightedPriorityHealth, true);
  assert.equal(
    loadOk(yaml('{ overprovisioning_factor: { value: 200 } }')).clusters[0]!.overprovisioningFactor,
    200,
  );
});

test('overprovisioning_factor must be greater than 0; drop_overloads and endpoint_stale_after are unsupported', () => {
  const zero = issuesOf(yaml('{ overprovisioning_factor: 0 }'));
  assert.ok(errorAt(zero, `${CLUSTER0}.load_assignment.policy.overprovisioning_factor`));
  for (const field of ['drop_overloads: []', 'endpoint_stale_after: 5s']) {
    const name = field.split(':')[0]!;
    const issue = errorAt(issuesOf(yaml(`{ ${field} }`)), `${CLUSTER0}.load_assignment.policy.${name}`);
    assert.match(issue.message, /not supported by Legate yet/);
  }
  const typo = errorAt(
    issuesOf(yaml('{ overprovisioning_factr: 100 }')),
    `${CLUSTER0}.load_assignment.policy.overprovisioning_factr`,
  );
  assert.match(typo.message, /unknown field/);
});
