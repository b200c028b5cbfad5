/**
 * One suite over the downstream codec contract (`ServerConnection` / `ResponseEncoder` /
 * `RequestDecoder` in src/http/codec.ts), run against both downstream codecs: Legate's (llhttp on a
 * real `net` socket) and uWS. The owner side is a recording decoder; the client side writes exact
 * bytes and parses the responses by their own framing (wire-client.ts).
 *
 * Where the README's "uWS codec limits" documents that uWS behaves differently, the case asserts
 * that documented behaviour for uWS (an intended difference, with its reason) instead of skipping:
 * if a uWS upgrade changes it, the case fails and the README and this suite need updating.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, test } from 'node:test';
import type { RequestDecoder, RequestHead, ResponseEncoder, ResponseHead } from '../../src/http/codec';
import { HeaderMap } from '../../src/http/header-map';
import { createServerConnection, DEFAULT_SERVER_CODEC_OPTIONS } from '../../src/http/server-connection';
import { startUwsListener } from '../../src/http/uws/uws-listener';
import { RecordedStream, delay, waitFor, type App } from './helpers';
import { WireClient, header } from './wire-client';

/** A RecordedStream that also records how the request's head and data calls ended. */
class ConformanceStream extends RecordedStream {
  /** decodeHeaders' endStream. */
  headersEndStream = false;
  dataCalls = 0;
  override decodeHeaders(head: RequestHead, endStream: boolean): void {
    this.headersEndStream = endStream;
    super.decodeHeaders(head, endStream);
  }
  override decodeData(data: Buffer, endStream: boolean): void {
    this.dataCalls++;
    super.decodeData(data, endStream);
  }
}

interface CodecServer {
  port: number;
  streams: ConformanceStream[];
  close(): Promise<void>;
}

/** Behaviours the README documents as uWS limits (the key names the case that checks it). */
type Limit =
  | 'http10'
  | 'wholeBodyContentLength'
  | 'chunkedHeadWaitsForBody'
  | 'responseTrailers'
  | 'requestTrailers'
  | 'expectContinue'
  | 'asyncPipelining'
  | 'dateHeader';

interface DownstreamCodec {
  name: string;
  start(app: App): Promise<CodecServer>;
  /** Intended differences from the contract, with the README's reason. */
  limits: Partial<Record<Limit, string>>;
}

function newStreamFor(app: App, streams: ConformanceStream[]) {
  return (encoder: ResponseEncoder): RequestDecoder => {
    const stream = new ConformanceStream(encoder, app);
    streams.push(stream);
    return stream;
  };
}

