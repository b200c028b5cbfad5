/**
 * gRPC through the proxy with @grpc/grpc-js on both ends: HTTP/2 downstream (codec_type HTTP2),
 * HTTP/2 upstream cluster. Unary, server, client and bidirectional streaming, deadlines,
 * cancellation, 16 MiB messages and error statuses. Messages are raw bytes (no protobuf needed:
 * the proxy never looks inside them).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as net from 'node:net';
import { httpProxyYaml, staticCluster, startLegate, stat, type LegateProcess } from '../integration/harness';
import { h2Connect, h2Request } from './h2-client';
import { ECHO_SERVICE, H2_CLUSTER, bindInsecure } from '../support/grpc-echo';

const SERVICE = ECHO_SERVICE;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClient = grpc.Client & Record<string, any>;
const EchoClient = grpc.makeGenericClientConstructor(SERVICE, 'Echo');

let server: grpc.Server;
let lp: LegateProcess;
let client: AnyClient;
/** Set when the server saw a call cancelled. */
let cancelledOnServer: () => void = () => {};

before(async () => {
  server = new grpc.Server({
    'grpc.max_receive_message_length': 32 << 20,
    'grpc.max_send_message_length': 32 << 20,
  });
  server.addService(SERVICE, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      if (text === 'fail') return cb({ code: grpc.status.FAILED_PRECONDITION, details: 'asked to fail' });
      if (text === 'slow') {
        const t = setTimeout(() => cb(null, Buffer.from('late')), 2000);
        call.on('cancelled', () => {
          clearTimeout(t);
          cancelledOnServer();
        });
        return;
      }
      cb(null, call.request.length > 1000 ? call.request : Buffer.from(`echo ${text}`));
    },
    serverStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.from(`msg ${i}`));
      call.end();
    },
    clientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let total = 0;
      call.on('data', (b: Buffer) => (total += b.length));
      call.on('end', () => cb(null, Buffer.from(`total ${total}`)));
    },
    bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(Buffer.concat([Buffer.from('re: '), b])));
      call.on('end', () => call.end());
    },
  });
  const port = await bindInsecure(server);
  const closed = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => closed.once('listening', r));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise((r) => closed.close(r));
  lp = await startLegate(
    httpProxyYaml({
      hcmExtra: 'codec_type: HTTP2',
      // Only gRPC requests reach the cluster (route match `grpc: {}`); anything else gets a 404.
      virtualHosts: `- name: all
  domains: ["*"]
  routes:
  - match: { prefix: /down.Echo/, grpc: {} }
    route: { cluster: down }
  - match: { prefix: /test.Echo/, grpc: {} }
    route: { cluster: o, timeout: 0s }
  - match: { prefix: / }
    direct_response: { status: 404, body: { inline_string: not grpc } }`,
      clusters: staticCluster('o', [port], H2_CLUSTER) + staticCluster('down', [closedPort], H2_CLUSTER),
    }),
    { concurrency: 1 },
  );
  client = new EchoClient(`127.0.0.1:${lp.ports.get('proxy')!}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 32 << 20,
    'grpc.max_send_message_length': 32 << 20,
  }) as AnyClient;
});

after(async () => {
  client?.close();
  await lp?.stop();
  server?.forceShutdown();
});

function unary(message: Buffer, deadlineMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.unary(
      message,
      { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null, r: Buffer) => (err ? reject(err) : resolve(r)),
    ),
  );
}

test('unary calls, an error status, and a 16 MiB message each way', { timeout: 60_000 }, async () => {
  assert.equal((await unary(Buffer.from('hi'))).toString(), 'echo hi');
  await assert.rejects(unary(Buffer.from('fail')), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(err.details, 'asked to fail');
    return true;
  });
  const big = Buffer.alloc(16 << 20, 'q');
  const back = await unary(big);
  assert.equal(back.length, big.length);
  assert.ok(back.equals(big));
  assert.equal(await stat(lp, 'cluster.o.upstream_cx_http2_total'), 1);
});

test('server streaming, client streaming and bidirectional streaming', { timeout: 60_000 }, async () => {
  const received: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.serverStream(Buffer.from('50'));
    call.on('data', (b: Buffer) => received.push(b.toString()));
    call.on('end', resolve);
    call.on('error', reject);
  });
  assert.equal(received.length, 50);
  assert.equal(received[49], 'msg 49');

  const total = await new Promise<string>((resolve, reject) => {
    const call = client.clientStream((err: grpc.ServiceError | null, r: Buffer) =>
      err ? reject(err) : resolve(r.toString()),
    );
    for (let i = 0; i < 100; i++) call.write(Buffer.alloc(1000, 'c'));
    call.end();
  });
  assert.equal(total, 'total 100000');

  const replies: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.bidi();
    let sent = 0;
    call.on('data', (b: Buffer) => {
      replies.push(b.toString());
      if (++sent < 20) call.write(Buffer.from(`ping ${sent}`));
      else call.end();
    });
    call.on('end', resolve);
    call.on('error', reject);
    call.write(Buffer.from('ping 0'));
  });
  assert.equal(replies.length, 20);
  assert.equal(replies[19], 're: ping 19');
});

test(
  'a deadline expires as DEADLINE_EXCEEDED, and a cancelled call reaches the server',
  { timeout: 60_000 },
  async () => {
    const seen = new Promise<void>((resolve) => (cancelledOnServer = resolve));
    const started = Date.now();
    await assert.rejects(unary(Buffer.from('slow'), 300), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
      return true;
    });
    assert.ok(Date.now() - started < 1500, 'the client gave up at its deadline');
    // The client's RST_STREAM went through the proxy to the server's stream.
    await seen;

    const cancelled = new Promise<void>((resolve) => (cancelledOnServer = resolve));
    const call = client.unary(Buffer.from('slow'), (err: grpc.ServiceError | null) => {
      assert.equal(err?.code, grpc.status.CANCELLED);
    });
    setTimeout(() => call.cancel(), 200);
    await cancelled;
  },
);

test('route match grpc: {} takes application/grpc requests only', async () => {
  const session = await h2Connect(lp.ports.get('proxy')!);
  try {
    const plain = await h2Request(session, {
      method: 'POST',
      path: '/test.Echo/Unary',
      body: Buffer.from('x'),
    });
    assert.equal(plain.status, 404);
    assert.equal(plain.body.toString(), 'not grpc');
    const lookalike = await h2Request(session, {
      method: 'POST',
      path: '/test.Echo/Unary',
      headers: { 'content-type': 'application/grpcx' },
      body: Buffer.from('x'),
    });
    assert.equal(lookalike.status, 404);
  } finally {
    session.close();
  }
  assert.equal((await unary(Buffer.from('routed'))).toString(), 'echo routed');
});

test("local replies to gRPC requests are trailers-only, with Envoy's HTTP to gRPC status mapping", async () => {
  const call = (path: string): Promise<grpc.ServiceError> =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest(
        path,
        SERVICE.unary.requestSerialize,
        SERVICE.unary.responseDeserialize,
        Buffer.from('x'),
        (err: grpc.ServiceError | null) => (err ? resolve(err) : reject(new Error('expected an error'))),
      ),
    );
  // 503 (the upstream refuses connections) → UNAVAILABLE, with the reply's text as grpc-message.
  const down = await call('/down.Echo/Unary');
  assert.equal(down.code, grpc.status.UNAVAILABLE);
  assert.match(
    down.details,
    /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/,
  );
  // A direct_response 404 → UNIMPLEMENTED.
  const other = await call('/other.Svc/Method');
  assert.equal(other.code, grpc.status.UNIMPLEMENTED);
  assert.equal(other.details, 'not grpc');
  // As sent on the wire: HTTP 200, content-type application/grpc, grpc-status in the only HEADERS frame.
  const session = await h2Connect(lp.ports.get('proxy')!);
  try {
    const r = await h2Request(session, {
      method: 'POST',
      path: '/other.Svc/Method',
      headers: { 'content-type': 'application/grpc', te: 'trailers' },
      body: Buffer.alloc(5),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.headers['grpc-status'], '12');
    assert.equal(r.body.length, 0);
  } finally {
    session.close();
  }
});
