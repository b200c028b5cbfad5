/**
 * envoy.filters.http.grpc_web with a real @grpc/grpc-js server behind an HTTP/2 cluster, and
 * requests shaped as browsers' gRPC-Web clients send them: fetch over HTTP/1.1 (POST, content-type
 * `application/grpc-web[-text]`, `x-grpc-web: 1`, `accept` naming the encoding wanted), on both
 * downstream HTTP/1.1 codecs, and over HTTP/2. The response body is read as a browser must: the
 * messages and the trailers frame (0x80) from the body, base64 for `-text`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as net from 'node:net';
import {
  httpProxyYaml,
  startLegate,
  startOrigin,
  staticCluster,
  type LegateProcess,
  type Origin,
} from '../integration/harness';
import { insertHttpFilters } from './filter-yaml';
import { h2Connect, h2Request } from '../h2/h2-client';
import { ECHO_SERVICE, H2_CLUSTER, bindInsecure } from '../support/grpc-echo';
import { Base64StreamDecoder, TRAILERS_FRAME_FLAG } from '../../src/filters/http/grpc-web/codec';

const GRPC_WEB_FILTER = `
- name: envoy.filters.http.grpc_web
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb`;

let server: grpc.Server;
let origin: Origin;
/** Legate with the `legate` codec, then with `uws`: the same config otherwise. */
const proxies: { codec: string; lp: LegateProcess; port: number }[] = [];

function yaml(grpcPort: number, originPort: number, codec: string): string {
  return insertHttpFilters(
    httpProxyYaml({
      listenerExtra: codec === 'uws' ? 'legate_http1_codec: uws' : '',
      virtualHosts: `- name: all
  domains: ["*"]
  routes:
  - match: { prefix: /html.Echo/ }
    route: { cluster: html }
  - match: { prefix: / }
    route: { cluster: grpc, timeout: 0s }`,
      clusters: staticCluster('grpc', [grpcPort], H2_CLUSTER) + staticCluster('html', [originPort]),
    }),
    GRPC_WEB_FILTER,
  );
}

before(async () => {
  server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      if (text === 'fail') return cb({ code: grpc.status.FAILED_PRECONDITION, details: 'asked to fail' });
      cb(null, Buffer.from(`echo ${text}`));
    },
    serverStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.alloc(i * 100, String(i % 10)));
      call.end();
    },
    clientStream: () => {},
    bidi: () => {},
  });
  const grpcPort = await bindInsecure(server);
  // An answer that is not gRPC: what a misrouted call gets from an ordinary web server.
  origin = await startOrigin((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/html' });
    res.end('<h1>down for maintenance</h1>');
  });
  for (const codec of ['legate', 'uws']) {
    const lp = await startLegate(yaml(grpcPort, origin.port, codec), { concurrency: 1 });
    proxies.push({ codec, lp, port: lp.ports.get('proxy')! });
  }
});

after(async () => {
  for (const p of proxies) await p.lp.stop();
  await origin?.close();
  server?.forceShutdown();
});

/** A gRPC message frame: flags 0, length, bytes. */
function frame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message) : message;
  const header = Buffer.alloc(5);
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

interface GrpcWebReply {
  status: number;
  headers: Headers;
  messages: Buffer[];
  /** From the trailers frame; null if the body had none. */
  trailers: Map<string, string> | null;
}

/** Splits a gRPC-Web body (binary) into its messages and trailers frame. */
function parseBody(body: Buffer): Pick<GrpcWebReply, 'messages' | 'trailers'> {
  const messages: Buffer[] = [];
  let trailers: Map<string, string> | null = null;
  let at = 0;
  while (at < body.length) {
    assert.ok(body.length - at >= 5, `a truncated frame header at ${at}`);
    const flags = body[at]!;
    const end = at + 5 + body.readUInt32BE(at + 1);
    assert.ok(end <= body.length, `a truncated frame at ${at}`);
    const payload = body.subarray(at + 5, end);
    if (flags === TRAILERS_FRAME_FLAG) {
      assert.equal(trailers, null, 'one trailers frame');
      trailers = new Map();
      for (const line of payload.toString('latin1').split('\r\n')) {
        if (line === '') continue;
        const colon = line.indexOf(':');
        trailers.set(line.slice(0, colon), line.slice(colon + 1));
      }
    } else {
      assert.equal(flags, 0);
      assert.equal(trailers, null, 'no message after the trailers');
      messages.push(Buffer.from(payload));
    }
    at = end;
  }
  return { messages, trailers };
}

