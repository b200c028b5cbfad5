/**
 * Envoy's inline `RouteConfiguration`: virtual hosts (by domain), their routes, and header
 * mutations at every level. Domain precedence and port handling are the route table's job at run
 * time; here domains are checked for shape and uniqueness, as Envoy does at load.
 */
import { parseLegacyCors } from '../../filters/http/cors/config';
import type {
  ExtensionConfig,
  RouteAction,
  RouteConfig,
  RouteConfiguration,
  VirtualHostConfig,
} from '../bootstrap';
import type { ObjectReader } from '../config-reader';
import type { ParseContext } from '../../registry/registry';
import { rejectUnsupported } from '../unsupported';
import { parseHeaderMutations } from './header-mutations';
import { allPerFilterConfigs, parsePerFilterConfigs, type PerFilterScope } from './per-filter-config';
import { checkRateLimitStages, parseRateLimits, type RateLimitUse } from './rate-limits';
import {
  parseDirectResponse,
  parseRedirect,
  parseRetryPolicy,
  parseRouteAction,
  type RouteActionScope,
} from './route-action';
import { parseRouteMatch } from './route-match';

const DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES = 4096;

const UNSUPPORTED_ROUTE_CONFIGURATION_FIELDS = [
  'vhds',
  'most_specific_header_mutations_wins',
  'cluster_specifier_plugins',
  'request_mirror_policies',
  'ignore_port_in_host_matching',
  'ignore_path_parameters_in_path_matching',
  'metadata',
] as const;
const UNSUPPORTED_VIRTUAL_HOST_FIELDS = [
  'virtual_clusters',
  'hedge_policy',
  'retry_policy_typed_config',
  'request_mirror_policies',
  'per_request_buffer_limit_bytes',
  'matcher',
  'metadata',
] as const;
const UNSUPPORTED_ROUTE_FIELDS = [
  'filter_action',
  'non_forwarding_action',
  'metadata',
  'decorator',
  'tracing',
  'per_request_buffer_limit_bytes',
  'stat_prefix',
] as const;
/** Route action parsing plus what `typed_per_filter_config` may name. */
type RouteScope = RouteActionScope & PerFilterScope;

const ACTIONS = ['route', 'redirect', 'direct_response', 'filter_action', 'non_forwarding_action'] as const;

/**
 * `httpFilters`: the connection manager's filters, which `typed_per_filter_config` may configure;
 * `unresolvedFilters`: the names of those that failed to load (reported) or were skipped (optional).
 */
export function parseRouteConfiguration(
  r: ObjectReader,
  ctx: ParseContext,
  httpFilters: readonly ExtensionConfig[],
  unresolvedFilters: readonly string[] = [],
  /** `validate_clusters`' default: true inline, false for RDS (route_components.proto). */
  validateClustersByDefault = true,
): RouteConfiguration {
  rejectUnsupported(r, UNSUPPORTED_ROUTE_CONFIGURATION_FIELDS);
  const maxDirectResponseBodyBytes = r.wrappedUint(
    'max_direct_response_body_size_bytes',
    DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES,
  );
  const validateClusters = r.bool('validate_clusters', validateClustersByDefault);
  const readers = r.objectArray('virtual_hosts');
  const rateLimitUses: RateLimitUse[] = [];
  const scope: RouteScope = {
    ctx,
    httpFilters,
    unresolvedFilters,
    validateClusters,
    maxDirectResponseBodyBytes,
    defaultRetryPolicy: null,
    rateLimitUses,
  };
  const virtualHosts = readers.map((vh) => parseVirtualHost(vh, scope));
  checkUniqueAcrossVirtualHosts(readers, virtualHosts);
  const rc: RouteConfiguration = {
    at: r.path,
    name: r.string('name'),
    virtualHosts,
    internalOnlyHeaders: r.stringArray('internal_only_headers').map((h) => h.toLowerCase()),
    ...parseHeaderMutations(r),
    perFilterConfigs: parsePerFilterConfigs(r, scope),
  };
  checkRateLimitStages(rateLimitUses, [...httpFilters, ...allPerFilterConfigs(rc)], ctx);
  return rc;
}

