/** Registry entry of the router (`envoy.filters.http.router`), the terminal HTTP filter. */
import type { RouterFilterConfig } from '../../../config/bootstrap';
import type { ObjectReader } from '../../../config/config-reader';
import { rejectUnsupported } from '../../../config/unsupported';
import type { HttpFilterFactory } from '../api';
import { createRouterFilterFactory } from './filter';

const UNSUPPORTED_ROUTER_FIELDS = [
  'dynamic_stats',
  'start_child_span',
  'upstream_log',
  'upstream_log_options',
  'strict_check_headers',
  'suppress_grpc_request_failure_code_stats',
  'upstream_http_filters',
] as const;

function parseRouterConfig(r: ObjectReader | null): RouterFilterConfig {
  if (r) rejectUnsupported(r, UNSUPPORTED_ROUTER_FIELDS);
  return {
    suppressEnvoyHeaders: r?.bool('suppress_envoy_headers', false) ?? false,
    respectExpectedRqTimeout: r?.bool('respect_expected_rq_timeout', false) ?? false,
  };
}

export const routerFactory: HttpFilterFactory<RouterFilterConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.router',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.router.v3.Router'],
  aliases: ['envoy.router'],
  isTerminal: true,
  parseConfig: parseRouterConfig,
  createFilterFactory: createRouterFilterFactory,
};
