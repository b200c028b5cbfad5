/**
 * YAML syntax errors point where the broken construct began (issue 10, defect 7), not where the
 * parser gave up: an unclosed '[' on line 2 is reported on line 2, not at the end of the file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issuesOf } from './helpers';

/** `<config-yaml>:line:col: message` of every issue of `text`. */
function errors(text: string): string[] {
  return issuesOf(text).map((i) => `${i.location.replace('<config-yaml>:', '')}: ${i.message}`);
}

test("an unclosed '[' or '{' is reported where it was opened", () => {
  assert.deepEqual(errors('admin:\n  address: [1, 2\nstatic_resources: {}\n'), ["2:12: '[' is never closed"]);
  assert.deepEqual(errors('static_resources: { clusters: [\n'), ["1:31: '[' is never closed"]);
  assert.deepEqual(errors('admin:\n  address: { socket_address: 1\n'), ["2:12: '{' is never closed"]);
  // The innermost open one; closed ones before it on the line do not count.
  assert.deepEqual(errors('a:\n  b: [1, {x: [2, 3], y: 1}, [4\n'), ["2:29: '[' is never closed"]);
});

test('an unclosed quote is reported where it was opened, not at the end of the file', () => {
  assert.deepEqual(errors('admin:\n  x: "abc\n  y: 1\n'), ['2:6: the " quote is never closed']);
  assert.deepEqual(errors("admin:\n  x: 'it''s\n  y: 1\n"), ["2:6: the ' quote is never closed"]);
  // Quotes inside plain text do not open anything.
  assert.deepEqual(errors('node: { id: it\'s }\nadmin:\n  x: "abc\n'), ['3:6: the " quote is never closed']);
});

test('bad indentation and tabs are reported on the offending line, at its first character', () => {
  assert.deepEqual(errors('admin:\n  address: 1\n profile_path: x\n'), [
    '3:2: All mapping items must start at the same column',
  ]);
  assert.deepEqual(errors('admin:\n\taddress: 1\n'), [
    '2:1: tabs are not allowed in YAML indentation; indent with spaces',
  ]);
});

test('a duplicate key names where the key first appears', () => {
  assert.deepEqual(errors('admin: {}\nnode: {}\nadmin: {}\n'), [
    "3:1: duplicate key 'admin' (first at line 1, column 1); YAML keys must be unique",
  ]);
});
