/**
 * Worker side of the router factory: per HCM, one RouterShared (config + services + a cache of
 * bound cluster stats); per stream, one RouterFilter.
 */
import type { RouterFilterConfig } from '../../../config/bootstrap';
import type { FilterFactoryContext, StreamFilter } from '../api';
import type { WorkerServices } from '../../../worker/services';
import type { Cluster } from '../../../upstream/cluster';
import { ClusterStats } from '../../../stats/cluster-stats';
import { RouterFilter, type RouterShared } from './router';

export function createRouterFilterFactory(
  config: RouterFilterConfig,
  ctx: FilterFactoryContext,
): () => StreamFilter {
  const services = ctx.services as WorkerServices;
  const statsByCluster = new Map<Cluster, ClusterStats>();
  const shared: RouterShared = {
    config,
    services,
    clusterStats(cluster: Cluster): ClusterStats {
      let s = statsByCluster.get(cluster);
      if (s === undefined) {
        s = new ClusterStats(services.stats, cluster.name);
        statsByCluster.set(cluster, s);
      }
      return s;
    },
  };
  return () => new RouterFilter(shared);
}
