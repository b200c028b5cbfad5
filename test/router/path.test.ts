import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeSlashes, normalizePath, normalizeRequestPath } from '../../src/router/path';

// Cases from Envoy's test/common/http/path_utility_test.cc plus the RFC 3986 §5.2.4 examples.
const NORMALIZE: [string, string | null][] = [
  ['/', '/'],
  ['/a/b/c', '/a/b/c'],
  ['/a/b/../c', '/a/c'],
  ['/a/b/./c', '/a/b/c'],
  ['a/b/../c', '/a/c'],
  ['/a/b/../../../../c', '/c'],
  ['/a/..\\c', '/c'],
  ['/a\\b', '/a/b'],
  ['/%c0%af', '/%c0%af'],
  ['/%5c%25', '/%5c%25'],
  ['/a/b/%2E%2E/c', '/a/c'],
  ['/a/b/%2e%2e/c', '/a/c'],
  ['/a/%2e/b', '/a/b'],
  ['/a/.%2e/b', '/b'],
  ['/a/..', '/'],
  ['/a/.', '/a/'],
  ['/a/b/..', '/a/'],
  ['/..', '/'],
  ['/a/..b/c', '/a/..b/c'],
  ['/a/b.', '/a/b.'],
  ['/a/.b', '/a/.b'],
  ['/a/x%2eb', '/a/x.b'],
  ['/%41%62%7e%2D%5f', '/Ab~-_'],
  ['/%2F', '/%2F'],
  ['/%2f', '/%2f'],
  ['/a b', '/a%20b'],
  ['/a"<>`{|}^', '/a%22%3C%3E%60%7B%7C%7D%5E'],
  ['/\u00e9', '/%E9'],
  ['/\u20ac', '/%E2%82%AC'],
  ['/100%', '/100%'],
  ['/%zz', '/%zz'],
  ['/%4', '/%4'],
  ['/a//b', '/a//b'],
  ['/a/./../b?x=/../y', '/b?x=/../y'],
  ['/mid/content=5/../6', '/mid/6'],
  ['/xyz/.%00../abc', null],
  ['/xyz/%00.%00./abc', null],
  ['/xyz/AAAAA%%0000/abc', null],
  ['/a\u0000b', null],
];

test('normalize_path: conformance table (Envoy path_utility_test + RFC 3986 dot segments)', () => {
  for (const [input, expected] of NORMALIZE) {
    assert.equal(normalizePath(input), expected, `normalizePath(${JSON.stringify(input)})`);
  }
});

test('normalize_path is idempotent on its own output', () => {
  for (const [input, expected] of NORMALIZE) {
    if (expected === null) continue;
    assert.equal(normalizePath(expected), expected, `second pass over ${JSON.stringify(input)}`);
  }
});

const MERGE: [string, string][] = [
  ['/a//b', '/a/b'],
  ['/a///b//', '/a/b/'],
  ['//a', '/a'],
  ['/a/b', '/a/b'],
  ['/a//b?x=//y', '/a/b?x=//y'],
  ['/a/b?x=//y', '/a/b?x=//y'],
  // Envoy's quirk: the leading and trailing slash are kept, so an all-slash path keeps two.
  ['//', '//'],
  ['///', '//'],
];

test('merge_slashes: conformance table', () => {
  for (const [input, expected] of MERGE)
    assert.equal(mergeSlashes(input), expected, `mergeSlashes(${input})`);
});

test('normalizeRequestPath: normalises before merging, and reports rejection', () => {
  assert.equal(normalizeRequestPath('/a//../b', true, true), '/a/b');
  assert.equal(normalizeRequestPath('/a//../b', true, false), '/a/b');
  assert.equal(normalizeRequestPath('/a//../b', false, true), '/a/../b');
  assert.equal(normalizeRequestPath('/a//b', false, false), '/a//b');
  assert.equal(normalizeRequestPath('/a/%00', true, true), null);
  assert.equal(normalizeRequestPath('/a/%00', false, true), '/a/%00');
});
