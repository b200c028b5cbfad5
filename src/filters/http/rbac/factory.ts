/** Registry entry of `envoy.filters.http.rbac` (per route: `RBACPerRoute`). */
import type { StatsLayout, StatsStore } from '../../../stats/store';
import type { HttpFilterFactory } from '../api';
import { parseRbac, parseRbacPerRoute, type RbacConfig } from './config';
import { RbacFilter, type RbacShared, type RbacStats } from './filter';

/** The stat names of a config's rules and shadow rules. */
function statNames(config: RbacConfig, hcmStatPrefix: string): Record<keyof RbacStats, string> {
  const p = `${hcmStatPrefix}rbac.`;
  return {
    allowed: `${p}${config.rulesStatPrefix}allowed`,
    denied: `${p}${config.rulesStatPrefix}denied`,
    shadowAllowed: `${p}${config.shadowRulesStatPrefix}shadow_allowed`,
    shadowDenied: `${p}${config.shadowRulesStatPrefix}shadow_denied`,
  };
}

function declare(config: RbacConfig, layout: StatsLayout, hcmStatPrefix: string): void {
  for (const name of Object.values(statNames(config, hcmStatPrefix))) layout.declare(name, 'counter');
}

export const rbacFactory: HttpFilterFactory<RbacConfig, RbacConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.rbac',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC'],
  perRouteTypeUrls: ['type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute'],
  parseConfig: (reader) => parseRbac(reader!),
  parsePerRouteConfig: (reader) => parseRbacPerRoute(reader),
  declareStats(config, layout, _clusters, hcmStatPrefix) {
    declare(config, layout, hcmStatPrefix);
  },
  createFilterFactory(config, ctx) {
    const store = (ctx.services as { stats: StatsStore }).stats;
    const names = statNames(config, ctx.hcmStatPrefix);
    const shared: RbacShared = {
      configName: ctx.configName,
      config,
      compiled: new WeakMap(),
      // A route's policies count under the filter's names (its own stat prefixes are not used).
      stats: {
        allowed: store.counter(names.allowed),
        denied: store.counter(names.denied),
        shadowAllowed: store.counter(names.shadowAllowed),
        shadowDenied: store.counter(names.shadowDenied),
      },
    };
    return () => new RbacFilter(shared);
  },
};
