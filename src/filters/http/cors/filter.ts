/**
 * The CORS filter (Envoy's `envoy.filters.http.cors`): for a request with an `Origin` whose route
 * has a CORS policy (its typed_per_filter_config entry for this filter, the most specific level
 * winning, else the deprecated `cors` of the route action or virtual host) and whose origin the
 * policy allows — a matcher that matches the origin, or matches `*` — it
 * - answers a preflight (OPTIONS with access-control-request-method) itself: 200 with
 *   access-control-allow-origin (the origin), -allow-credentials, -allow-methods, -allow-headers,
 *   -max-age;
 * - adds access-control-allow-origin, -allow-credentials and -expose-headers to the response of
 *   any other request.
 * A preflight from an origin the policy does not allow goes upstream, unless
 * `forward_not_matching_preflights: false` (then a bare 200). Counted in
 * `http.<stat_prefix>.cors.origin_valid` / `origin_invalid`.
 */
import type { RequestHead, ResponseHead } from '../../../http/codec';
import { HeaderMap } from '../../../http/header-map';
import type { MatchedRoute } from '../../../router/route-table';
import { CompiledStringMatcher } from '../../../router/string-matcher';
import type { Counter } from '../../../stats/store';
import { FilterHeadersStatus, PassThroughFilter } from '../api';
import type { CorsPolicyConfig } from './config';

export interface CorsStats {
  originValid: Counter;
  originInvalid: Counter;
}

/** A policy compiled once per worker (kept beside its config object). */
class CompiledCorsPolicy {
  private readonly origins: CompiledStringMatcher[];

  constructor(readonly config: CorsPolicyConfig) {
    this.origins = config.allowOrigins.map((m) => new CompiledStringMatcher(m));
  }

  allows(origin: string): boolean {
    for (const m of this.origins) if (m.match(origin) || m.match('*')) return true;
    return false;
  }
}

export class CorsFilter extends PassThroughFilter {
  /** The origin of a CORS request this filter answers for (its response gets the headers), or null. */
  private origin: string | null = null;
  private policy: CompiledCorsPolicy | null = null;

  constructor(
    private readonly configName: string,
    private readonly stats: CorsStats,
    private readonly compiled: WeakMap<CorsPolicyConfig, CompiledCorsPolicy>,
    private readonly random: () => number,
  ) {
    super();
  }

  override decodeHeaders(head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    const origin = head.headers.get('origin');
    if (origin === undefined || origin === '') return FilterHeadersStatus.Continue;
    const config = policyOf(this.callbacks.route(), this.configName);
    if (config === null) return FilterHeadersStatus.Continue;
    const enforced = config.enabledFraction >= 1 || this.random() < config.enabledFraction;
    const shadow = !enforced && config.shadowFraction > 0 && this.random() < config.shadowFraction;
    if (!enforced && !shadow) return FilterHeadersStatus.Continue;
    const policy = this.compile(config);
    const preflight =
      head.method === 'OPTIONS' && (head.headers.get('access-control-request-method') ?? '') !== '';
    if (!policy.allows(origin)) {
      this.stats.originInvalid.inc();
      if (!enforced || !preflight || config.forwardNotMatchingPreflights) return FilterHeadersStatus.Continue;
      this.callbacks.encodeHeaders({ status: 200, reason: '', headers: new HeaderMap() }, 0, true);
      return FilterHeadersStatus.StopIteration;
    }
    this.stats.originValid.inc();
    if (!enforced) return FilterHeadersStatus.Continue;
    if (!preflight) {
      this.origin = origin;
      this.policy = policy;
      return FilterHeadersStatus.Continue;
    }
    const headers = new HeaderMap();
    headers.add('access-control-allow-origin', origin);
    if (config.allowCredentials === true) headers.add('access-control-allow-credentials', 'true');
    if (config.allowMethods !== '') headers.add('access-control-allow-methods', config.allowMethods);
    if (config.allowHeaders !== '') headers.add('access-control-allow-headers', config.allowHeaders);
    if (config.maxAge !== '') headers.add('access-control-max-age', config.maxAge);
    this.callbacks.encodeHeaders({ status: 200, reason: '', headers }, 0, true);
    return FilterHeadersStatus.StopIteration;
  }

  override encodeHeaders(head: ResponseHead, _endStream: boolean): FilterHeadersStatus {
    const origin = this.origin;
    if (origin === null) return FilterHeadersStatus.Continue;
    const config = this.policy!.config;
    head.headers.set('access-control-allow-origin', origin);
    if (config.allowCredentials === true) head.headers.set('access-control-allow-credentials', 'true');
    if (config.exposeHeaders !== '') head.headers.set('access-control-expose-headers', config.exposeHeaders);
    return FilterHeadersStatus.Continue;
  }

  private compile(config: CorsPolicyConfig): CompiledCorsPolicy {
    let policy = this.compiled.get(config);
    if (policy === undefined) this.compiled.set(config, (policy = new CompiledCorsPolicy(config)));
    return policy;
  }
}

/** The route's policy for this filter: typed_per_filter_config, else the deprecated `cors` fields. */
function policyOf(route: MatchedRoute | null, configName: string): CorsPolicyConfig | null {
  if (route === null) return null;
  return (route.perFilterConfig(configName) as CorsPolicyConfig | undefined) ?? route.legacyCorsPolicy;
}
