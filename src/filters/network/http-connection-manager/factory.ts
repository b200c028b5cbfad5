/** Registry entry of the HTTP connection manager (`envoy.filters.network.http_connection_manager`). */
import type { HttpConnectionManagerConfig, RouteConfiguration } from '../../../config/bootstrap';
import type { HttpFilterFactory } from '../../http/api';
import type { NetworkFilterFactory } from '../api';
import {
  HTTP_CONN_MANAGER_COUNTERS,
  HTTP_CONN_MANAGER_GAUGES,
  HTTP_CONN_MANAGER_HISTOGRAMS,
  HTTP2_CODEC_COUNTERS,
  HTTP2_CODEC_GAUGES,
  XDS_SUBSCRIPTION_COUNTERS,
  XDS_SUBSCRIPTION_GAUGES,
} from '../../../stats/names';
import { allPerFilterConfigs } from '../../../config/route/per-filter-config';
import { parseHttpConnectionManager } from './config';
import { HttpConnectionManager } from './connection-manager';

export const httpConnectionManagerFactory: NetworkFilterFactory<HttpConnectionManagerConfig> = {
  category: 'network_filter',
  name: 'envoy.filters.network.http_connection_manager',
  typeUrls: [
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  ],
  aliases: ['envoy.http_connection_manager'],
  isTerminal: true,
  parseConfig(reader, ctx) {
    // The loader passes an empty reader for a missing typed_config, so required fields are reported.
    if (!reader)
      throw new Error(
        'http_connection_manager: parseConfig needs a reader (stat_prefix and route_config are required)',
      );
    return parseHttpConnectionManager(reader, ctx);
  },
  declareStats(config, layout, registry) {
    layout.declareAll(`http.${config.statPrefix}.`, HTTP_CONN_MANAGER_COUNTERS, 'counter');
    layout.declareAll(`http.${config.statPrefix}.`, HTTP_CONN_MANAGER_GAUGES, 'gauge');
    layout.declareHistograms(`http.${config.statPrefix}.`, HTTP_CONN_MANAGER_HISTOGRAMS);
    layout.declareAll('http2.', HTTP2_CODEC_COUNTERS, 'counter');
    layout.declareAll('http2.', HTTP2_CODEC_GAUGES, 'gauge');
    if (config.rds) {
      // Its RDS subscription's (worker/dynamic-resources.ts), as Envoy names them.
      const rds = `http.${config.statPrefix}.rds.${config.rds.routeConfigName}.`;
      layout.declareAll(rds, XDS_SUBSCRIPTION_COUNTERS, 'counter');
      layout.declareAll(rds, XDS_SUBSCRIPTION_GAUGES, 'gauge');
    }
    const clusters = routeClusters(config.routeConfig);
    for (const f of config.httpFilters)
      (registry.get('http_filter', f.name) as HttpFilterFactory).declareStats?.(
        f.config,
        layout,
        clusters,
        `http.${config.statPrefix}.`,
      );
    for (const f of allPerFilterConfigs(config.routeConfig))
      (registry.get('http_filter', f.name) as HttpFilterFactory).declarePerRouteStats?.(f.config, layout);
  },
  createFilter(config, ctx) {
    return new HttpConnectionManager(config, ctx);
  },
};

/** The clusters `routeConfig`'s routes name (`cluster`, `weighted_clusters`; not `cluster_header`'s). */
function routeClusters(routeConfig: RouteConfiguration): string[] {
  const names = new Set<string>();
  for (const vh of routeConfig.virtualHosts) {
    for (const route of vh.routes) {
      const action = route.action;
      if (action.kind !== 'route') continue;
      if (action.cluster !== null) names.add(action.cluster);
      for (const w of action.weightedClusters ?? []) names.add(w.name);
    }
  }
  return [...names];
}
