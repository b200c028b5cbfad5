/**
 * The native HTTP/1 parser (native-bindings/src/engine/h1_parser.c) case by case: its strictness
 * contract written out as expected events (each also checked against the JS codec, whole and one
 * byte per read), its memory (a stash only while a head is split across reads, and none left
 * behind), and its availability guard.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { DEFAULT_ADDON_PATH } from '../../src/native/bindings';
import { requireH1 } from './fixtures/h1';
import { requireAddon } from './fixtures/harness';
import { jsEvents, nativeEvents, type H1Case, type H1Native } from './h1-fuzz/differential';
import type { H1Events, RequestOptions } from './h1-fuzz/events';
import { cutInput } from './h1-fuzz/generate';

const DEFAULTS: RequestOptions = {
  maxRequestHeadersKb: 60,
  maxRequestHeadersCount: 100,
  headersWithUnderscoresAction: 'ALLOW',
  acceptHttp10: false,
  maxRequestBodyBytes: 0,
};

function everyByte(input: Buffer): number[] {
  return Array.from({ length: Math.max(0, input.length - 1) }, (_, i) => i + 1);
}

/** The native events for `input` (whole), after checking they are the JS codec's, whole and byte by byte. */
function parse(native: H1Native, c: Omit<H1Case, 'input'> & { input: string }): H1Events {
  const testCase = { ...c, input: Buffer.from(c.input, 'latin1') };
  const events = nativeEvents(native, testCase, [testCase.input]);
  assert.deepEqual(events, jsEvents(testCase, [testCase.input]), 'native and JS codec differ');
  const bytewise = cutInput(testCase.input, everyByte(testCase.input));
  assert.deepEqual(
    nativeEvents(native, testCase, bytewise),
    jsEvents(testCase, bytewise),
    'differ byte by byte',
  );
  return events;
}

function request(native: H1Native, input: string, options: Partial<RequestOptions> = {}): H1Events {
  return parse(native, {
    type: 'request',
    input,
    requestOptions: { ...DEFAULTS, ...options },
    responseOptions: { methods: ['GET'], eof: false },
  });
}

function response(native: H1Native, input: string, methods = ['GET'], eof = false): H1Events {
  return parse(native, {
    type: 'response',
    input,
    requestOptions: DEFAULTS,
    responseOptions: { methods, eof },
  });
}

function head(
  method: string,
  url: string,
  headers: [string, string][],
  extra: Partial<{ minor: number; ka: boolean; cl: number; chunked: boolean; upgrade: boolean }> = {},
): H1Events[number] {
  return [
    'head',
    method,
    url,
    extra.minor ?? 1,
    extra.ka ?? true,
    extra.cl ?? -1,
    extra.chunked ?? false,
    extra.upgrade ?? false,
    headers.map((h) => h[0]),
    headers.map((h) => h[1]),
  ];
}

test('the native parser runs on this Node, and an idle parser is small', (t) => {
  const native = requireH1(t);
  if (!native) return;
  const status = native.h1Status!();
  assert.equal(status.reason, '');
  assert.ok(status.parserBytes <= 320, `sizeof(lg_h1_parser) = ${status.parserBytes}`);
});

test('requests: names lower-cased, values trimmed, pipelined messages parsed one after the other', (t) => {
  const native = requireH1(t);
  if (!native) return;
  assert.deepEqual(
    request(
      native,
      'GET /a?b=c HTTP/1.1\r\nHost:  Example.COM \t\r\nX-Empty:\r\nX-Obs: caf\xe9\r\n\r\n' +
        'POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello' +
        'PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n',
    ),
    [
      ['begin'],
      head('GET', '/a?b=c', [
        ['host', 'Example.COM'],
        ['x-empty', ''],
        ['x-obs', 'caf\xe9'],
      ]),
      ['end'],
      ['begin'],
      head('POST', '/p', [['content-length', '5']], { cl: 5 }),
      ['body', 'hello'],
      ['end'],
      ['begin'],
      head('PUT', '/c', [['transfer-encoding', 'chunked']], { chunked: true }),
      ['body', 'abc'],
      ['trailers', ['x-sum'], ['1']],
      ['end'],
    ],
  );
});

