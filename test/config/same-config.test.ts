/** sameConfig: what a reload compares to decide whether a cluster or listener changed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameConfig } from '../../src/config/same-config';

test('equal data is the same config wherever it was written; any other difference is a change', () => {
  const a = {
    at: 'f.yaml:1:1',
    name: 'x',
    list: [1, { at: 'f.yaml:2:3', v: 'a' }],
    m: new Map([['k', /re/i]]),
  };
  const moved = {
    at: 'f.yaml:9:1',
    name: 'x',
    list: [1, { at: 'f.yaml:10:3', v: 'a' }],
    m: new Map([['k', /re/i]]),
  };
  assert.equal(sameConfig(a, moved), true);
  assert.equal(sameConfig(a, { ...moved, name: 'y' }), false);
  assert.equal(sameConfig(a, { ...moved, list: [1, { v: 'b' }] }), false);
  assert.equal(sameConfig(a, { ...moved, m: new Map([['k', /re/]]) }), false);
  assert.equal(sameConfig(a, { ...moved, extra: undefined }), false);
  assert.equal(sameConfig(new Set([1, 2]), new Set([2, 1])), true);
  assert.equal(sameConfig(Buffer.from('ab'), Buffer.from('ab')), true);
  assert.equal(sameConfig(Buffer.from('ab'), Buffer.from('ac')), false);
  assert.equal(sameConfig(NaN, NaN), true);
  assert.equal(sameConfig(null, {}), false);
  assert.equal(sameConfig(undefined, { name: 'x' }), false);
});
