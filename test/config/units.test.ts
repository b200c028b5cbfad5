import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDurationString } from '../../src/config/duration';
import { closest, editDistance } from '../../src/config/suggest';

test('Envoy durations: seconds with an s suffix, up to nanoseconds', () => {
  assert.deepEqual(parseDurationString('0.25s'), { ok: true, ms: 250 });
  assert.deepEqual(parseDurationString('15s'), { ok: true, ms: 15_000 });
  assert.deepEqual(parseDurationString('0s'), { ok: true, ms: 0 });
  assert.deepEqual(parseDurationString('0.000001s'), { ok: true, ms: 0.001 });
  assert.deepEqual(parseDurationString('250ms'), {
    ok: false,
    message: "invalid duration '250ms'",
    hint: "did you mean '0.25s'? (Envoy durations are seconds with an 's' suffix, like '0.25s')",
  });
  const minutes = parseDurationString('5m');
  assert.ok(!minutes.ok && minutes.hint?.startsWith("did you mean '300s'?"));
  const bare = parseDurationString('1.5');
  assert.ok(!bare.ok && bare.hint?.startsWith("did you mean '1.5s'?"));
  const negative = parseDurationString('-1s');
  assert.ok(!negative.ok && /must not be negative/.test(negative.message));
  assert.equal(parseDurationString('1.0000000001s').ok, false, 'more than nanosecond precision');
});

test('durations as { seconds, nanos } mappings', async () => {
  const { load, minimalConfig } = await import('./helpers');
  const b = load(minimalConfig({ cluster: 'connect_timeout: { seconds: 2, nanos: 500000000 }' })).bootstrap;
  assert.equal(b.clusters[0]!.connectTimeoutMs, 2500);
});

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('lb_policy', 'lb_policy'), 0);
  assert.equal(editDistance('lb_polciy', 'lb_policy'), 1);
  assert.equal(editDistance('ROUND_ROBBIN', 'ROUND_ROBIN'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('suggestions are case-insensitive and refuse far-off words', () => {
  assert.equal(closest('round_robin', ['ROUND_ROBIN', 'RANDOM']), 'ROUND_ROBIN');
  assert.equal(closest('name', ['type', 'address']), undefined);
  assert.equal(closest('adress', ['type', 'address']), 'address');
});
