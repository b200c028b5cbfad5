/**
 * The `test.Echo` gRPC service the gRPC tests run with @grpc/grpc-js: messages are raw bytes (no
 * protobuf needed: the proxy never looks inside them), and its methods are one of each kind.
 */
import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;
const RAW = {
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
};

export const ECHO_SERVICE = {
  unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false, ...RAW },
  serverStream: { path: '/test.Echo/ServerStream', requestStream: false, responseStream: true, ...RAW },
  clientStream: { path: '/test.Echo/ClientStream', requestStream: true, responseStream: false, ...RAW },
  bidi: { path: '/test.Echo/Bidi', requestStream: true, responseStream: true, ...RAW },
} as const;

/** Binds `server` to 127.0.0.1 on a free port (plaintext HTTP/2); returns the port. */
export function bindInsecure(server: grpc.Server): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
}

/** A static cluster's fields that make it speak HTTP/2 (h2c) to its hosts (YAML lines). */
export const H2_CLUSTER = `typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config: { http2_protocol_options: {} }`;
