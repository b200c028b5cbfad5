import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpParser, ParserError, ParserType, type ParserHandler } from '../../src/http/llhttp';

/** Records parser events as strings; body pieces are merged so chunk boundaries do not show. */
class Recorder implements ParserHandler {
  events: string[] = [];
  private body = '';

  onMessageBegin(): number {
    this.events.push('begin');
    return 0;
  }
  onHeader(name: string, value: string): number {
    this.events.push(`header ${name}=${value}`);
    return 0;
  }
  onHeadersComplete(p: HttpParser): number {
    this.events.push(
      `head ${p.method} ${p.url} ${p.statusCode} ${p.statusText} ${p.versionMajor}.${p.versionMinor} ka=${p.keepAlive} up=${p.upgrade}`,
    );
    return 0;
  }
  onBody(data: Buffer): number {
    this.body += data.toString('latin1');
    return 0;
  }
  onTrailer(name: string, value: string): number {
    this.flushBody();
    this.events.push(`trailer ${name}=${value}`);
    return 0;
  }
  onMessageComplete(): number {
    this.flushBody();
    this.events.push('complete');
    return 0;
  }
  private flushBody(): void {
    if (this.body !== '') this.events.push(`body ${this.body}`);
    this.body = '';
  }
}

function parse(type: ParserType, chunks: Buffer[]): string[] {
  const recorder = new Recorder();
  const parser = new HttpParser(type, recorder, 64 * 1024);
  try {
    for (const chunk of chunks) {
      const ret = parser.execute(chunk);
      if (ret !== ParserError.OK) recorder.events.push(`error ${ret}`);
    }
  } finally {
    parser.destroy();
  }
  return recorder.events;
}

const REQUESTS = Buffer.from(
  'GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: split/1.0\r\nX-Empty:\r\nX-Trailing-Space: v  \r\n\r\n' +
    'POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world' +
    'PUT /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n' +
    'GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'latin1',
);

const RESPONSES = Buffer.from(
  'HTTP/1.1 100 Continue\r\n\r\n' +
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!' +
    'HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n' +
    'HTTP/1.1 404 Not Found Here\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nTrailer-One: 1\r\n\r\n',
  'latin1',
);

test('a request corpus parses into the expected events', () => {
  const events = parse(ParserType.REQUEST, [REQUESTS]);
  assert.deepEqual(events, [
    'begin',
    'header host=example.com',
    'header user-agent=split/1.0',
    'header x-empty=',
    'header x-trailing-space=v',
    'head GET /path?q=1 0  1.1 ka=true up=false',
    'complete',
    'begin',
    'header host=example.com',
    'header content-length=11',
    'head POST /upload 0  1.1 ka=true up=false',
    'body hello world',
    'complete',
    'begin',
    'header host=a',
    'header transfer-encoding=chunked',
    'head PUT /chunked 0  1.1 ka=true up=false',
    'body hello world',
    'trailer x-checksum=abc',
    'complete',
    'begin',
    'header connection=keep-alive',
    'head GET /old 0  1.0 ka=true up=false',
    'complete',
  ]);
});

test('a response corpus parses into the expected events', () => {
  const events = parse(ParserType.RESPONSE, [RESPONSES]);
  assert.deepEqual(events, [
    'begin',
    'head   100 Continue 1.1 ka=true up=false',
    'complete',
    'begin',
    'header content-type=text/plain',
    'header content-length=13',
    'head   200 OK 1.1 ka=true up=false',
    'body Hello, World!',
    'complete',
    'begin',
    'header x-a=b',
    'head   204 No Content 1.1 ka=true up=false',
    'complete',
    'begin',
    'header transfer-encoding=chunked',
    'head   404 Not Found Here 1.1 ka=true up=false',
    'body abc',
    'trailer trailer-one=1',
    'complete',
  ]);
});

