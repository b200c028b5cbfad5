/**
 * What the proxy needs to know of gRPC (Envoy's Grpc::Common / Grpc::Utility): which requests are
 * gRPC, and how a local reply is said to a gRPC client (a trailers-only response whose grpc-status
 * is mapped from the HTTP status, per grpc/doc/http-grpc-status-mapping.md).
 */
import { HeaderMap } from './header-map';

/** content-type `application/grpc`, or that followed by `+subtype` or `;parameters`. */
export const GRPC_CONTENT_TYPE_PATTERN = '^application/grpc([+;].*)?$';
const GRPC_CONTENT_TYPE = new RegExp(GRPC_CONTENT_TYPE_PATTERN);

export function isGrpcRequest(headers: HeaderMap): boolean {
  const contentType = headers.get('content-type');
  return contentType !== undefined && GRPC_CONTENT_TYPE.test(contentType);
}

/**
 * Envoy's gRPC retry conditions (x-envoy-retry-grpc-on, route `retry_on`): the grpc-status of a
 * trailers-only response head that each one retries.
 */
export const GRPC_RETRY_CONDITIONS: Readonly<Record<string, number>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

const enum GrpcStatus {
  UNKNOWN = 2,
  PERMISSION_DENIED = 7,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  UNAUTHENTICATED = 16,
}

export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The headers of a trailers-only gRPC response standing for a local reply of `status` and `message`. */
export function grpcLocalReplyHeaders(
  status: number,
  message: string,
  into: HeaderMap,
  grpcStatus = grpcStatusForHttp(status),
): HeaderMap {
  into.set('content-type', 'application/grpc');
  into.set('grpc-status', String(grpcStatus));
  if (message !== '') into.set('grpc-message', percentEncode(message));
  return into;
}

/** grpc-status DEADLINE_EXCEEDED: what a stream over its max_stream_duration tells a gRPC client. */
export const GRPC_DEADLINE_EXCEEDED = 4;

/** gRPC's percent-encoding of grpc-message (of `text` as UTF-8): bytes outside printable ASCII, and '%'. */
export function percentEncode(text: string | Uint8Array): string {
  let out = '';
  for (const byte of typeof text === 'string' ? Buffer.from(text, 'utf8') : text) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Whether a response head is a gRPC response (Envoy's Grpc::Common::isGrpcResponseHeaders): a
 * trailers-only one (`endStream`) carries grpc-status; any other is a 200 with a gRPC content-type.
 */
export function isGrpcResponse(status: number, headers: HeaderMap, endStream: boolean): boolean {
  if (endStream) return headers.has('grpc-status');
  return status === 200 && isGrpcRequest(headers);
}

/** The `grpc-status` of a response head (a trailers-only gRPC response), or -1 when it has none. */
export function grpcStatusOf(headers: HeaderMap): number {
  const value = headers.get('grpc-status');
  if (value === undefined || !/^\d{1,2}$/.test(value)) return -1;
  return Number(value);
}

/** Milliseconds per grpc-timeout unit (gRPC over HTTP/2: Hours, Minutes, Seconds, milli, micro, nano). */
const GRPC_TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/**
 * A grpc-timeout value (`1*8DIGIT unit`) in milliseconds, rounded up so a positive timeout stays
 * positive; null when absent or malformed.
 */
export function grpcTimeoutMs(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) return null;
  return Math.ceil(Number(m[1]) * GRPC_TIMEOUT_UNIT_MS[m[2]!]!);
}