const CODECS: DownstreamCodec[] = [
  {
    name: 'legate',
    async start(app) {
      const streams: ConformanceStream[] = [];
      const sockets = new Set<net.Socket>();
      const callbacks = { newStream: newStreamFor(app, streams), onConnectionClose: () => {} };
      // HTTP/1.0 served, as the connection manager configures it by default (accept_http_10).
      const options = { ...DEFAULT_SERVER_CODEC_OPTIONS, acceptHttp10: true };
      const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        createServerConnection(socket, callbacks, options);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return {
        port: (server.address() as net.AddressInfo).port,
        streams,
        close: async () => {
          for (const s of sockets) s.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
    limits: {},
  },
  {
    name: 'uws',
    async start(app) {
      const streams: ConformanceStream[] = [];
      const listener = await startUwsListener(
        { host: '127.0.0.1', port: 0 },
        { newStream: newStreamFor(app, streams) },
      );
      return { port: listener.port, streams, close: async () => listener.close() };
    },
    limits: {
      http10: 'HTTP/1.0 is not served (the request hangs)',
      wholeBodyContentLength:
        'a body that arrives whole is sent with Content-Length even if the upstream used chunked',
      chunkedHeadWaitsForBody: "a chunked response's head waits for its first body byte",
      responseTrailers: 'trailers are dropped',
      requestTrailers: 'request trailers are dropped',
      expectContinue: 'Expect: 100-continue is answered by uWS itself, before the proxy decides',
      asyncPipelining: 'a request pipelined behind one that is answered asynchronously closes the connection',
      dateHeader: 'uWS always writes its own Date',
    },
  },
];

/**
 * Runs the contract's expectation, or, where `codec` documents `limit`, the check of that
 * documented behaviour instead; a documented limit that no longer holds fails with both reasons.
 */
async function conformsOr(
  codec: DownstreamCodec,
  limit: Limit,
  conformant: () => Promise<void>,
  documented: () => Promise<void>,
): Promise<void> {
  const reason = codec.limits[limit];
  if (reason === undefined) return conformant();
  try {
    await documented();
  } catch (err) {
    throw new Error(
      `${codec.name} no longer shows its documented limit "${reason}" (update the README's uWS codec limits and this suite): ${(err as Error).message}`,
    );
  }
}

function responseHead(status: number, fields: [string, string][] = []): ResponseHead {
  const headers = new HeaderMap();
  for (const [n, v] of fields) headers.add(n, v);
  return { status, reason: '', headers };
}

/** Answers every complete request on a later tick (as a proxy does) with `answer`. */
function answerLater(answer: (s: ConformanceStream) => void): App {
  return { onComplete: (s) => setImmediate(() => answer(s as ConformanceStream)) };
}

const OK = answerLater((s) => s.respond(200, 'ok'));

/** Starts the codec with `app`, connects one client, runs `body`, and stops both. */
async function withCodec(
  codec: DownstreamCodec,
  app: App,
  body: (client: WireClient, server: CodecServer) => Promise<void>,
): Promise<void> {
  const server = await codec.start(app);
  const client = await WireClient.connect(server.port);
  try {
    await body(client, server);
  } finally {
    client.close();
    await server.close();
  }
}

const GET = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

/** Deterministic bytes: a test that used one byte value could not see reordering. */
function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 11)) & 0xff;
  return b;
}

