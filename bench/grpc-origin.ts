/**
 * A @grpc/grpc-js origin for the gRPC scenarios: `node dist/bench/grpc-origin.js --port P` serves
 * `/bench.Echo/Unary`, which answers each call with its own message (raw bytes, no protobuf).
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';

const raw = (b: Buffer): Buffer => b;

function main(): void {
  const { values } = parseArgs({ options: { port: { type: 'string' } } });
  const server = new grpc.Server();
  server.addService(
    {
      unary: {
        path: '/bench.Echo/Unary',
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
        cb(null, call.request),
    },
  );
  server.bindAsync(
    `127.0.0.1:${Number(values.port ?? 0)}`,
    grpc.ServerCredentials.createInsecure(),
    (err, port) => {
      if (err) throw err;
      process.stdout.write(`gRPC origin listening on 127.0.0.1:${port}\n`);
    },
  );
  const stop = (): void => server.tryShutdown(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
