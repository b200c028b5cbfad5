/** Registry entry of `envoy.filters.http.cors` (its filter config has no fields; policies are per route). */
import type { HttpFilterFactory } from '../api';
import { parseCorsPolicy, type CorsPolicyConfig } from './config';
import { CorsFilter, type CorsStats } from './filter';
import type { StatsStore } from '../../../stats/store';

const CORS_COUNTERS = ['origin_valid', 'origin_invalid'] as const;

export const corsFactory: HttpFilterFactory<Record<string, never>, CorsPolicyConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.cors',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors'],
  perRouteTypeUrls: ['type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy'],
  aliases: ['envoy.cors'],
  parseConfig: () => ({}),
  parsePerRouteConfig: (reader) => parseCorsPolicy(reader),
  declareStats(_config, layout, _clusters, hcmStatPrefix) {
    layout.declareAll(`${hcmStatPrefix}cors.`, CORS_COUNTERS, 'counter');
  },
  createFilterFactory(_config, ctx) {
    const store = ctx.services as { stats: StatsStore; random: () => number };
    const stats: CorsStats = {
      originValid: store.stats.counter(`${ctx.hcmStatPrefix}cors.origin_valid`),
      originInvalid: store.stats.counter(`${ctx.hcmStatPrefix}cors.origin_invalid`),
    };
    // Compiled once per worker per policy (the route table's config objects live as long as it does).
    const compiled = new WeakMap();
    return () => new CorsFilter(ctx.configName, stats, compiled, store.random);
  },
};
