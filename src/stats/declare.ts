/**
 * Declares, on the primary, every stat the configured components will use, so the shared stats
 * table can be laid out before the workers start.
 */
import type { Bootstrap } from '../config/bootstrap';
import type { Registry } from '../registry/registry';
import type { NetworkFilterFactory } from '../filters/network/api';
import type { ListenerFilterFactory } from '../filters/listener/api';
import type { DownstreamTransportSocketFactory, UpstreamTransportSocketFactory } from '../transport/api';
import type { StatsLayout } from './store';
import {
  CLUSTER_COUNTERS,
  CLUSTER_GAUGES,
  CLUSTER_HISTOGRAMS,
  CLUSTER_STATUS_CODE_COUNTERS,
  HEALTH_CHECK_COUNTERS,
  HEALTH_CHECK_GAUGES,
  LISTENER_COUNTERS,
  LISTENER_GAUGES,
  SERVER_COUNTERS,
  SERVER_GAUGES,
  CLUSTER_MANAGER_COUNTERS,
  CLUSTER_MANAGER_GAUGES,
  LISTENER_MANAGER_COUNTERS,
  LISTENER_MANAGER_GAUGES,
  XDS_SUBSCRIPTION_COUNTERS,
  XDS_SUBSCRIPTION_GAUGES,
  listenerStatPrefix,
} from './names';

export function declareBootstrapStats(
  layout: StatsLayout,
  bootstrap: Bootstrap,
  registry: Registry,
  workers: number,
): void {
  layout.declareAll('server.', SERVER_GAUGES, 'gauge');
  layout.declareAll('server.', SERVER_COUNTERS, 'counter');
  layout.declareAll('cluster_manager.', CLUSTER_MANAGER_COUNTERS, 'counter');
  layout.declareAll('cluster_manager.', CLUSTER_MANAGER_GAUGES, 'gauge');
  layout.declareAll('listener_manager.', LISTENER_MANAGER_COUNTERS, 'counter');
  layout.declareAll('listener_manager.', LISTENER_MANAGER_GAUGES, 'gauge');
  const dynamic = bootstrap.dynamicResources;
  for (const prefix of [
    dynamic?.cds ? 'cluster_manager.cds.' : null,
    dynamic?.lds ? 'listener_manager.lds.' : null,
  ]) {
    if (prefix === null) continue;
    layout.declareAll(prefix, XDS_SUBSCRIPTION_COUNTERS, 'counter');
    layout.declareAll(prefix, XDS_SUBSCRIPTION_GAUGES, 'gauge');
  }
  for (const l of bootstrap.listeners) {
    const prefix = listenerStatPrefix(l.address.address, l.address.port);
    layout.declareAll(prefix, LISTENER_COUNTERS, 'counter');
    layout.declareAll(prefix, LISTENER_GAUGES, 'gauge');
    for (let w = 0; w < workers; w++) layout.declare(`${prefix}worker_${w}.downstream_cx_active`, 'gauge');
    for (const f of l.listenerFilters) {
      const factory = registry.get('listener_filter', f.name) as ListenerFilterFactory;
      factory.declareStats?.(f.config, layout, registry);
    }
    for (const chain of l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains) {
      const socket = chain.transportSocket;
      if (socket !== null) {
        const factory = registry.get(
          'downstream_transport_socket',
          socket.name,
        ) as DownstreamTransportSocketFactory;
        factory.declareStats?.(socket.config, layout, prefix);
      }
      for (const f of chain.filters) {
        const factory = registry.get('network_filter', f.name) as NetworkFilterFactory;
        factory.declareStats?.(f.config, layout, registry);
      }
    }
  }
  for (const c of bootstrap.clusters) {
    layout.declareAll(`cluster.${c.name}.`, CLUSTER_COUNTERS, 'counter');
    layout.declareAll(`cluster.${c.name}.`, CLUSTER_GAUGES, 'gauge');
    layout.declareAll(`cluster.${c.name}.`, CLUSTER_STATUS_CODE_COUNTERS, 'counter', true);
    layout.declareHistograms(`cluster.${c.name}.`, CLUSTER_HISTOGRAMS);
    const socket = c.transportSocket;
    if (socket) {
      const factory = registry.get(
        'upstream_transport_socket',
        socket.name,
      ) as UpstreamTransportSocketFactory;
      factory.declareStats?.(socket.config, layout, `cluster.${c.name}.`);
    }
    // An EDS cluster's subscription to its ClusterLoadAssignment (Envoy's cluster.<name>.update_* stats).
    if (c.eds) {
      layout.declareAll(`cluster.${c.name}.`, XDS_SUBSCRIPTION_COUNTERS, 'counter');
      layout.declareAll(`cluster.${c.name}.`, XDS_SUBSCRIPTION_GAUGES, 'gauge');
    }
    if ((c.healthChecks?.length ?? 0) > 0) {
      layout.declareAll(`cluster.${c.name}.health_check.`, HEALTH_CHECK_COUNTERS, 'counter');
      layout.declareAll(`cluster.${c.name}.health_check.`, HEALTH_CHECK_GAUGES, 'gauge');
    }
  }
}
