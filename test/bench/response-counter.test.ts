/**
 * The generator's headless llhttp response counter: it builds no strings for heads or views of
 * bodies, but must still see every response boundary, status and keep-alive verdict, wherever the
 * bytes are split, and still reject malformed responses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LlhttpResponseCounter } from '../../src/bench/llhttp-response-counter';
import { warmUpResponseParser } from '../../src/bench/parser-warm-up';

type Seen = Array<[number, boolean]>;

function counter(headRequests = false): { c: LlhttpResponseCounter; seen: Seen } {
  const seen: Seen = [];
  const c = new LlhttpResponseCounter({ onResponseComplete: (s, k) => void seen.push([s, k]) }, headRequests);
  return { c, seen };
}

const STREAM = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 5\r\n\r\nhello' +
    'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n' +
    'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  'latin1',
);
const EXPECTED: Seen = [
  [200, true],
  [404, true],
  [503, false],
];

test('every response is counted with its status and keep-alive verdict, at any split', () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const { c, seen } = counter();
    assert.equal(c.feed(STREAM.subarray(0, cut)), true);
    assert.equal(c.feed(STREAM.subarray(cut)), true);
    assert.deepEqual(seen, EXPECTED, `split at ${cut}`);
    c.destroy();
  }
});

test('a response to HEAD ends with its head, whatever its Content-Length says', () => {
  const { c, seen } = counter(true);
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n';
  assert.equal(c.feed(Buffer.from(head + head, 'latin1')), true);
  assert.deepEqual(seen, [
    [200, true],
    [200, true],
  ]);
  c.destroy();
});

test('malformed responses are rejected, and reset() starts clean', () => {
  const { c, seen } = counter();
  assert.equal(
    c.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')),
    false,
  );
  c.reset();
  assert.equal(c.feed(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n', 'latin1')), true);
  assert.deepEqual(seen, [[204, true]]);
  c.destroy();
});

test('a close-delimited body completes when the server closes', () => {
  const { c, seen } = counter();
  assert.equal(c.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\npartial body', 'latin1')), true);
  assert.deepEqual(seen, []);
  c.finish();
  assert.deepEqual(seen, [[200, false]]);
  c.destroy();
});

test('the parser warm-up parses whole blocks, is bounded, and leaves parsing intact', () => {
  const parsed = warmUpResponseParser();
  assert.ok(parsed >= 1000 && parsed <= 200_000 && parsed % 1000 === 0, `parsed ${parsed}`);
  const { c, seen } = counter();
  assert.equal(c.feed(STREAM), true);
  assert.deepEqual(seen, EXPECTED);
  c.destroy();
});
