/**
 * A cluster's `circuit_breakers` (Envoy's `config.cluster.v3.CircuitBreakers`): one thresholds
 * entry per routing priority, each field defaulting as in Envoy. A priority given twice is an
 * error (Envoy would silently use the first).
 */
import {
  ROUTING_PRIORITIES,
  type CircuitBreakerThresholds,
  type RetryBudget,
  type RoutingPriority,
} from './bootstrap';
import type { ObjectReader } from './config-reader';
import { rejectUnsupported } from './unsupported';

/** Envoy's default for max_connection_pools: unlimited (the largest uint32). */
export const UNLIMITED = 0xffff_ffff;

export function defaultThresholds(): CircuitBreakerThresholds {
  return {
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries: 3,
    maxConnectionPools: UNLIMITED,
    retryBudget: null,
    trackRemaining: false,
  };
}

/** Reads `circuit_breakers` (null when absent) into [DEFAULT, HIGH] thresholds. */
export function parseCircuitBreakers(
  r: ObjectReader | null,
): [CircuitBreakerThresholds, CircuitBreakerThresholds] {
  const byPriority: [CircuitBreakerThresholds, CircuitBreakerThresholds] = [
    defaultThresholds(),
    defaultThresholds(),
  ];
  if (r === null) return byPriority;
  rejectUnsupported(r, ['per_host_thresholds']);
  const seen = new Set<RoutingPriority>();
  for (const t of r.objectArray('thresholds')) {
    const priority = t.enumValue('priority', ROUTING_PRIORITIES, 'DEFAULT');
    // An invalid priority was reported already (and read as DEFAULT): do not also call it a repeat.
    const raw = t.raw('priority');
    const valid = raw === undefined || raw === priority || raw === ROUTING_PRIORITIES.indexOf(priority);
    if (valid && seen.has(priority))
      t.error('priority', `thresholds for priority ${priority} are already given`);
    seen.add(priority);
    byPriority[ROUTING_PRIORITIES.indexOf(priority)] = parseThresholds(t);
  }
  return byPriority;
}

function parseThresholds(t: ObjectReader): CircuitBreakerThresholds {
  const d = defaultThresholds();
  return {
    maxConnections: t.wrappedUint('max_connections', d.maxConnections, { max: UNLIMITED }),
    maxPendingRequests: t.wrappedUint('max_pending_requests', d.maxPendingRequests, { max: UNLIMITED }),
    maxRequests: t.wrappedUint('max_requests', d.maxRequests, { max: UNLIMITED }),
    maxRetries: t.wrappedUint('max_retries', d.maxRetries, { max: UNLIMITED }),
    maxConnectionPools: t.wrappedUint('max_connection_pools', d.maxConnectionPools, { max: UNLIMITED }),
    retryBudget: parseRetryBudget(t.object('retry_budget')),
    trackRemaining: t.bool('track_remaining', d.trackRemaining),
  };
}

function parseRetryBudget(r: ObjectReader | null): RetryBudget | null {
  if (r === null) return null;
  return {
    budgetPercent: readPercent(r, 'budget_percent', 20),
    minRetryConcurrency: r.wrappedUint('min_retry_concurrency', 3, { max: UNLIMITED }),
  };
}

/** `type.v3.Percent`: `{ value: <double in [0, 100]> }`. */
function readPercent(r: ObjectReader, field: string, dflt: number): number {
  const percent = r.object(field);
  if (percent === null) return dflt;
  const value = percent.raw('value');
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !(value >= 0 && value <= 100)) {
    percent.error('value', `expected a number from 0 to 100, found ${JSON.stringify(value)}`);
    return dflt;
  }
  return value;
}
