/**
 * The x-envoy-* request headers through which a caller steers the router for one request (Envoy's
 * router docs, "HTTP header manipulation: headers consumed"; FilterUtility::finalTimeout and
 * RetryStateImpl): the global and per-try timeouts, the retry policy merged with the route's, and a
 * 204 instead of the 504 on a global timeout. The connection manager removed these headers from
 * every request it does not trust (forwarding.ts), so what arrives here is an internal caller's.
 * They are consumed: none goes upstream.
 */
import type { RetryPolicy, RouteActionConfig } from '../../../config/bootstrap';
import type { HeaderMap } from '../../../http/header-map';
import { GRPC_RETRY_CONDITIONS } from '../../../http/grpc';

/** The retry_on conditions of HTTP outcomes the router implements (x-envoy-retry-on's tokens). */
export const HTTP_RETRY_CONDITIONS: readonly string[] = [
  '5xx',
  'gateway-error',
  'connect-failure',
  'reset',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
];

/** Envoy's route retry policy when only headers ask for retries: one retry, 25 ms base back-off. */
const HEADER_ONLY_RETRY_POLICY: RetryPolicy = {
  retryOn: [],
  retriesOnGrpcStatus: false,
  numRetries: 1,
  perTryTimeoutMs: 0,
  retriableStatusCodes: [],
  backOffBaseMs: 25,
  backOffMaxMs: 250,
};

export interface RouterDirectives {
  /** The global timeout (0: none). */
  timeoutMs: number;
  /** Per attempt (0: none). */
  perTryTimeoutMs: number;
  retryPolicy: RetryPolicy | null;
  /** `x-envoy-upstream-rq-timeout-alt-response`: a global timeout answers 204, not 504. */
  timeoutAltResponse: boolean;
}

/**
 * Every header `readDirectives` reads. The connection manager adds x-envoy-* fields of its own
 * (x-envoy-external-address on every edge request, x-envoy-internal), so "any x-envoy-* field"
 * would send most requests down the slow path.
 */
const DIRECTIVE_HEADERS: ReadonlySet<string> = new Set([
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-hedge-on-per-try-timeout',
]);

/** Whether the request carries a header the router reads (most do not: nothing else need be read then). */
export function hasDirective(headers: HeaderMap): boolean {
  const names = headers.names;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name.startsWith('x-envoy-') && DIRECTIVE_HEADERS.has(name)) return true;
  }
  return false;
}

/**
 * This request's timeouts and retry policy: the route's (`routeTimeoutMs` is its global timeout
 * after the gRPC rules) as the headers modify them. `respectExpectedTimeout`: the router's
 * `respect_expected_rq_timeout` (an egress proxy's x-envoy-expected-rq-timeout-ms is the timeout).
 */
export function readDirectives(
  headers: HeaderMap,
  action: RouteActionConfig,
  routeTimeoutMs: number,
  respectExpectedTimeout: boolean,
): RouterDirectives {
  let timeoutMs = routeTimeoutMs;
  const expected = respectExpectedTimeout ? headers.get('x-envoy-expected-rq-timeout-ms') : undefined;
  if (expected !== undefined) timeoutMs = decimal(expected) ?? timeoutMs;
  else {
    const requested = headers.get('x-envoy-upstream-rq-timeout-ms');
    if (requested !== undefined) timeoutMs = decimal(requested) ?? timeoutMs;
    headers.remove('x-envoy-upstream-rq-timeout-ms');
  }
  const route = action.retryPolicy;
  let perTryTimeoutMs = route?.perTryTimeoutMs ?? 0;
  const perTry = headers.get('x-envoy-upstream-rq-per-try-timeout-ms');
  if (perTry !== undefined) perTryTimeoutMs = decimal(perTry) ?? perTryTimeoutMs;
  // A per-try timeout that is not shorter than the whole is none (Envoy's finalTimeout).
  if (timeoutMs > 0 && perTryTimeoutMs >= timeoutMs) perTryTimeoutMs = 0;
  const timeoutAltResponse = headers.has('x-envoy-upstream-rq-timeout-alt-response');
  const retryPolicy = mergeRetryHeaders(headers, route);
  for (const name of CONSUMED) headers.remove(name);
  return { timeoutMs, perTryTimeoutMs, retryPolicy, timeoutAltResponse };
}

/** Removed once read, as Envoy's createRetryState consumes them (alt-response stays: Envoy keeps it). */
const CONSUMED = [
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-upstream-rq-per-try-timeout-ms',
];

/**
 * RetryStateImpl's merge: the header's conditions are added to the route's; x-envoy-max-retries
 * replaces num_retries when any condition is set; x-envoy-retriable-status-codes adds codes.
 * Unknown tokens are ignored, as Envoy ignores them (without strict_check_headers).
 */
function mergeRetryHeaders(headers: HeaderMap, route: RetryPolicy | null): RetryPolicy | null {
  const retryOn = headers.get('x-envoy-retry-on');
  const grpcOn = headers.get('x-envoy-retry-grpc-on');
  const maxRetries = headers.get('x-envoy-max-retries');
  const codes = headers.get('x-envoy-retriable-status-codes');
  if (retryOn === undefined && grpcOn === undefined && maxRetries === undefined && codes === undefined)
    return route;
  const base = route ?? HEADER_ONLY_RETRY_POLICY;
  const conditions = new Set(base.retryOn);
  for (const token of tokens(retryOn)) if (HTTP_RETRY_CONDITIONS.includes(token)) conditions.add(token);
  for (const token of tokens(grpcOn)) if (GRPC_RETRY_CONDITIONS[token] !== undefined) conditions.add(token);
  if (conditions.size === 0) return route;
  const on = [...conditions];
  const extraCodes: number[] = [];
  for (const token of tokens(codes)) {
    const code = decimal(token);
    if (code !== null) extraCodes.push(code);
  }
  return {
    ...base,
    retryOn: on,
    retriesOnGrpcStatus: on.some((c) => GRPC_RETRY_CONDITIONS[c] !== undefined),
    numRetries: (maxRetries === undefined ? null : decimal(maxRetries)) ?? base.numRetries,
    retriableStatusCodes:
      extraCodes.length === 0 ? base.retriableStatusCodes : [...base.retriableStatusCodes, ...extraCodes],
  };
}

function tokens(list: string | undefined): string[] {
  if (list === undefined) return [];
  return list
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** A non-negative decimal integer, as absl::SimpleAtoi reads these headers; null otherwise. */
function decimal(text: string): number | null {
  const trimmed = text.trim();
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : null;
}
