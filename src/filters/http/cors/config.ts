/**
 * Envoy's CORS policy (`extensions.filters.http.cors.v3.CorsPolicy` in typed_per_filter_config, and
 * the deprecated `cors` field of a virtual host or route action, which has the same fields), parsed
 * on the primary into plain data.
 */
import type { StringMatcher } from '../../../config/bootstrap';
import type { ObjectReader } from '../../../config/config-reader';
import { runtimeFractionalPercent } from '../../../config/runtime';
import { parseStringMatcher } from '../../../config/route/string-matcher';
import { rejectUnsupported } from '../../../config/unsupported';

export interface CorsPolicyConfig {
  allowOrigins: StringMatcher[];
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  maxAge: string;
  /** null: unset (no access-control-allow-credentials). */
  allowCredentials: boolean | null;
  /** `filter_enabled` (default 100 %): the share of requests the policy is enforced for. */
  enabledFraction: number;
  /** `shadow_enabled` (default 0 %): evaluated and counted only. */
  shadowFraction: number;
  /** `forward_not_matching_preflights` (default true): a preflight from an origin not allowed goes upstream. */
  forwardNotMatchingPreflights: boolean;
}

export function parseCorsPolicy(r: ObjectReader): CorsPolicyConfig {
  rejectUnsupported(r, ['allow_private_network_access', 'allow_origin', 'allow_origin_regex']);
  const credentials = r.has('allow_credentials') ? r.bool('allow_credentials', false) : null;
  return {
    allowOrigins: r.objectArray('allow_origin_string_match').map(parseStringMatcher),
    allowMethods: r.string('allow_methods', ''),
    allowHeaders: r.string('allow_headers', ''),
    exposeHeaders: r.string('expose_headers', ''),
    maxAge: r.string('max_age', ''),
    allowCredentials: credentials,
    enabledFraction: runtimeFractionalPercent(r, 'filter_enabled', 1),
    shadowFraction: runtimeFractionalPercent(r, 'shadow_enabled', 0),
    forwardNotMatchingPreflights: r.has('forward_not_matching_preflights')
      ? r.bool('forward_not_matching_preflights', true)
      : true,
  };
}

/** The deprecated `cors` of a virtual host or route action (config.route.v3.CorsPolicy, the same fields). */
export function parseLegacyCors(r: ObjectReader): CorsPolicyConfig | null {
  const cors = r.object('cors');
  if (cors === null) return null;
  r.deprecated('cors', 'use typed_per_filter_config with envoy.extensions.filters.http.cors.v3.CorsPolicy');
  return parseCorsPolicy(cors);
}
