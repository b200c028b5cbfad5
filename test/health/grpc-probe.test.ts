/**
 * The gRPC health check (grpc.health.v1.Health/Check) against real HTTP/2 servers on 127.0.0.1:
 * a hand-written one that answers each ServingStatus, trailers-only errors and resets, and a
 * `@grpc/grpc-js` server with the health service defined from health.proto's shape, to show the
 * hand-encoded messages are what a real gRPC stack reads and writes.
 */
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { grpcProbe, healthCheckRequestFrame, servingStatusOf } from '../../src/upstream/health/grpc-probe';

const config = { serviceName: 'svc.Echo', authority: '', initialMetadata: [{ key: 'x-hc', value: 'grpc' }] };

/** A health server whose answer is set per test: a ServingStatus, or a trailers-only grpc-status. */
async function startHealthServer(): Promise<{
  port: number;
  answer: { serving: number } | { grpcStatus: number } | 'reset';
  seen: http2.IncomingHttpHeaders[];
  sessions: number;
  close(): Promise<void>;
}> {
  const server = http2.createServer();
  const state = {
    port: 0,
    answer: { serving: 1 } as { serving: number } | { grpcStatus: number } | 'reset',
    seen: [] as http2.IncomingHttpHeaders[],
    bodies: [] as Buffer[],
    sessions: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  server.on('session', (session) => {
    state.sessions++;
    server.once('close', () => session.destroy());
  });
  server.on('stream', (stream, headers) => {
    state.seen.push(headers);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      state.bodies.push(Buffer.concat(chunks));
      const answer = state.answer;
      if (answer === 'reset') {
        stream.on('error', () => {}); // Node reports the reset it sends as an error
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      if ('grpcStatus' in answer) {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(answer.grpcStatus) },
          { endStream: true },
        );
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      const message = answer.serving === 0 ? Buffer.alloc(0) : Buffer.from([0x08, answer.serving]);
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      stream.end(frame);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

test('gRPC check: SERVING passes; NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, an error status fail; a reset or no server is a network failure', async () => {
  const server = await startHealthServer();
  const probe = grpcProbe(config, 'web', '127.0.0.1', server.port, true, null);
  try {
    assert.equal(await probe.check(1000), 'success');
    for (const serving of [2, 0, 3]) {
      server.answer = { serving };
      assert.equal(await probe.check(1000), 'failure', `ServingStatus ${serving}`);
    }
    server.answer = { grpcStatus: 12 };
    assert.equal(await probe.check(1000), 'failure', 'UNIMPLEMENTED');
    server.answer = 'reset';
    assert.equal(await probe.check(1000), 'network_failure');
    server.answer = { serving: 1 };
    assert.equal(await probe.check(1000), 'success');
    const seen = server.seen[0]!;
    assert.equal(seen[':path'], '/grpc.health.v1.Health/Check');
    assert.equal(seen[':authority'], 'web');
    assert.equal(seen['content-type'], 'application/grpc');
    assert.equal(seen['x-hc'], 'grpc');
    assert.ok(server.sessions <= 2, `reuse_connection keeps the session (${server.sessions} sessions)`);
  } finally {
    probe.close();
    await server.close();
  }
  const down = grpcProbe(config, 'web', '127.0.0.1', server.port, false, null);
  assert.equal(await down.check(1000), 'network_failure');
  down.close();
});

test('the request and response messages are what @grpc/grpc-js encodes and decodes as grpc.health.v1', async () => {
  // health.proto by hand: HealthCheckRequest { string service = 1 }, HealthCheckResponse { ServingStatus status = 1 }.
  const server = new grpc.Server();
  const requests: string[] = [];
  server.addService(
    {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        // The test's reference decoding: the service name the probe sent.
        requestDeserialize: (b: Buffer) => (b.length === 0 ? '' : b.subarray(2, 2 + b[1]!).toString()),
        requestSerialize: (s: string) => Buffer.from(s),
        responseSerialize: (status: number) => Buffer.from([0x08, status]),
        responseDeserialize: (b: Buffer) => b[1]!,
      },
    },
    {
      Check: (call: grpc.ServerUnaryCall<string, number>, callback: grpc.sendUnaryData<number>) => {
        requests.push(call.request);
        callback(null, call.request === 'svc.Echo' ? 1 : 3);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  try {
    const probe = grpcProbe(config, 'web', '127.0.0.1', port, false, null);
    assert.equal(await probe.check(2000), 'success');
    const other = grpcProbe({ ...config, serviceName: 'svc.Other' }, 'web', '127.0.0.1', port, false, null);
    assert.equal(await other.check(2000), 'failure', 'SERVICE_UNKNOWN');
    probe.close();
    other.close();
    assert.deepEqual(requests, ['svc.Echo', 'svc.Other']);
  } finally {
    server.forceShutdown();
  }
  assert.deepEqual([...healthCheckRequestFrame('')], [0, 0, 0, 0, 0], 'the whole server: an empty message');
  assert.equal(servingStatusOf(Buffer.from([0, 0, 0, 0, 0])), 0, 'an empty response is UNKNOWN');
});
