/**
 * `/clusters` renderers with a stub success-rate readout: Envoy's text lines (`{:g}` for the
 * cluster's numbers, shortest form for a host's rate, -1 when not computed) and its JSON (a
 * threshold only above 0, a host's rate only when computed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderClustersJson, renderClustersText } from '../../src/admin/clusters';
import { HostTable } from '../../src/upstream/host-table';
import type { SuccessRateReadout } from '../../src/upstream/outlier/detector';
import type { Origin, SuccessRateNums } from '../../src/upstream/outlier/rate-detectors';
import { clusterConfig, endpoint } from '../upstream/helpers';

const cluster = clusterConfig({ endpoints: [endpoint('10.0.0.1', 80), endpoint('10.0.0.2', 80)] });
const table = HostTable.allocate([cluster]);
const first = table.slotsOf('test')!.firstSlot;

function readout(nums: Record<Origin, SuccessRateNums>, rates: Record<Origin, number[]>): SuccessRateReadout {
  return {
    successRateNums: (origin) => nums[origin],
    hostSuccessRate: (slot, origin) => rates[origin][slot - first]!,
  };
}

const computed = readout(
  {
    external: { average: 200 / 3, ejectionThreshold: -0.5 },
    local: { average: 1234567, ejectionThreshold: 0.00001234 },
  },
  { external: [100, 100 / 3], local: [-1, 80] },
);

test('text: the outlier lines after observability_name, and each host its rates', () => {
  const lines = renderClustersText([cluster], table, { readout: () => computed }).split('\n');
  assert.deepEqual(lines.slice(0, 6), [
    'test::observability_name::test',
    'test::outlier::success_rate_average::66.6667',
    'test::outlier::success_rate_ejection_threshold::-0.5',
    'test::outlier::local_origin_success_rate_average::1.23457e+06',
    'test::outlier::local_origin_success_rate_ejection_threshold::1.234e-05',
    'test::default_priority::max_connections::1024',
  ]);
  const host = (addr: string, field: string): string | undefined =>
    lines.find((l) => l.startsWith(`test::${addr}:80::${field}::`))?.split('::')[3];
  assert.equal(host('10.0.0.1', 'success_rate'), '100');
  assert.equal(host('10.0.0.2', 'success_rate'), '33.333333333333336');
  assert.equal(host('10.0.0.1', 'local_origin_success_rate'), '-1');
  assert.equal(host('10.0.0.2', 'local_origin_success_rate'), '80');
});

test('text: no detector, no outlier lines and every rate -1', () => {
  const text = renderClustersText([cluster], table, { readout: () => undefined });
  assert.doesNotMatch(text, /::outlier::/);
  assert.equal(text.match(/::success_rate::-1$/gm)?.length, 2);
  assert.equal(text.match(/::local_origin_success_rate::-1$/gm)?.length, 2);
});

test('json: thresholds only above 0, host rates only when computed', () => {
  const json = renderClustersJson([cluster], table, { readout: () => computed }) as {
    cluster_statuses: Record<string, unknown>[];
  };
  const c = json.cluster_statuses[0]!;
  assert.equal(c.success_rate_ejection_threshold, undefined, 'a negative threshold is left out');
  assert.deepEqual(c.local_origin_success_rate_ejection_threshold, { value: 0.00001234 });
  const hosts = c.host_statuses as Record<string, unknown>[];
  assert.deepEqual(hosts[0]!.success_rate, { value: 100 });
  assert.equal(hosts[0]!.local_origin_success_rate, undefined);
  assert.deepEqual(hosts[1]!.local_origin_success_rate, { value: 80 });
  const none = renderClustersJson([cluster], table, { readout: () => undefined }) as typeof json;
  const h = (none.cluster_statuses[0]!.host_statuses as Record<string, unknown>[])[0]!;
  assert.equal(h.success_rate, undefined);
});
