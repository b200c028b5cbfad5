/** Parses `envoy.extensions.filters.http.grpc_stats.v3.FilterConfig`. */
import type { ObjectReader } from '../../../config/config-reader';

export interface GrpcStatsConfig {
  /**
   * `individual_method_stats_allowlist`: the `service/method` pairs counted under their own names;
   * every other call is counted under `cluster.<c>.grpc.` alone (as with `stats_for_all_methods: false`).
   */
  allowlist: string[];
  /** `enable_upstream_stats`: `upstream_rq_time` per method. */
  upstreamStats: boolean;
  /** `replace_dots_in_grpc_service_name`: `.` in the service becomes `_` in stat names. */
  replaceDots: boolean;
}

export function parseGrpcStats(r: ObjectReader | null): GrpcStatsConfig {
  const config: GrpcStatsConfig = { allowlist: [], upstreamStats: false, replaceDots: false };
  if (r === null) return config;
  if (r.bool('emit_filter_state', false))
    r.unsupported('emit_filter_state', 'Legate has no filter state for access logs or other filters to read');
  // Envoy's default since 1.18 when neither is set: no per-method names (safe with untrusted clients).
  if (
    r.oneOf(['individual_method_stats_allowlist', 'stats_for_all_methods'], false) === 'stats_for_all_methods'
  ) {
    if (r.bool('stats_for_all_methods', false))
      r.unsupported(
        'stats_for_all_methods',
        'stats are laid out when the config is loaded, and these names come from requests; ' +
          'list the methods in individual_method_stats_allowlist',
      );
  }
  const allowlist = r.object('individual_method_stats_allowlist');
  for (const service of allowlist?.objectArray('services') ?? []) {
    const name = service.requiredString('name');
    for (const method of service.stringArray('method_names')) config.allowlist.push(`${name}/${method}`);
  }
  config.upstreamStats = r.bool('enable_upstream_stats', false);
  config.replaceDots = r.bool('replace_dots_in_grpc_service_name', false);
  return config;
}