test('requests: a head that does not start its read (stray CRLFs first) is checked like any other', (t) => {
  const native = requireH1(t);
  if (!native) return;
  // Found by the fuzzer: the Transfer-Encoding check read spans already rebased to the head's start.
  assert.deepEqual(
    request(native, '\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
    [
      ['begin'],
      head(
        'POST',
        '/',
        [
          ['host', 'a'],
          ['transfer-encoding', 'chunked'],
        ],
        { chunked: true },
      ),
      ['end'],
    ],
  );
});

test('requests: every local reply status of the contract', (t) => {
  const native = requireH1(t);
  if (!native) return;
  const reply = (status: number): H1Events => [['begin'], ['reply', status], ['close']];
  const many = Array.from({ length: 6 }, (_, i) => `X-${i}: ${i}\r\n`).join('');
  const cases: [string, Partial<RequestOptions>, H1Events][] = [
    [`GET / HTTP/1.1\r\n${many}\r\n`, { maxRequestHeadersCount: 5 }, reply(431)],
    [`GET / HTTP/1.1\r\nX-Long: ${'v'.repeat(1100)}\r\n\r\n`, { maxRequestHeadersKb: 1 }, reply(431)],
    ['GET / HTTP/1.1\r\nX_A: 1\r\n\r\n', { headersWithUnderscoresAction: 'REJECT_REQUEST' }, reply(400)],
    ['GET / HTTP/1.0\r\n\r\n', {}, reply(426)],
    ['GET / HTTP/2.0\r\n\r\n', {}, reply(505)],
    ['GET / HTTP/1.2\r\n\r\n', {}, reply(505)],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', {}, reply(501)],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', {}, reply(400)],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: , chunked\r\n\r\n', {}, reply(400)],
    ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', { acceptHttp10: true }, reply(400)],
    ['POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', {}, reply(400)],
    ['POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n', { maxRequestBodyBytes: 10 }, reply(413)],
    ['GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n', {}, reply(400)],
    ['GET / HTTP/1.1\nHost: a\n\n', {}, reply(400)],
  ];
  for (const [input, options, expected] of cases)
    assert.deepEqual(request(native, input, options), expected, input);
});

test('requests: DROP_HEADER leaves the field out, a body over the limit is cut off as it streams', (t) => {
  const native = requireH1(t);
  if (!native) return;
  assert.deepEqual(
    request(native, 'GET / HTTP/1.1\r\nX_A: 1\r\nX-B: 2\r\n\r\n', {
      headersWithUnderscoresAction: 'DROP_HEADER',
    }),
    [['begin'], head('GET', '/', [['x-b', '2']]), ['end']],
  );
  const chunked =
    'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n8\r\nefghijkl\r\n0\r\n\r\n';
  assert.deepEqual(request(native, chunked, { maxRequestBodyBytes: 10 }), [
    ['begin'],
    head('POST', '/', [['transfer-encoding', 'chunked']], { chunked: true }),
    ['body', 'abcd'],
    ['reset', 'overflow'],
    ['reply', 413],
    ['close'],
  ]);
});

test('requests: an upgrade answered with a 200 is refused and what follows is parsed as HTTP', (t) => {
  const native = requireH1(t);
  if (!native) return;
  assert.deepEqual(
    request(
      native,
      'GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\n\r\n',
    ),
    [
      ['begin'],
      head(
        'GET',
        '/ws',
        [
          ['connection', 'Upgrade'],
          ['upgrade', 'websocket'],
        ],
        { upgrade: true },
      ),
      ['end'],
      ['begin'],
      head('GET', '/next', []),
      ['end'],
    ],
  );
});