for (const codec of CODECS) {
  describe(`downstream codec conformance: ${codec.name}`, () => {
    // ---------------------------------------------------------------- request head

    test('request head: method, target with query, version, headers in order and lower-cased, framing fields', async () => {
      await withCodec(codec, OK, async (client, server) => {
        await client.write(
          'GET /p/a%20th?x=1&y HTTP/1.1\r\nHost: example.com\r\nX-Multi: a\r\nX-Case: Value\r\nx-multi: b\r\n\r\n',
        );
        assert.equal((await client.response()).status, 200);
        const head = server.streams[0]!.head!;
        assert.equal(head.method, 'GET');
        assert.equal(head.path, '/p/a%20th?x=1&y');
        assert.equal(head.protocol, 'HTTP/1.1');
        assert.deepEqual(
          head.headers.names.map((n, i) => [n, head.headers.values[i]]),
          [
            ['host', 'example.com'],
            ['x-multi', 'a'],
            ['x-case', 'Value'],
            ['x-multi', 'b'],
          ],
        );
        assert.equal(head.keepAlive, true);
        assert.equal(head.contentLength, -1);
        assert.equal(head.chunked, false);
        assert.equal(head.upgrade, false);
        assert.equal(server.streams[0]!.headersEndStream, true, 'no body: the head ends the request');
      });
    });

    test('request head: every common method reaches the owner as sent', async () => {
      await withCodec(codec, OK, async (client, server) => {
        const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
        for (const m of methods) {
          const body = ['POST', 'PUT', 'PATCH'].includes(m) ? 'content-length: 0\r\n' : '';
          await client.write(`${m} /m HTTP/1.1\r\nHost: t\r\n${body}\r\n`);
          const r = await client.response(m);
          assert.equal(r.status, 200, m);
          assert.equal(r.body.toString(), m === 'HEAD' ? '' : 'ok', m);
        }
        assert.deepEqual(
          server.streams.map((s) => s.head!.method),
          methods,
        );
      });
    });

    test('request head: keepAlive, contentLength and chunked follow Connection, Content-Length and Transfer-Encoding', async () => {
      await withCodec(codec, OK, async (client, server) => {
        await client.write(
          'POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello',
        );
        await client.response();
        await client.write(
          'POST /te HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
        );
        await client.response();
        await client.write(GET('/close', 'Connection: close\r\n'));
        await client.response();
        const [cl, te, close] = server.streams.map((s) => s.head!);
        assert.deepEqual([cl!.keepAlive, cl!.contentLength, cl!.chunked], [true, 5, false]);
        assert.deepEqual([te!.keepAlive, te!.contentLength, te!.chunked], [true, -1, true]);
        assert.deepEqual([close!.keepAlive, close!.contentLength, close!.chunked], [false, -1, false]);
      });
    });

    test('request head: HTTP/1.0 (protocol HTTP/1.0, not keep-alive by default)', async () => {
      await withCodec(codec, OK, async (client, server) => {
        await client.write('GET /old HTTP/1.0\r\nHost: t\r\n\r\n');
        await conformsOr(
          codec,
          'http10',
          async () => {
            const r = await client.response();
            assert.equal(r.status, 200);
            assert.equal(r.body.toString(), 'ok');
            assert.equal(server.streams[0]!.head!.protocol, 'HTTP/1.0');
            assert.equal(server.streams[0]!.head!.keepAlive, false);
            assert.ok(await client.closesWithin(1000), 'closed after the response');
          },
          async () => {
            const got = await client.quietFor(300);
            assert.equal(server.streams.length, 0, 'the request never reaches the owner');
            assert.equal(got.length, 0, 'and nothing is answered');
          },
        );
      });
    });

    // ---------------------------------------------------------------- request body

    test('request body: Content-Length body delivered whole, the last call ends the stream', async () => {
      await withCodec(codec, OK, async (client, server) => {
        await client.write('POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world');
        await client.response();
        const s = server.streams[0]!;
        assert.equal(s.headersEndStream, false);
        assert.equal(s.bodyText, 'hello world');
        assert.equal(s.ended, true);
      });
    });

    test('request body: content-length: 0 ends the request at the head', async () => {
      await withCodec(codec, OK, async (client, server) => {
        await client.write('POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n');
        await client.response();
        const s = server.streams[0]!;
        assert.equal(s.headersEndStream, true);
        assert.equal(s.dataCalls, 0);
      });
    });

    test('request body: chunked body decoded, chunk framing removed', async () => {
      await withCodec(codec, OK, async (client, server) => {
        await client.write(
          'POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
        );
        await client.response();
        const s = server.streams[0]!;
        assert.equal(s.bodyText, 'hello world');
        assert.equal(s.ended, true);
      });
    });

    test('request body: 1 MiB arrives exactly', async () => {
      const body = pattern(1 << 20);
      await withCodec(codec, OK, async (client, server) => {
        await client.write(`PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`);
        await client.write(body);
        await client.response('PUT', 10_000);
        assert.ok(Buffer.concat(server.streams[0]!.body).equals(body));
      });
    });

    test('request split at every byte boundary (Content-Length and chunked): the same head and body each time', async () => {
      const requests = [
        'POST /split?q=1 HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello',
        'POST /split?q=2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n',
      ];
      await withCodec(codec, OK, async (client, server) => {
        for (const request of requests) {
          const bytes = Buffer.from(request, 'latin1');
          for (let at = 1; at < bytes.length; at++) {
            await client.write(bytes.subarray(0, at));
            await delay(1); // a separate read on the server
            await client.write(bytes.subarray(at));
            const r = await client.response('POST');
            const s = server.streams[server.streams.length - 1]!;
            const label = `${JSON.stringify(request.slice(0, 18))} split at ${at}`;
            assert.equal(r.status, 200, label);
            assert.equal(s.head!.path, request.slice(5, request.indexOf(' HTTP')), label);
            assert.equal(s.head!.headers.get('host'), 't', label);
            assert.equal(s.bodyText, 'hello', label);
            assert.equal(s.ended, true, label);
          }
        }
        assert.equal(client.closed, false, 'one keep-alive connection served every split');
      });
    });

    // ---------------------------------------------------------------- response framing

    test('response: a known length is sent with Content-Length', async () => {
      const app = answerLater((s) => {
        s.encoder.encodeHeaders(responseHead(200), 5, false);
        s.encoder.encodeData(Buffer.from('hello'), true);
      });
      await withCodec(codec, app, async (client) => {
        await client.write(GET('/'));
        const r = await client.response();
        assert.equal(r.framing, 'content-length');
        assert.equal(header(r, 'content-length'), '5');
        assert.equal(r.body.toString(), 'hello');
      });
    });

    test('response: an unknown length whose body comes in pieces is chunked', async () => {
      const app = answerLater((s) => {
        s.encoder.encodeHeaders(responseHead(200), -1, false);
        setImmediate(() => {
          s.encoder.encodeData(Buffer.from('abc'), false);
          setImmediate(() => s.encoder.encodeData(Buffer.from('def'), true));
        });
      });
      await withCodec(codec, app, async (client) => {
        await client.write(GET('/'));
        const r = await client.response();
        assert.equal(r.framing, 'chunked');
        assert.equal(r.body.toString(), 'abcdef');
        await client.write(GET('/again'));
        assert.equal((await client.response()).body.toString(), 'abcdef', 'the connection is reusable');
      });
    });

    test('response: an unknown length whose whole body comes at once', async () => {
      const app = answerLater((s) => {
        s.encoder.encodeHeaders(responseHead(200), -1, false);
        s.encoder.encodeData(Buffer.from('abcdef'), true);
      });
      await withCodec(codec, app, async (client) => {
        await client.write(GET('/'));
        const r = await client.response();
        assert.equal(r.body.toString(), 'abcdef');
        await conformsOr(
          codec,
          'wholeBodyContentLength',
          async () => assert.equal(r.framing, 'chunked', 'the framing chosen at encodeHeaders'),
          async () => assert.deepEqual([r.framing, header(r, 'content-length')], ['content-length', '6']),
        );
      });
    });

    test('response: the head of an unknown-length response goes out before its first body byte', async () => {
      let encoder: ResponseEncoder | null = null;
      const app = answerLater((s) => {
        encoder = s.encoder;
        s.encoder.encodeHeaders(responseHead(200), -1, false);
      });
      await withCodec(codec, app, async (client) => {
        await client.write(GET('/events'));
        const early = (await client.quietFor(200)).toString('latin1');
        await conformsOr(
          codec,
          'chunkedHeadWaitsForBody',
          async () => assert.match(early, /^HTTP\/1\.1 200 /, 'the head is flushed without waiting for data'),
          async () => assert.equal(early, '', 'no head until the first body byte'),
        );
        encoder!.encodeData(Buffer.from('data: 1\n\n'), true);
        const r = await client.response();
        assert.equal(r.body.toString(), 'data: 1\n\n');
      });
    });

    test('response: contentLength 0, and endStream in encodeHeaders, both send content-length: 0', async () => {
      const app = answerLater((s) => {
        if (s.head!.path === '/zero') {
          s.encoder.encodeHeaders(responseHead(200), 0, false);
          s.encoder.encodeData(Buffer.alloc(0), true);
        } else s.encoder.encodeHeaders(responseHead(200), -1, true);
      });
      await withCodec(codec, app, async (client) => {
        for (const path of ['/zero', '/end', '/zero']) {
          await client.write(GET(path));
          const r = await client.response();
          assert.deepEqual(
            [r.framing, header(r, 'content-length'), r.body.length],
            ['content-length', '0', 0],
            path,
          );
        }
        assert.equal(client.closed, false);
      });
    });

    test('response: HEAD keeps the Content-Length, sends no body, and the connection serves the next request', async () => {
      const app = answerLater((s) => {
        if (s.head!.method === 'HEAD') s.encoder.encodeHeaders(responseHead(200), 1234, true);
        else s.respond(200, 'next');
      });
      await withCodec(codec, app, async (client) => {
        await client.write('HEAD /r HTTP/1.1\r\nHost: t\r\n\r\n');
        const r = await client.response('HEAD');
        assert.equal(header(r, 'content-length'), '1234');
        await client.write(GET('/after'));
        const next = await client.response();
        assert.equal(next.body.toString(), 'next', 'no stray body bytes before the next response');
      });
    });

    test('response: 204 and 304 carry no body and no chunked framing; the connection serves the next request', async () => {
      const app = answerLater((s) => {
        if (s.head!.path === '/204') s.encoder.encodeHeaders(responseHead(204, [['x-k', 'v']]), -1, true);
        else if (s.head!.path === '/304')
          s.encoder.encodeHeaders(responseHead(304, [['etag', '"1"']]), 99, true);
        else s.respond(200, 'next');
      });
      await withCodec(codec, app, async (client) => {
        await client.write(GET('/204'));
        const r204 = await client.response();
        assert.equal(r204.status, 204);
        assert.equal(header(r204, 'content-length'), undefined, 'a 204 has no Content-Length (RFC 9110 8.6)');
        assert.equal(header(r204, 'transfer-encoding'), undefined);
        assert.equal(header(r204, 'x-k'), 'v');
        await client.write(GET('/304'));
        const r304 = await client.response();
        assert.equal(r304.status, 304);
        assert.equal(header(r304, 'transfer-encoding'), undefined);
        assert.ok(
          [undefined, '99'].includes(header(r304, 'content-length')),
          'a 304 may state the length, no other',
        );
        await client.write(GET('/after'));
        assert.equal((await client.response()).body.toString(), 'next');
      });
    });

    test("response: the owner's framing fields are replaced by the codec's own", async () => {
      const app = answerLater((s) => {
        s.encoder.encodeHeaders(
          responseHead(200, [
            ['content-length', '999'],
            ['transfer-encoding', 'chunked'],
            ['x-kept', '1'],
          ]),
          2,
          false,
        );
        s.encoder.encodeData(Buffer.from('ok'), true);
      });
      await withCodec(codec, app, async (client) => {
        await client.write(GET('/'));
        const r = await client.response();
        assert.deepEqual(
          r.headers.filter(([n]) => n === 'content-length' || n === 'transfer-encoding'),
          [['content-length', '2']],
        );
        assert.equal(header(r, 'x-kept'), '1');
        assert.equal(r.body.toString(), 'ok');
      });
    });

    test('response: the codec adds no Date of its own (the connection manager does)', async () => {
      await withCodec(codec, OK, async (client) => {
        await client.write(GET('/'));
        const r = await client.response();
        await conformsOr(
          codec,
          'dateHeader',
          async () => assert.equal(header(r, 'date'), undefined),
          async () => assert.match(header(r, 'date') ?? '', /GMT$/),
        );
      });
    });

    // ---------------------------------------------------------------- trailers

    test('response trailers end a chunked body', async () => {
      const app = answerLater((s) => {
        s.encoder.encodeHeaders(responseHead(200), -1, false);
        setImmediate(() => {
          s.encoder.encodeData(Buffer.from('abc'), false);
          const t = new HeaderMap();
          t.add('grpc-status', '0');
          s.encoder.encodeTrailers(t);
        });
      });
      await withCodec(codec, app, async (client) => {
        await client.write(GET('/'));
        const r = await client.response();
        assert.equal(r.body.toString(), 'abc');
        await conformsOr(
          codec,
          'responseTrailers',
          async () => assert.deepEqual(r.trailers, [['grpc-status', '0']]),
          async () => assert.deepEqual(r.trailers, []),
        );
        await client.write(GET('/next'));
        assert.equal((await client.response()).body.toString(), 'abc', 'the connection is reusable');
      });
    });

    test('request trailers reach the owner', async () => {
      await withCodec(codec, OK, async (client, server) => {
        await client.write(
          'POST /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 42\r\n\r\n',
        );
        await client.response();
        const s = server.streams[0]!;
        assert.equal(s.bodyText, 'abc');
        assert.equal(s.ended, true);
        await conformsOr(
          codec,
          'requestTrailers',
          async () => assert.equal(s.trailers?.get('x-checksum'), '42'),
          async () => assert.equal(s.trailers, null),
        );
      });
    });

    // ---------------------------------------------------------------- 100-continue

    test('Expect: 100-continue: the owner asks for it, the client gets exactly one, then the body flows', async () => {
      const app: App = {
        onHeaders: (s) => s.encoder.encode100Continue(),
        onComplete: (s) => setImmediate(() => s.respond(200, `got ${s.bodyText}`)),
      };
      await withCodec(codec, app, async (client) => {
        await client.write(
          'PUT /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n',
        );
        const cont = await client.response();
        assert.equal(cont.status, 100);
        await client.write('data');
        const r = await client.response('PUT');
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'got data');
      });
    });

    test('Expect: 100-continue: the owner may refuse without it (no 100 goes out)', async () => {
      const app: App = { onHeaders: (s) => setImmediate(() => s.respond(417, 'no')) };
      await withCodec(codec, app, async (client) => {
        await client.write(
          'PUT /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n',
        );
        const first = await client.response('PUT');
        await conformsOr(
          codec,
          'expectContinue',
          async () => assert.equal(first.status, 417, 'the final answer is the first thing sent'),
          async () => {
            assert.equal(first.status, 100, 'uWS said 100 Continue before the owner decided');
            assert.equal((await client.response('PUT')).status, 417);
          },
        );
      });
    });

    // ---------------------------------------------------------------- resets

    test("resetStream after a partial response: the client's connection closes, the owner hears no reset back", async () => {
      const app = answerLater((s) => {
        s.encoder.encodeHeaders(responseHead(200), 10, false);
        s.encoder.encodeData(Buffer.from('abc'), false);
        setTimeout(() => s.encoder.resetStream('local_reset'), 20);
      });
      await withCodec(codec, app, async (client, server) => {
        await client.write(GET('/'));
        assert.ok(await client.closesWithin(2000));
        const text = client.unread.toString('latin1');
        assert.match(text, /^HTTP\/1\.1 200 /);
        assert.ok(text.endsWith('\r\n\r\nabc'), `truncated after the 3 bytes sent: ${JSON.stringify(text)}`);
        assert.equal(server.streams[0]!.reset, null);
      });
    });

    test('resetStream before any response: the connection closes with nothing sent', async () => {
      const app = answerLater((s) => s.encoder.resetStream('local_reset'));
      await withCodec(codec, app, async (client) => {
        await client.write(GET('/'));
        assert.ok(await client.closesWithin(2000));
        assert.equal(client.unread.length, 0);
      });
    });

    test('the client goes away mid-body, or while waiting for the response: onResetStream(remote_reset)', async () => {
      for (const request of [`POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc`, GET('/wait')]) {
        await withCodec(codec, {}, async (client, server) => {
          await client.write(request);
          await waitFor(() => server.streams.length === 1, 'the request');
          client.close();
          await waitFor(() => server.streams[0]!.reset !== null, 'the reset');
          assert.equal(server.streams[0]!.reset, 'remote_reset');
        });
      }
    });

    // ---------------------------------------------------------------- flow control

    test('flow control: a slow reader raises the high watermark, reading again lowers it; bytes exact', async () => {
      const total = 8 << 20;
      const body = pattern(total);
      const CHUNK = 64 * 1024;
      let sentAtFirstAbove = -1;
      const app = answerLater((s) => {
        let sent = 0;
        let blocked = false;
        const pump = (): void => {
          while (!blocked && sent < total) {
            const n = Math.min(CHUNK, total - sent);
            const piece = body.subarray(sent, sent + n);
            sent += n;
            s.encoder.encodeData(piece, sent === total);
          }
        };
        s.onWatermark = () => {
          blocked = s.aboveWatermark > s.belowWatermark;
          if (blocked && sentAtFirstAbove === -1) sentAtFirstAbove = sent;
          if (!blocked) pump();
        };
        s.encoder.encodeHeaders(responseHead(200), total, false);
        pump();
      });
      await withCodec(codec, app, async (client, server) => {
        client.socket.pause();
        await client.write(GET('/big'));
        await waitFor(() => (server.streams[0]?.aboveWatermark ?? 0) >= 1, 'the high watermark', 5000);
        assert.ok(sentAtFirstAbove >= 0 && sentAtFirstAbove < total, 'the owner was stopped before the end');
        client.socket.resume();
        const r = await client.response('GET', 20_000);
        assert.ok(r.body.equals(body), 'every byte, in order');
        assert.ok(server.streams[0]!.belowWatermark >= 1, 'the low watermark came back');
      });
    });

    test('readDisable: request body reading stops until re-enabled; bytes exact', async () => {
      const total = 8 << 20;
      const body = pattern(total);
      const app: App = {
        onHeaders: (s) => s.encoder.readDisable(true),
        onComplete: (s) => setImmediate(() => s.respond(200, `got ${Buffer.concat(s.body).length}`)),
      };
      await withCodec(codec, app, async (client, server) => {
        await client.write(`PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: ${total}\r\n\r\n`);
        client.socket.write(body);
        await waitFor(() => server.streams.length === 1, 'the request head');
        await delay(300);
        const s = server.streams[0]!;
        const whilePaused = Buffer.concat(s.body).length;
        assert.ok(whilePaused < total, `read ${whilePaused} of ${total} bytes while disabled`);
        s.encoder.readDisable(false);
        const r = await client.response('PUT', 20_000);
        assert.equal(r.body.toString(), `got ${total}`);
        assert.ok(Buffer.concat(s.body).equals(body));
      });
    });

    // ---------------------------------------------------------------- connection reuse

    test('keep-alive: sequential requests, each answered later, reuse one connection', async () => {
      await withCodec(codec, OK, async (client, server) => {
        for (let i = 0; i < 5; i++) {
          await client.write(GET(`/seq/${i}`));
          const r = await client.response();
          assert.equal(r.status, 200);
          assert.equal(header(r, 'connection'), undefined, 'no connection: close');
        }
        assert.equal(server.streams.length, 5);
        assert.equal(await client.closesWithin(100), false, 'still open');
      });
    });

    test('connection: close: the response says so and the connection is closed after it', async () => {
      await withCodec(codec, OK, async (client) => {
        await client.write(GET('/last', 'Connection: close\r\n'));
        const r = await client.response();
        assert.equal(r.body.toString(), 'ok');
        assert.equal(header(r, 'connection'), 'close');
        assert.ok(await client.closesWithin(1000));
      });
    });

    test('pipelining: two requests in one write, each answered later, get two responses in order', async () => {
      await withCodec(
        codec,
        answerLater((s) => s.respond(200, s.head!.path)),
        async (client) => {
          await client.write(GET('/one') + GET('/two'));
          await conformsOr(
            codec,
            'asyncPipelining',
            async () => {
              assert.equal((await client.response()).body.toString(), '/one');
              assert.equal((await client.response()).body.toString(), '/two');
            },
            async () => {
              assert.ok(await client.closesWithin(2000), 'the connection is closed');
              assert.equal(client.unread.length, 0, 'and the first response is lost');
            },
          );
        },
      );
    });
  });
}
