/**
 * How each system is told to cope with a dead endpoint in a failover scenario (`"failover"` in the
 * scenario), as config fragments for the templates in `bench/conf/`. The three are configured as
 * equivalently as their feature sets allow (README: "failover-kill-endpoint"):
 *
 * - Legate: active HTTP health check every 1 s (timeout 0.5 s, unhealthy/healthy threshold 2) plus
 *   outlier detection (5 consecutive 5xx or gateway failures eject for 10 s, sweep every 1 s);
 * - HAProxy: the same active check (`check inter 1s fall 2 rise 2`, `timeout check 500ms`) plus
 *   passive `observe layer4 error-limit 5 on-error mark-down`;
 * - nginx (open source has no active checks): passive `max_fails=1 fail_timeout=10s`.
 *
 * Retries are a separate switch, because nginx retries connection errors on the next server by
 * default (`proxy_next_upstream error timeout`) and the others do not: `retries: false` turns them
 * off everywhere (`proxy_next_upstream off`, `retries 0`, no retry_policy); `retries: true` allows
 * up to 2 retries on another endpoint after a connection failure or a reset before the response
 * (nginx `error timeout` with 3 tries, HAProxy `retries 2` + `option redispatch 1` + `retry-on
 * conn-failure empty-response`, Legate `retry_on: connect-failure,reset`, `num_retries: 2`, and the
 * cluster's retry circuit breaker raised from Envoy's default of 3 concurrent retries to 1,000,
 * which nginx and HAProxy do not have. With the default, retries that overflow it become 503s:
 * 2 client errors per run now that the n-th consecutive failure ejects the host at once (2 runs);
 * 599 when ejection still waited for the interval sweep.)
 */
import { ORIGIN_HEALTH_PATH } from '../../src/bench/origin';

export interface FailoverSpec {
  retries: boolean;
}

/** Template variables; every one is empty (the plain configs) when the scenario has no failover. */
export type FailoverVars = Record<
  | 'NGINX_SERVER_PARAMS'
  | 'NGINX_LOCATION_EXTRA'
  | 'HAPROXY_SERVER_PARAMS'
  | 'HAPROXY_BACKEND_EXTRA'
  | 'LEGATE_CLUSTER_EXTRA'
  | 'LEGATE_ROUTE_EXTRA',
  string
>;

const NONE: FailoverVars = {
  NGINX_SERVER_PARAMS: '',
  NGINX_LOCATION_EXTRA: '',
  HAPROXY_SERVER_PARAMS: '',
  HAPROXY_BACKEND_EXTRA: '',
  LEGATE_CLUSTER_EXTRA: '',
  LEGATE_ROUTE_EXTRA: '',
};

const LEGATE_HEALTH = `
    health_checks:
    - timeout: 0.5s
      interval: 1s
      unhealthy_threshold: 2
      healthy_threshold: 2
      no_traffic_interval: 1s
      http_health_check: { path: ${ORIGIN_HEALTH_PATH} }
    outlier_detection:
      consecutive_5xx: 5
      consecutive_gateway_failure: 5
      enforcing_consecutive_gateway_failure: 100
      interval: 1s
      base_ejection_time: 10s
      max_ejection_percent: 50`;

const LEGATE_RETRY_BUDGET = `
    circuit_breakers:
      thresholds:
      - max_retries: 1000`;

export function failoverVars(spec: FailoverSpec | null): FailoverVars {
  if (spec === null) return NONE;
  return {
    NGINX_SERVER_PARAMS: ' max_fails=1 fail_timeout=10s',
    NGINX_LOCATION_EXTRA: spec.retries
      ? 'proxy_next_upstream error timeout; proxy_next_upstream_tries 3;'
      : 'proxy_next_upstream off;',
    HAPROXY_SERVER_PARAMS: ' check inter 1s fall 2 rise 2 observe layer4 error-limit 5 on-error mark-down',
    HAPROXY_BACKEND_EXTRA: [
      `option httpchk GET ${ORIGIN_HEALTH_PATH}`,
      'timeout check 500ms',
      ...(spec.retries
        ? ['retries 2', 'option redispatch 1', 'retry-on conn-failure empty-response']
        : ['retries 0']),
    ].join('\n    '),
    LEGATE_CLUSTER_EXTRA: spec.retries ? LEGATE_HEALTH + LEGATE_RETRY_BUDGET : LEGATE_HEALTH,
    LEGATE_ROUTE_EXTRA: spec.retries
      ? ', retry_policy: { retry_on: "connect-failure,reset", num_retries: 2 }'
      : '',
  };
}
