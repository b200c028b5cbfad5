import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BenchUsageError, parseBenchArgs, parseDuration } from '../../src/bench/options';
import { buildRequestBytes } from '../../src/bench/request-bytes';

test('durations accept ms, s, m and bare seconds', () => {
  assert.equal(parseDuration('500ms', '-d'), 500);
  assert.equal(parseDuration('10s', '-d'), 10_000);
  assert.equal(parseDuration('1.5', '-d'), 1500);
  assert.equal(parseDuration('2m', '-d'), 120_000);
  assert.throws(() => parseDuration('fast', '-d'), BenchUsageError);
  assert.throws(() => parseDuration('0s', '-d'), BenchUsageError);
});

test('bad input is a usage error naming the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /missing URL/],
    [['not a url'], /cannot parse URL/],
    [['https://127.0.0.1/'], /only http/],
    [['http://127.0.0.1/', '-R', '-5'], /--rate/],
    [['http://127.0.0.1/', '-c', '2', '-t', '3'], /--threads/],
    [['http://127.0.0.1/', '-H', 'no colon'], /-H/],
    [['http://127.0.0.1/', '--http1-close', '-p', '4'], /--pipeline/],
    [['http://127.0.0.1/', '--bogus'], /bogus/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseBenchArgs(argv),
      (err: Error) => err instanceof BenchUsageError && message.test(err.message),
    );
  }
});

test('options are parsed and the request is built once, as bytes', () => {
  const o = parseBenchArgs([
    'http://127.0.0.1:8081/a?b=1',
    '-c',
    '8',
    '-t',
    '2',
    '-d',
    '3s',
    '-R',
    '1000',
    '-m',
    'post',
    '-H',
    'X-Test: yes',
    '--body-size',
    '5',
  ]);
  assert.equal(o.connections, 8);
  assert.equal(o.threads, 2);
  assert.equal(o.durationMs, 3000);
  assert.equal(o.rate, 1000);
  assert.equal(o.target.port, 8081);
  const text = buildRequestBytes(o).toString('latin1');
  assert.equal(
    text,
    'POST /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nX-Test: yes\r\nContent-Length: 5\r\n\r\nxxxxx',
  );
  const close = parseBenchArgs(['http://h/', '--http1-close']);
  assert.equal(buildRequestBytes(close).toString(), 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
});
