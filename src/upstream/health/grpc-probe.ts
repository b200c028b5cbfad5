/**
 * One gRPC health check (Envoy's GrpcHealthCheckerImpl): the unary call
 * `grpc.health.v1.Health/Check` over HTTP/2 (h2c, or the cluster's TLS with ALPN h2), passing when
 * the call ends with grpc-status 0 and its HealthCheckResponse says SERVING. Runs on the primary
 * thread, off the data path; with reuse_connection one HTTP/2 session per host is kept between
 * checks. The two messages are one field each, so they are encoded here rather than with a
 * protobuf library (grpc/health/v1/health.proto: HealthCheckRequest.service = 1 (string),
 * HealthCheckResponse.status = 1 (enum ServingStatus, SERVING = 1)).
 */
import * as http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { GrpcHealthCheckConfig } from '../../config/bootstrap';
import type { UpstreamTlsClient } from '../../transport/tls/upstream';
import type { CheckOutcome } from './health-state';
import type { Probe } from './probe';

const SERVING = 1;

/** The request's one gRPC message (uncompressed, length-prefixed): HealthCheckRequest{service}. */
export function healthCheckRequestFrame(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const message =
    name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** HealthCheckResponse.status from the response body's one message; -1 when there is none. */
export function servingStatusOf(body: Buffer): number {
  if (body.length < 5 || body[0] !== 0) return -1; // compressed messages are not requested
  const message = body.subarray(5, 5 + body.readUInt32BE(1));
  // Field 1, varint (tag 0x08); an absent field is its default, UNKNOWN (0).
  for (let i = 0; i + 1 < message.length;) {
    const tag = message[i++]!;
    let value = 0;
    let shift = 0;
    while (i < message.length) {
      const b = message[i++]!;
      value |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    if (tag === 0x08) return value;
    if ((tag & 7) !== 0) return -1; // an unexpected non-varint field: not a HealthCheckResponse
  }
  return 0;
}

export function grpcProbe(
  config: GrpcHealthCheckConfig,
  clusterName: string,
  address: string,
  port: number,
  reuseConnection: boolean,
  /** The cluster's TLS, when it has a transport socket: checks go over it. */
  tls: UpstreamTlsClient | null,
): Probe {
  const host = address.includes(':') ? `[${address}]` : address;
  const authority = `${tls === null ? 'http' : 'https'}://${host}:${port}`;
  const request: http2.OutgoingHttpHeaders = {
    ':method': 'POST',
    ':path': '/grpc.health.v1.Health/Check',
    ':authority': config.authority || clusterName,
    'content-type': 'application/grpc',
    te: 'trailers',
  };
  for (const { key, value } of config.initialMetadata) request[key] = value;
  const body = healthCheckRequestFrame(config.serviceName);
  let kept: http2.ClientHttp2Session | null = null;

  const session = (): http2.ClientHttp2Session => {
    if (kept !== null && !kept.closed && !kept.destroyed) return kept;
    const opened =
      tls === null
        ? http2.connect(authority)
        : http2.connect(authority, {
            ...tls.options,
            ALPNProtocols: tls.options.ALPNProtocols ?? ['h2'],
            host: address,
            port,
          });
    opened.on('error', () => {}); // reported through the stream's own error
    if (tls !== null) {
      opened.once('connect', (_s, socket) => {
        const refused = tls.refusal(socket as TLSSocket);
        if (refused !== null) opened.destroy(new Error(refused));
      });
    }
    if (reuseConnection) kept = opened;
    return opened;
  };

  return {
    check: (timeoutMs) =>
      new Promise<CheckOutcome>((resolve) => {
        const s = session();
        let settled = false;
        const finish = (outcome: CheckOutcome): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (!reuseConnection || outcome === 'network_failure' || outcome === 'network_timeout') {
            s.destroy();
            if (kept === s) kept = null;
          }
          resolve(outcome);
        };
        const timer = setTimeout(() => finish('network_timeout'), timeoutMs);
        let stream: http2.ClientHttp2Stream;
        try {
          stream = s.request(request);
        } catch {
          finish('network_failure');
          return;
        }
        let status = 0;
        let grpcStatus: string | undefined;
        const chunks: Buffer[] = [];
        stream.on('response', (headers) => {
          status = Number(headers[':status']);
          grpcStatus = headers['grpc-status'] as string | undefined; // trailers-only
        });
        stream.on('trailers', (trailers) => {
          grpcStatus = (trailers['grpc-status'] as string | undefined) ?? grpcStatus;
        });
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const passed =
            status === 200 && grpcStatus === '0' && servingStatusOf(Buffer.concat(chunks)) === SERVING;
          finish(passed ? 'success' : 'failure');
        });
        stream.on('error', () => finish('network_failure'));
        // Reset by the host, or its session went away, without an end: a failed check.
        stream.on('close', () => finish('network_failure'));
        stream.end(body);
      }),
    close: () => {
      kept?.destroy();
      kept = null;
    },
  };
}
