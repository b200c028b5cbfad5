import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type * as net from 'node:net';
import { tunnelMayFollow } from '../../src/http/codec';
import { HeaderMap } from '../../src/http/header-map';
import { transferEncodingStatus } from '../../src/http/transfer-encoding';
import { delay, rawExchange, startServer, statusLines, waitFor, type RecordedStream } from './helpers';

const echoPath = { onComplete: (s: RecordedStream) => s.respond(200, `path=${s.head!.path}`) };

function httpGet(
  agent: http.Agent,
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        resolve({ status: res.statusCode!, body, headers: res.headers, socket: req.socket! }),
      );
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test('keep-alive: sequential node:http requests reuse one connection', async () => {
  const server = await startServer(echoPath);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await httpGet(agent, server.port, `/r${i}`);
      assert.equal(res.status, 200);
      assert.equal(res.body, `path=/r${i}`);
      assert.equal(res.headers['content-length'], String(`path=/r${i}`.length));
    }
    assert.equal(server.connections, 1);
    assert.equal(server.streams.length, 3);
    const encoder = server.streams[0]!.encoder;
    assert.equal(encoder.remoteAddress, '127.0.0.1');
    assert.equal(encoder.localAddress, '127.0.0.1');
    assert.equal(encoder.localPort, server.port);
    assert.ok(encoder.remotePort > 0);
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('pipelining: three requests in one write get three in-order responses, even when answered out of order', async () => {
  const delays: Record<string, number> = { '/a': 60, '/b': 30, '/c': 0 };
  const server = await startServer({
    onComplete: (s) => {
      setTimeout(() => s.respond(200, s.head!.path), delays[s.head!.path]);
    },
  });
  try {
    const request = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const { text } = await rawExchange(server.port, [request('/a') + request('/b') + request('/c')], {
      untilText: '/c',
    });
    const bodies = text.split('\r\n\r\n').slice(1);
    assert.deepEqual(
      bodies.map((b) => b.slice(0, 2)),
      ['/a', '/b', '/c'],
    );
    assert.equal(statusLines(text).length, 3);
  } finally {
    await server.close();
  }
});

test('pipelined requests answered synchronously leave in one write, in order', async () => {
  const server = await startServer(echoPath);
  try {
    const request = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const { text } = await rawExchange(server.port, [request('/1') + request('/2') + request('/3')], {
      untilText: 'path=/3',
    });
    assert.deepEqual(
      [...text.matchAll(/path=\/(\d)/g)].map((m) => m[1]),
      ['1', '2', '3'],
    );
  } finally {
    await server.close();
  }
});

test('HTTP/1.0 gets 426 by default', async () => {
  const server = await startServer(echoPath);
  try {
    const { text, closed } = await rawExchange(server.port, ['GET / HTTP/1.0\r\n\r\n']);
    assert.match(text, /^HTTP\/1.1 426 /);
    assert.ok(closed);
    assert.equal(server.streams.length, 0);
  } finally {
    await server.close();
  }
});

test('HTTP/1.0 is served when accepted: close by default, keep-alive on request, close-delimited for unknown length', async () => {
  const server = await startServer(
    {
      onComplete: (s) => {
        if (s.head!.path === '/unknown-length') {
          const map = new HeaderMap();
          s.encoder.encodeHeaders({ status: 200, reason: '', headers: map }, -1, false);
          s.encoder.encodeData(Buffer.from('streamed'), true);
        } else s.respond(200, 'ten-bytes!');
      },
    },
    { acceptHttp10: true },
  );
  try {
    const plain = await rawExchange(server.port, ['GET / HTTP/1.0\r\n\r\n']);
    assert.match(plain.text, /connection: close\r\n/);
    assert.ok(plain.text.endsWith('ten-bytes!'));
    assert.ok(plain.closed);

    const keepAlive = await rawExchange(server.port, ['GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], {
      timeoutMs: 300,
    });
    assert.match(keepAlive.text, /connection: keep-alive\r\n/);
    assert.ok(!keepAlive.closed, 'a keep-alive HTTP/1.0 connection stays open');

    const unknown = await rawExchange(server.port, [
      'GET /unknown-length HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    ]);
    assert.doesNotMatch(unknown.text, /transfer-encoding/);
    assert.match(unknown.text, /connection: close\r\n\r\nstreamed$/);
    assert.ok(unknown.closed);
  } finally {
    await server.close();
  }
});

test('chunked request body (with trailers) is decoded; unknown-length response is chunked', async () => {
  const server = await startServer({
    onComplete: (s) => {
      const map = new HeaderMap();
      s.encoder.encodeHeaders({ status: 200, reason: '', headers: map }, -1, false);
      s.encoder.encodeData(Buffer.from(s.bodyText), false);
      setTimeout(() => s.encoder.encodeData(Buffer.from('|more'), true), 10);
    },
  });
  try {
    const { text } = await rawExchange(
      server.port,
      [
        'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
        'lo\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n',
      ],
      { gapMs: 20, untilText: '0\r\n\r\n' },
    );
    const stream = server.streams[0]!;
    assert.equal(stream.bodyText, 'hello world');
    assert.equal(stream.trailers?.get('x-sum'), '1');
    assert.equal(stream.head!.chunked, true);
    assert.match(text, /transfer-encoding: chunked\r\n\r\nb\r\nhello world\r\n5\r\n\|more\r\n0\r\n\r\n$/);
  } finally {
    await server.close();
  }
});

test('node:http client reads a chunked response', async () => {
  const server = await startServer({
    onComplete: (s) => {
      s.encoder.encodeHeaders({ status: 200, reason: '', headers: new HeaderMap() }, -1, false);
      s.encoder.encodeData(Buffer.from('part1-'), false);
      s.encoder.encodeData(Buffer.from('part2'), true);
    },
  });
  const agent = new http.Agent({ keepAlive: true });
  try {
    const res = await httpGet(agent, server.port, '/');
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.body, 'part1-part2');
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('HEAD: Content-Length kept, no body, and the next pipelined request is answered', async () => {
  const server = await startServer({
    onComplete: (s) => {
      const body = Buffer.from('0123456789');
      s.encoder.encodeHeaders({ status: 200, reason: '', headers: new HeaderMap() }, body.length, false);
      s.encoder.encodeData(body, true);
    },
  });
  try {
    const { text } = await rawExchange(
      server.port,
      ['HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'],
      {
        untilText: '0123456789',
      },
    );
    assert.equal(
      text,
      'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n' +
        'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789',
    );
  } finally {
    await server.close();
  }
});

test('Expect: 100-continue reaches the decoder; the codec answers it only when told', async () => {
  let sendContinue = false;
  const server = await startServer({
    onHeaders: (s) => {
      if (sendContinue) s.encoder.encode100Continue();
    },
    onComplete: (s) => s.respond(200, `got ${s.bodyText}`),
  });
  try {
    const silent = await rawExchange(
      server.port,
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n'],
      { timeoutMs: 200 },
    );
    assert.equal(silent.text, '', 'the codec must not send 100 Continue by itself');
    assert.equal(server.streams[0]!.head!.headers.get('expect'), '100-continue');

    sendContinue = true;
    const result = await new Promise<{ sawContinue: boolean; body: string }>((resolve, reject) => {
      let sawContinue = false;
      const req = http.request({
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: '/',
        headers: { Expect: '100-continue', 'Content-Length': '4' },
      });
      req.on('continue', () => {
        sawContinue = true;
        req.end('data');
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ sawContinue, body }));
      });
      req.on('error', reject);
      req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    });
    assert.ok(result.sawContinue);
    assert.equal(result.body, 'got data');
  } finally {
    await server.close();
  }
});

const MALFORMED: [string, string, number][] = [
  [
    'CL + TE',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    400,
  ],
  [
    'TE + CL',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
    400,
  ],
  [
    'differing duplicate CL',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
    400,
  ],
  // Found by the request-parser fuzzer: llhttp takes lengths up to 2^64-1, a JS number is exact to
  // 2^53-1 only, and the proxy forwarded 2^53+1 as 2^53 (and 2^64-1 as 18446744073709552000).
  ['Content-Length 2^53+1', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9007199254740993\r\n\r\nab', 400],
  [
    'Content-Length 2^64-1',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n',
    400,
  ],
  ['NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 400],
  ['space before colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
  ['non-token header name', 'GET / HTTP/1.1\r\nX(A): 1\r\n\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', 400],
  ['bare LF', 'GET / HTTP/1.1\nHost: x\n\n', 400],
  [
    'duplicate TE items',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n',
    400,
  ],
  [
    'duplicate TE lines',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    400,
  ],
  ['empty TE item', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n', 400],
  ['TE gzip', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
  [
    'TE gzip, chunked',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    501,
  ],
  ['TE xchunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n', 501],
  ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: x\r\n\r\n', 505],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
  ['unknown method', 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
];

for (const [name, request, status] of MALFORMED) {
  test(`malformed request (${name}) → ${status} + close, and the owner never sees it`, async () => {
    const server = await startServer(echoPath, { acceptHttp10: true });
    try {
      const { text, closed } = await rawExchange(server.port, [request]);
      assert.match(text, new RegExp(`^HTTP/1.1 ${status} `));
      assert.match(text, /connection: close\r\n/);
      assert.ok(closed, 'the connection is closed');
      assert.equal(server.streams.length, 0, 'no stream was created');
    } finally {
      await server.close();
    }
  });
}

test('a request smuggled behind a valid one is never decoded', async () => {
  const server = await startServer(echoPath);
  try {
    const { text } = await rawExchange(server.port, [
      'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n',
    ]);
    assert.deepEqual(statusLines(text), ['HTTP/1.1 200 OK', 'HTTP/1.1 400 Bad Request']);
    assert.deepEqual(
      server.streams.map((s) => s.head!.path),
      ['/ok'],
    );
  } finally {
    await server.close();
  }
});

test('a malformed chunked body after valid headers → stream reset (protocol_error), 400 + close', async () => {
  const server = await startServer(echoPath);
  try {
    const { text, closed } = await rawExchange(server.port, [
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ]);
    assert.match(text, /^HTTP\/1.1 400 /);
    assert.ok(closed);
    assert.equal(server.streams[0]!.reset, 'protocol_error');
  } finally {
    await server.close();
  }
});

test('TE on HTTP/1.0 → 400', async () => {
  const server = await startServer(echoPath, { acceptHttp10: true });
  try {
    const { text } = await rawExchange(server.port, [
      'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ]);
    assert.match(text, /^HTTP\/1.1 400 /);
    assert.equal(server.streams.length, 0);
  } finally {
    await server.close();
  }
});

test('transferEncodingStatus: only exactly chunked passes', () => {
  assert.equal(transferEncodingStatus('chunked'), 0);
  assert.equal(transferEncodingStatus(' Chunked '), 0);
  assert.equal(transferEncodingStatus('chunked,chunked'), 400);
  assert.equal(transferEncodingStatus('chunked,'), 400);
  assert.equal(transferEncodingStatus('identity'), 501);
  assert.equal(transferEncodingStatus('gzip, chunked'), 501);
});

test('431 for a head over maxRequestHeadersKb and for more than maxRequestHeadersCount fields', async () => {
  const server = await startServer(echoPath, { maxRequestHeadersKb: 1, maxRequestHeadersCount: 5 });
  try {
    const big = await rawExchange(server.port, [
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`,
    ]);
    assert.match(big.text, /^HTTP\/1.1 431 /);
    assert.ok(big.closed);
    let many = 'GET / HTTP/1.1\r\nHost: x\r\n';
    for (let i = 0; i < 5; i++) many += `X-H${i}: ${i}\r\n`;
    const count = await rawExchange(server.port, [many + '\r\n']);
    assert.match(count.text, /^HTTP\/1.1 431 /);
    const ok = await rawExchange(server.port, ['GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n'], {
      untilText: 'path=',
    });
    assert.match(ok.text, /^HTTP\/1.1 200 /);
    assert.equal(server.streams.length, 1);
  } finally {
    await server.close();
  }
});

test('413 for a Content-Length over maxRequestBodyBytes, before the owner sees it; and for a chunked body that grows past it', async () => {
  const server = await startServer(echoPath, { maxRequestBodyBytes: 10 });
  try {
    const declared = await rawExchange(server.port, [
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n',
    ]);
    assert.match(declared.text, /^HTTP\/1.1 413 /);
    assert.equal(server.streams.length, 0);
    const chunked = await rawExchange(server.port, [
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n',
    ]);
    assert.match(chunked.text, /^HTTP\/1.1 413 /);
    assert.equal(server.streams[0]!.reset, 'overflow');
  } finally {
    await server.close();
  }
});

test('headers with underscores: REJECT_REQUEST → 400, DROP_HEADER → dropped, ALLOW → kept', async () => {
  const request = 'GET / HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\nX-Ok: 2\r\n\r\n';
  for (const [action, check] of [
    [
      'REJECT_REQUEST',
      (text: string, server: Awaited<ReturnType<typeof startServer>>) => {
        assert.match(text, /^HTTP\/1.1 400 /);
        assert.equal(server.streams.length, 0);
      },
    ],
    [
      'DROP_HEADER',
      (_text: string, server: Awaited<ReturnType<typeof startServer>>) => {
        assert.equal(server.streams[0]!.head!.headers.has('x_under'), false);
        assert.equal(server.streams[0]!.head!.headers.get('x-ok'), '2');
      },
    ],
    [
      'ALLOW',
      (_text: string, server: Awaited<ReturnType<typeof startServer>>) => {
        assert.equal(server.streams[0]!.head!.headers.get('x_under'), '1');
      },
    ],
  ] as const) {
    const server = await startServer(echoPath, { headersWithUnderscoresAction: action });
    try {
      const { text } = await rawExchange(server.port, [request], {
        untilText: action === 'REJECT_REQUEST' ? '' : 'path=',
      });
      check(text, server);
    } finally {
      await server.close();
    }
  }
});

test('response headers with CR/LF/NUL are dropped; framing headers from the owner are replaced', async () => {
  const server = await startServer({
    onComplete: (s) =>
      s.respond(200, 'ok', [
        ['x-good', 'yes'],
        ['x-injected', 'a\r\nset-cookie: evil=1'],
        ['x-nul', 'a\0b'],
        ['bad name', 'v'],
        ['content-length', '999'],
        ['transfer-encoding', 'chunked'],
        ['connection', 'upgrade'],
      ]),
  });
  try {
    const { text } = await rawExchange(server.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], {
      untilText: '\r\n\r\nok',
    });
    assert.equal(text, 'HTTP/1.1 200 OK\r\nx-good: yes\r\ncontent-length: 2\r\n\r\nok');
  } finally {
    await server.close();
  }
});

test('flow control: a slow reader raises the high watermark, draining lowers it', async () => {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  // Loopback kernel buffers absorb a few MB before Node has to queue: send well beyond that.
  const totalChunks = 512;
  let written = 0;
  const pump = (s: RecordedStream): void => {
    // Writes until the codec reports the high watermark (bounded by totalChunks).
    while (written < totalChunks && s.aboveWatermark === s.belowWatermark) {
      written++;
      s.encoder.encodeData(chunk, written === totalChunks);
    }
  };
  const server = await startServer({
    onComplete: (s) => {
      s.encoder.encodeHeaders(
        { status: 200, reason: '', headers: new HeaderMap() },
        chunk.length * totalChunks,
        false,
      );
      s.onWatermark = () => pump(s);
      pump(s);
    },
  });
  try {
    const socket = (await import('node:net')).connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause();
    await waitFor(() => (server.streams[0]?.aboveWatermark ?? 0) >= 1, 'the high watermark');
    await delay(50);
    assert.ok(written < totalChunks, 'writing stopped at the watermark');
    assert.ok(server.streams[0]!.encoder.bufferedBytes > 0);
    let received = 0;
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.resume();
    await waitFor(() => received >= chunk.length * totalChunks, 'the whole body', 10000);
    assert.ok(server.streams[0]!.belowWatermark >= 1);
    socket.destroy();
  } finally {
    await server.close();
  }
});

test('readDisable pauses reading the request body until re-enabled', async () => {
  const server = await startServer({
    onHeaders: (s) => {
      s.encoder.readDisable(true);
      setTimeout(() => s.encoder.readDisable(false), 100);
    },
    onComplete: (s) => s.respond(200, s.bodyText),
  });
  try {
    const exchange = rawExchange(
      server.port,
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n', 'abc'],
      {
        gapMs: 20,
        untilText: 'abc',
      },
    );
    await delay(60);
    assert.equal(server.streams[0]!.body.length, 0, 'no body while reading is disabled');
    const { text } = await exchange;
    assert.ok(text.endsWith('\r\n\r\nabc'));
  } finally {
    await server.close();
  }
});

test('a downstream close mid-request resets the stream with remote_reset', async () => {
  const server = await startServer(echoPath);
  try {
    await rawExchange(server.port, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'], {
      timeoutMs: 100,
    });
    await waitFor(() => server.closedConnections === 1, 'the connection close');
    assert.equal(server.streams[0]!.reset, 'remote_reset');
  } finally {
    await server.close();
  }
});

test('shutdownNotice: the in-flight response carries connection: close and the connection ends', async () => {
  const server = await startServer({
    onComplete: (s) => setTimeout(() => s.respond(200, 'bye'), 30),
  });
  try {
    const exchange = rawExchange(server.port, [
      'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n',
    ]);
    await waitFor(() => server.codecs.length === 1 && server.streams.length === 1, 'the first request');
    server.codecs[0]!.shutdownNotice();
    const { text, closed } = await exchange;
    assert.equal(text, 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbye');
    assert.ok(closed);
    assert.equal(server.streams.length, 1, 'the pipelined request is not read');
  } finally {
    await server.close();
  }
});

test('shutdownNotice leaves an idle keep-alive connection open: a request arriving then is answered with connection: close', async () => {
  const server = await startServer({ onComplete: (s) => s.respond(200, s.head!.path) });
  try {
    const exchange = rawExchange(
      server.port,
      ['GET /before HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /during HTTP/1.1\r\nHost: x\r\n\r\n'],
      { gapMs: 100 },
    );
    await waitFor(() => server.streams.length === 1, 'the first request');
    await delay(20); // its response is out: the connection is idle
    server.codecs[0]!.shutdownNotice();
    const { text, closed } = await exchange;
    assert.equal(
      text,
      'HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n/before' +
        'HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\n/during',
    );
    assert.ok(closed, 'the connection ends after the response that said so');
  } finally {
    await server.close();
  }
});

test('goAway closes an idle connection at once, a busy one after its response', async () => {
  const server = await startServer({
    onComplete: (s) => {
      if (s.head!.path === '/slow') setTimeout(() => s.respond(200, 'slow'), 50);
      else s.respond(200, 'fast');
    },
  });
  try {
    const idle = rawExchange(server.port, ['GET /fast HTTP/1.1\r\nHost: x\r\n\r\n']);
    await waitFor(() => server.streams.length === 1, 'the first request');
    await delay(20);
    server.codecs[0]!.goAway();
    const idleResult = await idle;
    assert.ok(idleResult.closed, 'the idle connection is closed');
    assert.equal(idleResult.text, 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nfast');

    const busy = rawExchange(server.port, ['GET /slow HTTP/1.1\r\nHost: x\r\n\r\n']);
    await waitFor(() => server.streams.length === 2, 'the second request');
    server.codecs[1]!.goAway();
    const busyResult = await busy;
    assert.ok(busyResult.closed, 'the connection ends after its response');
    assert.equal(busyResult.text, 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow');
  } finally {
    await server.close();
  }
});

test('an upgrade refused with an ordinary response leaves the connection in HTTP', async () => {
  const server = await startServer({
    // A bodiless upgrade's stream ends only once its response does: it is answered at its head.
    onHeaders: (s) => {
      if (tunnelMayFollow(s.head!)) s.respond(426, s.head!.path);
    },
    onComplete: (s) => {
      if (!tunnelMayFollow(s.head!)) s.respond(200, s.head!.path);
    },
  });
  try {
    const { text } = await rawExchange(
      server.port,
      [
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n' +
          'GET /after HTTP/1.1\r\nHost: x\r\n\r\n',
      ],
      { untilText: '/after' },
    );
    assert.deepEqual(statusLines(text), ['HTTP/1.1 426 Upgrade Required', 'HTTP/1.1 200 OK']);
    assert.equal(server.streams[0]!.head!.upgrade, true);
  } finally {
    await server.close();
  }
});

test('a response that ends before its request body closes the connection', async () => {
  const server = await startServer({ onHeaders: (s) => s.respond(404, 'nope') });
  try {
    const { text, closed } = await rawExchange(
      server.port,
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab'],
      {
        timeoutMs: 2000,
      },
    );
    assert.match(text, /^HTTP\/1.1 404 Not Found\r\n/);
    assert.ok(closed);
  } finally {
    await server.close();
  }
});

test("a stream's read disable ends with the stream: the next request on the connection is read", async () => {
  // The owner pauses reading and answers without resuming (as a filter chain whose response
  // completes before its pause is undone); a stale resume after the stream ended changes nothing.
  const server = await startServer({
    onComplete: (s) => {
      s.encoder.readDisable(true);
      s.encoder.readDisable(true);
      s.respond(200, `path=${s.head!.path}`);
      s.encoder.readDisable(false);
    },
  });
  try {
    const request = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (const [label, chunks] of [
      ['pipelined', [request('/1') + request('/2') + request('/3')]],
      ['one after the other', [request('/1'), request('/2'), request('/3')]],
    ] as const) {
      const { text } = await rawExchange(server.port, [...chunks], { gapMs: 30, untilText: 'path=/3' });
      assert.deepEqual(
        [...text.matchAll(/path=\/(\d)/g)].map((m) => m[1]),
        ['1', '2', '3'],
        label,
      );
    }
  } finally {
    await server.close();
  }
});

test('the owner is told of every request the codec refuses, with the status it answered', async () => {
  const server = await startServer(echoPath);
  try {
    await rawExchange(server.port, ['GET / HTTP/1.1 junk\r\n\r\n']);
    await rawExchange(server.port, ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n']);
    // In the body, after the owner got the stream: told first, then the stream is reset.
    await rawExchange(server.port, [
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ]);
    assert.deepEqual(server.protocolErrors, [
      [400, 'Bad Request'.length],
      [501, 'Not Implemented'.length],
      [400, 'Bad Request'.length],
    ]);
    assert.equal(server.streams.length, 1);
    assert.equal(server.streams[0]!.reset, 'protocol_error');
  } finally {
    await server.close();
  }
});

test('replyToPartialRequest answers a head still arriving, and only such a head', async () => {
  const server = await startServer(echoPath);
  try {
    // Idle connection: nothing to answer.
    const idle = rawExchange(server.port, [], { timeoutMs: 300 });
    await waitFor(() => server.codecs.length === 1, 'the connection');
    assert.equal(server.codecs[0]!.replyToPartialRequest(408, 'stream timeout'), false);
    assert.deepEqual(await idle, { text: '', closed: false });
    // A partial head: answered, closed; a second call has nothing left to answer.
    const partial = rawExchange(server.port, ['GET /slow HTTP/1.1\r\nHo'], { timeoutMs: 2000 });
    await waitFor(() => server.requestsBegun === 1, 'the partial head');
    const codec = server.codecs[1]!;
    assert.equal(codec.replyToPartialRequest(408, 'stream timeout'), true);
    assert.equal(codec.replyToPartialRequest(408, 'stream timeout'), false);
    const { text, closed } = await partial;
    assert.ok(closed);
    assert.equal(statusLines(text).length, 1);
    assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*connection: close\r\n\r\nstream timeout$/);
    assert.equal(server.streams.length, 0);
    assert.deepEqual(server.protocolErrors, [], 'not a protocol error');
  } finally {
    await server.close();
  }
});