/** A gRPC-Web call as the grpc-web JavaScript client makes it with fetch. */
async function grpcWebCall(
  port: number,
  path: string,
  message: string | Buffer,
  text: boolean,
  init: { body?: Buffer | string } = {},
): Promise<GrpcWebReply> {
  const type = text ? 'application/grpc-web-text' : 'application/grpc-web+proto';
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: {
      'content-type': type,
      accept: type,
      'x-grpc-web': '1',
      'x-user-agent': 'grpc-web-javascript/0.1',
      origin: 'http://app.example',
    },
    body: init.body ?? (text ? frame(message).toString('base64') : frame(message)),
  });
  const raw = Buffer.from(await res.arrayBuffer());
  let body: Buffer = raw;
  if (text) {
    const decoded = new Base64StreamDecoder().decode(raw);
    assert.ok(decoded !== null, `the -text response body is base64: ${raw.toString('latin1')}`);
    body = decoded;
  }
  return { status: res.status, headers: res.headers, ...parseBody(body) };
}

for (const text of [false, true]) {
  const encoding = text ? 'grpc-web-text (base64)' : 'grpc-web (binary)';
  const contentType = text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto';

  test(`${encoding}: unary, server streaming and an error status over HTTP/1.1, both codecs`, async () => {
    for (const { codec, port } of proxies) {
      const unary = await grpcWebCall(port, '/test.Echo/Unary', 'hi', text);
      assert.equal(unary.status, 200, codec);
      assert.equal(unary.headers.get('content-type'), contentType, codec);
      assert.deepEqual(unary.messages.map(String), ['echo hi'], codec);
      assert.equal(unary.trailers?.get('grpc-status'), '0', codec);

      // Messages of 0 to 2,900 bytes: frames split across upstream DATA frames and chunks.
      const stream = await grpcWebCall(port, '/test.Echo/ServerStream', '30', text);
      assert.equal(stream.status, 200, codec);
      assert.equal(stream.messages.length, 30, codec);
      stream.messages.forEach((m, i) =>
        assert.ok(m.equals(Buffer.alloc(i * 100, String(i % 10))), `${codec} #${i}`),
      );
      assert.equal(stream.trailers?.get('grpc-status'), '0', codec);

      const failed = await grpcWebCall(port, '/test.Echo/Unary', 'fail', text);
      assert.equal(failed.status, 200, codec);
      assert.deepEqual(failed.messages, [], codec);
      // grpc-js answers an error before any message trailers-only: grpc-status in the head.
      const status = failed.trailers?.get('grpc-status') ?? failed.headers.get('grpc-status');
      assert.equal(status, String(grpc.status.FAILED_PRECONDITION), codec);
      const details = failed.trailers?.get('grpc-message') ?? failed.headers.get('grpc-message');
      assert.equal(decodeURIComponent(details ?? ''), 'asked to fail', codec);
    }
  });

  test(`${encoding}: an answer that is not gRPC becomes grpc-status and grpc-message, as Envoy's`, async () => {
    for (const { codec, port } of proxies) {
      const r = await grpcWebCall(port, '/html.Echo/Unary', 'hi', text);
      assert.equal(r.status, 503, codec);
      assert.equal(r.headers.get('content-type'), contentType, codec);
      assert.equal(r.headers.get('grpc-status'), String(grpc.status.UNAVAILABLE), codec);
      assert.equal(r.headers.get('grpc-message'), '<h1>down for maintenance</h1>', codec);
      assert.deepEqual(r.messages, [], codec);
      assert.equal(r.trailers, null, codec);
    }
  });
}