for (const [name, type, corpus] of [
  ['requests', ParserType.REQUEST, REQUESTS],
  ['responses', ParserType.RESPONSE, RESPONSES],
] as const) {
  test(`${name} split at every byte position give identical events`, () => {
    const whole = parse(type, [corpus]);
    for (let at = 1; at < corpus.length; at++) {
      const split = parse(type, [corpus.subarray(0, at), corpus.subarray(at)]);
      assert.deepEqual(split, whole, `split at byte ${at}`);
    }
  });

  test(`${name} fed one byte at a time give identical events`, () => {
    const whole = parse(type, [corpus]);
    const bytes: Buffer[] = [];
    for (let i = 0; i < corpus.length; i++) bytes.push(corpus.subarray(i, i + 1));
    assert.deepEqual(parse(type, bytes), whole);
  });
}

test('body events are views of the original chunk, not copies', () => {
  const chunk = Buffer.from('POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc', 'latin1');
  let view: Buffer | null = null;
  const handler = new (class extends Recorder {
    override onBody(data: Buffer): number {
      view = data;
      return 0;
    }
  })();
  const parser = new HttpParser(ParserType.REQUEST, handler, 1024);
  assert.equal(parser.execute(chunk), ParserError.OK);
  parser.destroy();
  assert.ok(view !== null);
  const body = view as Buffer;
  assert.equal(body.buffer, chunk.buffer);
  assert.equal(body.byteOffset, chunk.byteOffset + chunk.length - 3);
});

test('pausing at message complete stops at the message boundary and resumes from there', () => {
  const handler = new (class extends Recorder {
    override onMessageComplete(): number {
      super.onMessageComplete();
      return ParserError.PAUSED;
    }
  })();
  const parser = new HttpParser(ParserType.REQUEST, handler, 1024);
  const first = 'GET /a HTTP/1.1\r\n\r\n';
  const data = Buffer.from(first + 'GET /b HTTP/1.1\r\n\r\n', 'latin1');
  assert.equal(parser.execute(data), ParserError.PAUSED);
  assert.equal(parser.stopOffset, first.length);
  parser.resume();
  assert.equal(parser.execute(data.subarray(parser.stopOffset)), ParserError.PAUSED);
  parser.resume();
  assert.equal(parser.execute(Buffer.alloc(0)), ParserError.OK);
  assert.equal(parser.finish(), ParserError.OK);
  parser.destroy();
  assert.deepEqual(
    handler.events.filter((e) => e.startsWith('head')),
    ['head GET /a 0  1.1 ka=true up=false', 'head GET /b 0  1.1 ka=true up=false'],
  );
});

test('strict mode rejects obs-fold, bare LF, CL+TE and duplicate Content-Length', () => {
  for (const bad of [
    'GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n',
    'GET / HTTP/1.1\nHost: a\n\n',
    'POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'GET / HTTP/1.1\r\nBad Name: x\r\n\r\n',
  ]) {
    const events = parse(ParserType.REQUEST, [Buffer.from(bad, 'latin1')]);
    assert.ok(
      events.some((e) => e.startsWith('error')),
      `accepted: ${JSON.stringify(bad)}`,
    );
  }
});

test('a message head over the limit fails with HEAD_TOO_LARGE, also when it streams in pieces', () => {
  const parser = new HttpParser(ParserType.REQUEST, new Recorder(), 100);
  assert.equal(parser.execute(Buffer.from('GET / HTTP/1.1\r\nX-Long: ', 'latin1')), ParserError.OK);
  let ret: number = ParserError.OK;
  for (let i = 0; i < 10 && ret === ParserError.OK; i++) ret = parser.execute(Buffer.alloc(20, 0x61));
  assert.equal(ret, ParserError.HEAD_TOO_LARGE);
  assert.match(parser.errorReason, /too large/);
  parser.destroy();
});

test('finish() completes a close-delimited response', () => {
  const recorder = new Recorder();
  const parser = new HttpParser(ParserType.RESPONSE, recorder, 1024);
  assert.equal(parser.execute(Buffer.from('HTTP/1.1 200 OK\r\n\r\nuntil close', 'latin1')), ParserError.OK);
  assert.ok(!recorder.events.includes('complete'));
  assert.equal(parser.finish(), ParserError.OK);
  parser.destroy();
  assert.deepEqual(recorder.events.slice(-2), ['body until close', 'complete']);
});