test('responses: 1xx, HEAD and 204 without body, trailers, close-delimited end, reuse', (t) => {
  const native = requireH1(t);
  if (!native) return;
  assert.deepEqual(
    response(native, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', [
      'HEAD',
      'GET',
    ]),
    [
      ['request', 'HEAD'],
      ['1xx', 100, 'Continue', [], []],
      ['head', 200, 'OK', ['content-length'], ['5']],
      ['end'],
      ['complete', true],
      ['request', 'GET'],
    ],
  );
  assert.deepEqual(
    response(native, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n'),
    [
      ['request', 'GET'],
      ['head', 200, 'OK', ['transfer-encoding'], ['chunked']],
      ['body', 'hi'],
      ['trailers', ['x-t'], ['1']],
      ['end'],
      ['complete', true],
    ],
  );
  assert.deepEqual(response(native, 'HTTP/1.1 200 OK\r\n\r\nuntil close', ['GET'], true), [
    ['request', 'GET'],
    ['head', 200, 'OK', [], []],
    ['body', 'until close'],
    ['end'],
    ['complete', false],
    ['close'],
  ]);
  // Bytes after a complete response in the same read: not reusable.
  assert.deepEqual(
    response(native, 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n', ['GET', 'GET']),
    [['request', 'GET'], ['head', 204, 'No Content', [], []], ['end'], ['complete', false], ['close']],
  );
  assert.deepEqual(
    response(native, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'),
    [['request', 'GET'], ['reset', 'protocol_error'], ['close']],
  );
});

test('a head split across reads is stashed until it completes and never left behind', (t) => {
  const native = requireH1(t);
  if (!native) return;
  const status = (): number => native.h1Status!().liveStashes;
  const before = status();
  const headers = Array.from({ length: 40 }, (_, i) => `X-Header-${i}: value ${i}\r\n`).join('');
  const inputs = [
    `GET /complete HTTP/1.1\r\n${headers}\r\n`,
    `GET /cut-off-mid-head HTTP/1.1\r\n${headers}`, // abandoned: lg_h1_release frees the stash
    `GET /error-mid-head HTTP/1.1\r\n${headers}Bad Header: x\r\n\r\n`,
    `POST /trailers HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n${headers}`,
  ];
  for (const input of inputs) {
    const bytes = Buffer.from(input, 'latin1');
    for (let round = 0; round < 50; round++) {
      native.h1ParseForTest('request', cutInput(bytes, everyByte(bytes)), {});
      native.h1ParseForTest('response', cutInput(Buffer.from(`HTTP/1.1 200 OK\r\n${headers}`), [10, 30]), {});
    }
    assert.equal(status(), before, `a stash outlived its parser: ${JSON.stringify(input.slice(0, 30))}`);
  }
  const complete = Buffer.from(inputs[0]!, 'latin1');
  const events = native.h1ParseForTest('request', cutInput(complete, everyByte(complete)), {});
  assert.equal((events[1]![8] as string[]).length, 40, 'the split head arrives whole');
});

test('an llhttp the parser was not built for leaves the addon loadable and the parser unavailable', (t) => {
  if (requireAddon(t) === null) return;
  const script = `
    Object.defineProperty(process.versions, 'llhttp', { value: '8.1.2' });
    const addon = require(${JSON.stringify(DEFAULT_ADDON_PATH)});
    let thrown = '';
    try { addon.h1ParseForTest('request', [Buffer.from('GET / HTTP/1.1\\r\\n\\r\\n')]); } catch (e) { thrown = e.code; }
    process.stdout.write(JSON.stringify({ status: addon.h1Status(), dup: typeof addon.dup, thrown }));`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout) as {
    status: { available: boolean; reason: string };
    dup: string;
    thrown: string;
  };
  assert.equal(result.status.available, false);
  assert.match(result.status.reason, /llhttp 8\.1\.2 is not supported/);
  assert.equal(result.dup, 'function');
  assert.equal(result.thrown, 'ERR_LEGATE_H1_UNAVAILABLE');
});