/** Stands in for a route_config that is missing (already reported): routes nothing. */
export function emptyRouteConfiguration(at: string, name = ''): RouteConfiguration {
  return {
    at,
    name,
    virtualHosts: [],
    internalOnlyHeaders: [],
    requestHeadersToAdd: [],
    requestHeadersToRemove: [],
    responseHeadersToAdd: [],
    responseHeadersToRemove: [],
  };
}

function parseVirtualHost(r: ObjectReader, scope: RouteScope): VirtualHostConfig {
  rejectUnsupported(r, UNSUPPORTED_VIRTUAL_HOST_FIELDS);
  const name = r.requiredString('name');
  const domains = r.stringArray('domains').map((d) => d.toLowerCase());
  const written = r.raw('domains');
  if (written === undefined || (Array.isArray(written) && written.length === 0)) {
    r.error('domains', 'a virtual host needs at least one domain (use "*" for any)');
  }
  for (const domain of domains) checkDomain(r, domain);
  const retry = r.object('retry_policy');
  const routeScope = { ...scope, defaultRetryPolicy: retry ? parseRetryPolicy(retry) : null };
  return {
    at: r.path,
    name,
    domains,
    routes: r.objectArray('routes').map((route) => parseRoute(route, routeScope)),
    ...parseHeaderMutations(r),
    perFilterConfigs: parsePerFilterConfigs(r, scope),
    rateLimits: parseRateLimits(r, scope.rateLimitUses),
    requireTls: r.enumValue('require_tls', ['NONE', 'EXTERNAL_ONLY', 'ALL'] as const, 'NONE'),
    includeRequestAttemptCount: r.bool('include_request_attempt_count', false),
    includeAttemptCountInResponse: r.bool('include_attempt_count_in_response', false),
    cors: parseLegacyCors(r),
  };
}

/** Envoy allows one wildcard, either a whole '*' or at the start ("*.example.com") or end ("www.*"). */
function checkDomain(r: ObjectReader, domain: string): void {
  const stars = domain.split('*').length - 1;
  if (domain === '') r.error('domains', 'domains must not be empty');
  else if (stars > 1 || (stars === 1 && domain !== '*' && !domain.startsWith('*') && !domain.endsWith('*'))) {
    r.error('domains', `'${domain}': a domain may have one wildcard, at its start or end`);
  }
}

/** Envoy rejects two virtual hosts with the same name or the same domain. */
function checkUniqueAcrossVirtualHosts(readers: ObjectReader[], virtualHosts: VirtualHostConfig[]): void {
  const names = new Map<string, string>();
  const domains = new Map<string, string>();
  virtualHosts.forEach((vh, i) => {
    const r = readers[i]!;
    const sameName = names.get(vh.name);
    if (sameName !== undefined && vh.name !== '')
      r.error('name', `duplicate virtual host name '${vh.name}' (also ${sameName})`);
    names.set(vh.name, vh.at);
    for (const domain of vh.domains) {
      const owner = domains.get(domain);
      if (owner !== undefined && owner !== vh.at)
        r.error('domains', `domain '${domain}' is also in ${owner}`);
      domains.set(domain, vh.at);
    }
  });
}

function parseRoute(r: ObjectReader, scope: RouteScope): RouteConfig {
  rejectUnsupported(r, UNSUPPORTED_ROUTE_FIELDS);
  return {
    at: r.path,
    name: r.string('name'),
    match: parseRouteMatch(r.requiredObject('match')),
    action: parseAction(r, scope),
    ...parseHeaderMutations(r),
    perFilterConfigs: parsePerFilterConfigs(r, scope),
  };
}

function parseAction(r: ObjectReader, scope: RouteActionScope): RouteAction {
  const kind = r.oneOf(ACTIONS, true);
  if (kind === 'route') return parseRouteAction(r.requiredObject('route'), scope);
  if (kind === 'redirect') return parseRedirect(r.requiredObject('redirect'));
  if (kind === 'direct_response') return parseDirectResponse(r.requiredObject('direct_response'), scope);
  // No usable action: the error is already recorded and the load will fail; this only fills the slot.
  return { kind: 'direct_response', status: 500, body: null };
}