test('grpc-web-text: a body that is not base64, or not whole quanta, is answered 400 with grpc-status INTERNAL', async () => {
  for (const { codec, port } of proxies) {
    for (const body of ['AAAA*AAA', 'AAAAAAVoaQ', 'AAAA-_AA', 'AA=AAAAA']) {
      const r = await grpcWebCall(port, '/test.Echo/Unary', '', true, { body });
      assert.equal(r.status, 400, `${codec} ${body}`);
      assert.equal(r.headers.get('grpc-status'), String(grpc.status.INTERNAL), `${codec} ${body}`);
      assert.equal(r.headers.get('grpc-message'), 'Bad gRPC-web request, invalid base64 data.', codec);
      assert.equal(r.headers.get('content-type'), 'application/grpc-web-text+proto', codec);
    }
  }
});

test('grpc-web-text: messages each base64-encoded on their own (padding mid-body) decode as one body', async () => {
  // Two requests' worth of frames would be a client stream; one message split in two padded
  // pieces is the same shape: `frame` bytes cut at 4 and at the end, each piece padded.
  const whole = frame('padded pieces');
  const body = whole.subarray(0, 4).toString('base64') + whole.subarray(4).toString('base64');
  assert.match(body, /=.+/, 'padding in the middle');
  for (const { codec, port } of proxies) {
    const r = await grpcWebCall(port, '/test.Echo/Unary', '', true, { body });
    assert.deepEqual(r.messages.map(String), ['echo padded pieces'], codec);
  }
});

/**
 * One grpc-web-text request whose base64 body is sent chunked, cut at `cut`: the two pieces are
 * written apart (no delay between the request's own writes), so the proxy reads them apart.
 */
function splitRequest(port: number, body: string, cut: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('end', () => resolve(answer));
    const piece = (s: string): string => `${s.length.toString(16)}\r\n${s}\r\n`;
    socket.write(
      'POST /test.Echo/Unary HTTP/1.1\r\nhost: x\r\ncontent-type: application/grpc-web-text\r\n' +
        'accept: application/grpc-web-text\r\nx-grpc-web: 1\r\nconnection: close\r\n' +
        `transfer-encoding: chunked\r\n\r\n${piece(body.slice(0, cut))}`,
    );
    setTimeout(() => socket.write(`${piece(body.slice(cut))}0\r\n\r\n`), 5);
  });
}

test('grpc-web-text: a request body cut at every byte boundary', { timeout: 120_000 }, async () => {
  const body = frame('split me').toString('base64');
  const expected = frame('echo split me').toString('base64');
  for (const { codec, port } of proxies) {
    for (let cut = 1; cut < body.length; cut++) {
      const answer = await splitRequest(port, body, cut);
      assert.match(answer, /^HTTP\/1\.1 200 /, `${codec} cut ${cut}`);
      assert.ok(answer.includes(expected), `${codec} cut ${cut}: the message: ${answer}`);
    }
  }
});

test('over HTTP/2 too, and requests that are not gRPC-Web pass untouched', async () => {
  const session = await h2Connect(proxies[0]!.port);
  try {
    const r = await h2Request(session, {
      method: 'POST',
      path: '/test.Echo/Unary',
      headers: { 'content-type': 'application/grpc-web-text', accept: 'application/grpc-web-text' },
      body: Buffer.from(frame('over h2').toString('base64')),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc-web-text+proto');
    const parsed = parseBody(new Base64StreamDecoder().decode(r.body)!);
    assert.deepEqual(parsed.messages.map(String), ['echo over h2']);
    assert.equal(parsed.trailers?.get('grpc-status'), '0');
    assert.equal(r.trailers, null, 'the trailers went into the body');
  } finally {
    session.close();
  }
  // Not gRPC-Web: the origin's answer as it is.
  const plain = await fetch(`http://127.0.0.1:${proxies[0]!.port}/html.Echo/Unary`);
  assert.equal(plain.status, 503);
  assert.equal(plain.headers.get('content-type'), 'text/html');
  assert.equal(await plain.text(), '<h1>down for maintenance</h1>');
});
