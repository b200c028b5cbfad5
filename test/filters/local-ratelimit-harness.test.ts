/**
 * local_ratelimit on the in-process filter harness: the decision per request and per downstream
 * connection, the local reply and what it carries, without starting a proxy. (Its buckets refill on
 * wall-clock time, shared across worker threads, so simulated time does not refill them: these
 * cases use a fill interval far longer than the test.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FilterHeadersStatus } from '../../src/filters/http/api';
import { withHttpFilters } from './filter-yaml';
import { FilterHarness } from './harness/filter-harness';

const LIMIT = 'envoy.filters.http.local_ratelimit';

function harness(extra: string): FilterHarness {
  return FilterHarness.create(
    withHttpFilters(
      [10001],
      `
- name: ${LIMIT}
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
    stat_prefix: rl
    token_bucket: { max_tokens: 2, tokens_per_fill: 2, fill_interval: 3600s }
    filter_enabled: { runtime_key: e, default_value: { numerator: 100, denominator: HUNDRED } }
    filter_enforced: { runtime_key: f, default_value: { numerator: 100, denominator: HUNDRED } }
    response_headers_to_add: [{ header: { key: x-limited, value: "yes" } }]
    ${extra}`,
    ),
  );
}

test('per downstream connection: each connection has its own bucket; over it, a 429 local reply with RL', () => {
  const h = harness('local_rate_limit_per_downstream_connection: true');
  const a = {};
  const b = {};
  const outcomes = [a, a, a, b, b, b].map((connection) => {
    const s = h.stream(LIMIT, { connection });
    const status = s.request();
    return { s, status };
  });
  assert.deepEqual(
    outcomes.map(({ status }) => status),
    [0, 0, 1, 0, 0, 1].map((stop) =>
      stop ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue,
    ),
  );
  const limited = outcomes[2]!.s;
  assert.deepEqual(
    limited.localReplies.map((r) => [r.status, r.body, r.details]),
    [[429, 'local_rate_limited', 'local_rate_limited']],
  );
  assert.equal(limited.response!.head.headers.get('x-limited'), 'yes');
  assert.deepEqual(limited.flags, ['RL']);
  assert.equal(outcomes[0]!.s.response, null, 'passed requests are left to the rest of the chain');
  assert.equal(h.stat('rl.http_local_rate_limit.ok'), 4);
  assert.equal(h.stat('rl.http_local_rate_limit.rate_limited'), 2);
  assert.equal(h.stat('rl.http_local_rate_limit.enforced'), 2);
  h.close();
});
