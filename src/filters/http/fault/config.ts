/**
 * The fault injection filter's config (`extensions.filters.http.fault.v3.HTTPFault`), for the
 * filter and per route (typed_per_filter_config, the same type): a delay (fixed, or from the
 * x-envoy-fault-delay-request header), an abort (an HTTP status, a gRPC status, or from the
 * x-envoy-fault-abort-request headers), each with its percentage; the requests it applies to
 * (`headers`, `upstream_cluster`, `downstream_nodes`); `max_active_faults`.
 */
import type { HeaderMatcher } from '../../../config/bootstrap';
import type { ObjectReader } from '../../../config/config-reader';
import { parseHeaderMatcher } from '../../../config/route/route-match';
import { rejectUnsupported } from '../../../config/unsupported';

export interface FaultConfig {
  /** null: no delay; `fixedMs` null: the delay comes from the request header (header_delay). */
  delay: { fixedMs: number | null; fraction: number } | null;
  /** null: no abort; `httpStatus` / `grpcStatus` null with `fromHeader`: from the request headers. */
  abort: {
    httpStatus: number | null;
    grpcStatus: number | null;
    fromHeader: boolean;
    fraction: number;
  } | null;
  headers: HeaderMatcher[];
  upstreamCluster: string;
  downstreamNodes: string[];
  /** 0: no limit. */
  maxActiveFaults: number;
}

export function parseFault(r: ObjectReader): FaultConfig {
  rejectUnsupported(r, ['response_rate_limit', 'filter_metadata']);
  // Runtime overrides: Legate has no runtime layer, so only their names are read.
  for (const key of [
    'delay_percent_runtime',
    'abort_percent_runtime',
    'delay_duration_runtime',
    'abort_http_status_runtime',
    'max_active_faults_runtime',
    'response_rate_limit_percent_runtime',
    'abort_grpc_status_runtime',
  ])
    r.string(key, '');
  r.bool('disable_downstream_cluster_stats', false);
  return {
    delay: parseDelay(r.object('delay')),
    abort: parseAbort(r.object('abort')),
    headers: r.objectArray('headers').map(parseHeaderMatcher),
    upstreamCluster: r.string('upstream_cluster', ''),
    downstreamNodes: r.stringArray('downstream_nodes'),
    maxActiveFaults: r.has('max_active_faults') ? r.wrappedUint('max_active_faults', 0) : 0,
  };
}

function parseDelay(r: ObjectReader | null): FaultConfig['delay'] {
  if (r === null) return null;
  const which = r.oneOf(['fixed_delay', 'header_delay'], true);
  return {
    fixedMs: which === 'fixed_delay' ? r.durationMs('fixed_delay', 0) : null,
    fraction: r.fractionalPercent('percentage', 0),
  };
}

function parseAbort(r: ObjectReader | null): FaultConfig['abort'] {
  if (r === null) return null;
  const which = r.oneOf(['http_status', 'grpc_status', 'header_abort'], true);
  return {
    httpStatus: which === 'http_status' ? r.uint('http_status', 503, { min: 200, max: 599 }) : null,
    grpcStatus: which === 'grpc_status' ? r.uint('grpc_status', 14) : null,
    fromHeader: which === 'header_abort',
    fraction: r.fractionalPercent('percentage', 0),
  };
}
