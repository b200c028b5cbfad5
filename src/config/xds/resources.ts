/**
 * The xDS resource types Legate reads from files, as `ResourceParser`s for discovery-response.ts:
 * CDS clusters and LDS listeners, parsed by the bootstrap's own parsers (so an xDS file takes every
 * field the bootstrap takes, with the same messages) and checked against what is already in place:
 * a resource may not take the name (or, for a listener, the address) of a static one, and a
 * listener's routes may name only clusters that exist (Envoy's `validate_clusters`, on for route
 * configurations inside a listener).
 */
import type {
  Bootstrap,
  ClusterConfig,
  EndpointConfig,
  ExtensionConfig,
  ListenerConfig,
  RouteConfiguration,
} from '../bootstrap';
import type { BuildProblem } from '../build-error';
import type { Registry } from '../../registry/registry';
import { parseAssignmentPolicy, parseCluster, parseEndpoints } from '../cluster';
import { isClusterTypeFactory } from '../../upstream/discovery/api';
import { parseListener } from '../listener';
import { checkDistinctAddresses, checkUnique, parseContext } from '../parse-bootstrap';
import {
  CLUSTER_TYPE_URL,
  ENDPOINT_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_TYPE_URL,
  type ResourceParser,
} from './discovery-response';
import { parseRouteConfiguration } from '../route/route-configuration';

/** Builds what a worker would build from `bootstrap` and says what failed (worker/data-plane.ts checkDataPlane). */
export type ConfigCheck = (bootstrap: Bootstrap) => readonly BuildProblem[];

/** CDS: clusters named apart from each other and from the static ones. */
export function clusterResources(
  registry: Registry,
  statics: readonly ClusterConfig[],
  check: ConfigCheck | undefined,
): ResourceParser<ClusterConfig> {
  return {
    typeUrl: CLUSTER_TYPE_URL,
    parse(readers) {
      const ctx = parseContext(registry, new Set());
      const clusters = readers.map((r) => parseCluster(r, ctx));
      checkUnique(readers, clusters, 'cluster', statics);
      return clusters;
    },
    check: check && ((clusters) => check(bootstrapOf([], clusters))),
  };
}

/** LDS: listeners apart from each other and from the static ones, routing to `clusters` (all of them). */
export function listenerResources(
  registry: Registry,
  statics: readonly ListenerConfig[],
  clusters: readonly ClusterConfig[],
  check: ConfigCheck | undefined,
): ResourceParser<ListenerConfig> {
  return {
    typeUrl: LISTENER_TYPE_URL,
    parse(readers) {
      const ctx = parseContext(registry, new Set(clusters.map((c) => c.name)));
      const listeners = readers.map((r) => parseListener(r, ctx));
      checkUnique(readers, listeners, 'listener', statics);
      checkDistinctAddresses(readers, listeners, statics);
      return listeners;
    },
    check: check && ((listeners) => check(bootstrapOf(listeners, [...clusters]))),
  };
}

/**
 * RDS: route configurations, parsed for a connection manager with `httpFilters` (what their
 * typed_per_filter_config may configure). Their clusters are checked only when a configuration asks
 * (`validate_clusters`, false by default for RDS, as in Envoy): a route to a cluster CDS has not
 * delivered yet is a 503 (NC) until it has.
 */
export function routeResources(
  registry: Registry,
  httpFilters: readonly ExtensionConfig[],
  clusters: readonly ClusterConfig[],
): ResourceParser<RouteConfiguration> {
  return {
    typeUrl: ROUTE_TYPE_URL,
    parse(readers) {
      const ctx = parseContext(registry, new Set(clusters.map((c) => c.name)));
      const seen = new Map<string, string>();
      return readers.map((r) => {
        const config = parseRouteConfiguration(r, ctx, httpFilters, [], false);
        const first = seen.get(config.name);
        if (first !== undefined)
          r.error('name', `a second route configuration '${config.name}' (also ${first})`);
        seen.set(config.name, r.path);
        return config;
      });
    },
  };
}

/** An EDS resource: the endpoints of the cluster (or EDS `service_name`) `name`, with their policy. */
export interface LoadAssignment extends Pick<
  ClusterConfig,
  'overprovisioningFactor' | 'weightedPriorityHealth'
> {
  /** `cluster_name`. */
  name: string;
  at: string;
  endpoints: EndpointConfig[];
}

/** EDS: ClusterLoadAssignments, one per `cluster_name`, their endpoints IP addresses as STATIC's. */
export function endpointResources(registry: Registry): ResourceParser<LoadAssignment> {
  const eds = registry.byEnumName('cluster_type', 'EDS');
  const type = eds !== undefined && isClusterTypeFactory(eds) ? eds : null;
  return {
    typeUrl: ENDPOINT_TYPE_URL,
    parse(readers) {
      const seen = new Map<string, string>();
      return readers.map((r) => {
        const name = r.requiredString('cluster_name');
        const first = seen.get(name);
        if (first !== undefined) r.error('cluster_name', `a second assignment for '${name}' (also ${first})`);
        seen.set(name, r.path);
        return {
          name,
          at: r.path,
          endpoints: parseEndpoints(r, type),
          ...parseAssignmentPolicy(r.object('policy')),
        };
      });
    },
  };
}

function bootstrapOf(listeners: ListenerConfig[], clusters: ClusterConfig[]): Bootstrap {
  return { admin: null, listeners, clusters, sourcePath: '' };
}
