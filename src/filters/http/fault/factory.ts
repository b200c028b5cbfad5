/** Registry entry of `envoy.filters.http.fault` (the same config per route). */
import type { StatsStore } from '../../../stats/store';
import type { HttpFilterFactory } from '../api';
import { parseFault, type FaultConfig } from './config';
import { FaultFilter, type FaultShared } from './filter';

export const faultFactory: HttpFilterFactory<FaultConfig, FaultConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.fault',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault'],
  aliases: ['envoy.fault'],
  parseConfig: (reader) => parseFault(reader!),
  parsePerRouteConfig: (reader) => parseFault(reader),
  declareStats(_config, layout, _clusters, hcmStatPrefix) {
    const p = `${hcmStatPrefix}fault.`;
    layout.declareAll(p, ['delays_injected', 'aborts_injected', 'faults_overflow'], 'counter');
    layout.declare(`${p}active_faults`, 'gauge');
  },
  createFilterFactory(config, ctx) {
    const { stats, random } = ctx.services as { stats: StatsStore; random: () => number };
    const p = `${ctx.hcmStatPrefix}fault.`;
    const shared: FaultShared = {
      configName: ctx.configName,
      config,
      random,
      active: 0,
      matchers: new WeakMap(),
      stats: {
        delaysInjected: stats.counter(`${p}delays_injected`),
        abortsInjected: stats.counter(`${p}aborts_injected`),
        faultsOverflow: stats.counter(`${p}faults_overflow`),
        activeFaults: stats.gauge(`${p}active_faults`),
      },
    };
    return () => new FaultFilter(shared);
  },
};
