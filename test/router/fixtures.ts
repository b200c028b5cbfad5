/**
 * Builders for normalised route config objects (what config/load produces), so tests state only
 * the fields they are about.
 */
import type {
  HeaderMatcher,
  HeaderMutations,
  QueryParameterMatcher,
  RedirectActionConfig,
  RouteActionConfig,
  RouteConfig,
  RouteConfiguration,
  RouteMatch,
  StringMatcher,
  VirtualHostConfig,
} from '../../src/config/bootstrap';
import type { HeaderFormatContext } from '../../src/router/header-format';
import { HeaderMap } from '../../src/http/header-map';

export function noMutations(): HeaderMutations {
  return {
    requestHeadersToAdd: [],
    requestHeadersToRemove: [],
    responseHeadersToAdd: [],
    responseHeadersToRemove: [],
  };
}

export function routeAction(fields: Partial<RouteActionConfig> = {}): RouteActionConfig {
  return {
    kind: 'route',
    cluster: 'backend',
    weightedClusters: null,
    clusterHeader: null,
    prefixRewrite: null,
    regexRewrite: null,
    hostRewriteLiteral: null,
    autoHostRewrite: false,
    timeoutMs: 15000,
    idleTimeoutMs: 0,
    retryPolicy: null,
    ...fields,
  };
}

export function redirectAction(fields: Partial<RedirectActionConfig> = {}): RedirectActionConfig {
  return {
    kind: 'redirect',
    httpsRedirect: false,
    schemeRedirect: null,
    hostRedirect: null,
    portRedirect: 0,
    pathRedirect: null,
    prefixRewrite: null,
    responseCode: 301,
    stripQuery: false,
    ...fields,
  };
}

export function match(kind: RouteMatch['kind'], value: string, fields: Partial<RouteMatch> = {}): RouteMatch {
  return { kind, value, caseSensitive: true, headers: [], queryParameters: [], ...fields };
}

export function stringMatch(kind: StringMatcher['kind'], value: string, ignoreCase = false): StringMatcher {
  return { kind, value, ignoreCase };
}

export function header(name: string, fields: Partial<HeaderMatcher> = {}): HeaderMatcher {
  return {
    name,
    stringMatch: null,
    presentMatch: true,
    invertMatch: false,
    treatMissingHeaderAsEmpty: false,
    ...fields,
  };
}

export function query(name: string, sm: StringMatcher | null = null): QueryParameterMatcher {
  return { name, stringMatch: sm, presentMatch: sm === null };
}

export function route(name: string, m: RouteMatch, fields: Partial<RouteConfig> = {}): RouteConfig {
  return {
    at: `routes.${name}`,
    name,
    match: m,
    action: routeAction({ cluster: name }),
    ...noMutations(),
    ...fields,
  };
}

export function vhost(
  name: string,
  domains: string[],
  routes: RouteConfig[],
  fields: Partial<VirtualHostConfig> = {},
): VirtualHostConfig {
  return { at: `virtual_hosts.${name}`, name, domains, routes, ...noMutations(), ...fields };
}

export function routeConfig(
  virtualHosts: VirtualHostConfig[],
  fields: Partial<RouteConfiguration> = {},
): RouteConfiguration {
  return {
    at: 'route_config',
    name: 'local_route',
    virtualHosts,
    internalOnlyHeaders: [],
    ...noMutations(),
    ...fields,
  };
}

export function headers(...pairs: [string, string][]): HeaderMap {
  const h = new HeaderMap();
  for (const [n, v] of pairs) h.add(n, v);
  return h;
}

export function formatContext(requestHeaders: HeaderMap = new HeaderMap()): HeaderFormatContext {
  return {
    remoteAddress: '10.1.2.3',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 10000,
    protocol: 'HTTP/1.1',
    startTimeMs: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    requestHeaders,
  };
}

/** The header fields in order, as [name, value] pairs. */
export function fields(h: HeaderMap): [string, string][] {
  return h.names.map((n, i) => [n, h.values[i]!]);
}
