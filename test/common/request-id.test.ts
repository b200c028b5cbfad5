import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomRequestId } from '../../src/common/request-id';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('x-request-id values are RFC 9562 version-4 UUIDs, distinct across many batches', () => {
  const seen = new Set<string>();
  // 5,000 ids cross the 256-id batch boundary many times.
  for (let i = 0; i < 5000; i++) {
    const id = randomRequestId();
    assert.match(id, UUID_V4, `id ${i}: ${id}`);
    seen.add(id);
  }
  assert.equal(seen.size, 5000);
});

test('every random hex position takes every digit (the bytes are random, not a counter)', () => {
  const digitsAt: Set<string>[] = Array.from({ length: 36 }, () => new Set());
  for (let i = 0; i < 2000; i++) {
    const id = randomRequestId();
    for (let p = 0; p < 36; p++) digitsAt[p]!.add(id[p]!);
  }
  for (let p = 0; p < 36; p++) {
    // The dashes, the version digit and the variant digit are fixed or constrained; the rest is random.
    if ([8, 13, 14, 18, 19, 23].includes(p)) continue;
    assert.equal(digitsAt[p]!.size, 16, `position ${p} took ${[...digitsAt[p]!].sort().join('')}`);
  }
  assert.deepEqual([...digitsAt[14]!], ['4']);
  assert.deepEqual([...digitsAt[19]!].sort(), ['8', '9', 'a', 'b']);
});
