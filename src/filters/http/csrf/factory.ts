/** Registry entry of `envoy.filters.http.csrf` (the same policy type per route). */
import type { StatsStore } from '../../../stats/store';
import type { HttpFilterFactory } from '../api';
import { parseCsrfPolicy, type CsrfPolicy } from './config';
import { CsrfFilter, type CsrfShared } from './filter';

export const csrfFactory: HttpFilterFactory<CsrfPolicy, CsrfPolicy> = {
  category: 'http_filter',
  name: 'envoy.filters.http.csrf',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy'],
  aliases: ['envoy.csrf'],
  parseConfig: (reader) => parseCsrfPolicy(reader!),
  parsePerRouteConfig: (reader) => parseCsrfPolicy(reader),
  declareStats(_config, layout, _clusters, hcmStatPrefix) {
    layout.declareAll(
      `${hcmStatPrefix}csrf.`,
      ['missing_source_origin', 'request_invalid', 'request_valid'],
      'counter',
    );
  },
  createFilterFactory(policy, ctx) {
    const { stats, random } = ctx.services as { stats: StatsStore; random: () => number };
    const p = `${ctx.hcmStatPrefix}csrf.`;
    const shared: CsrfShared = {
      configName: ctx.configName,
      policy,
      random,
      matchers: new WeakMap(),
      stats: {
        missingSourceOrigin: stats.counter(`${p}missing_source_origin`),
        requestInvalid: stats.counter(`${p}request_invalid`),
        requestValid: stats.counter(`${p}request_valid`),
      },
    };
    return () => new CsrfFilter(shared);
  },
};
