/**
 * The route table of one HTTP connection manager: compiled once per worker from the validated
 * RouteConfiguration, then consulted per request without re-checking anything.
 *
 * `route(authority, path, headers)` picks the virtual host (see virtual-hosts.ts for the domain
 * precedence and port rules), then returns its first route whose match accepts the request — the
 * route index (route-index.ts) only skips routes that cannot match, so order is Envoy's. The result
 * is a long-lived MatchedRoute shared by all requests that hit it: it carries the action plus
 * everything precompiled to carry it out (rewrites, redirect Location, header mutations of every
 * level, weighted cluster pick). Nothing is allocated per request except strings that change.
 */
import type {
  HeaderMutations,
  PerFilterConfigs,
  RouteAction,
  RouteConfig,
  RouteConfiguration,
  VirtualHostConfig,
} from '../config/bootstrap';
import type { RequestHead } from '../http/codec';
import type { CorsPolicyConfig } from '../filters/http/cors/config';
import type { HeaderMap } from '../http/header-map';
import type { HeaderFormatContext } from './header-format';
import { buildAt, buildEach } from '../config/build-error';
import { HashPolicy } from './hash-policy';
import { HeaderMutationApplier } from './header-mutations';
import { CompiledRouteMatch, pathPartEnd } from './route-match';
import type { PseudoHeaderSource } from './request-matchers';
import { RouteIndex } from './route-index';
import { RateLimitPolicy } from './rate-limit-actions';
import { PathRewrite, pickWeightedIndex, redirectLocation } from './rewrite';
import { VirtualHostSelector } from './virtual-hosts';

export interface RouteTableOptions {
  /** RouteConfiguration `ignore_port_in_host_matching` (default false: the port takes part). */
  ignorePortInHostMatching?: boolean;
}

export function compileRouteTable(config: RouteConfiguration, options: RouteTableOptions = {}): RouteTable {
  return new RouteTable(config, options.ignorePortInHostMatching ?? false);
}

export class RouteTable {
  private readonly hosts: VirtualHostSelector<VirtualHost>;
  /** Some route has `upgrade_configs` of its own. */
  readonly hasUpgradeOverrides: boolean;

  constructor(config: RouteConfiguration, ignorePort: boolean) {
    this.hosts = new VirtualHostSelector<VirtualHost>(ignorePort);
    const compiled = buildEach(config.virtualHosts, (vh) => new VirtualHost(vh, config));
    this.hasUpgradeOverrides = compiled.some((vh) => vh.routes.some((r) => r.upgradeOverrides !== null));
    config.virtualHosts.forEach((vh, i) => {
      for (const domain of vh.domains) this.hosts.add(domain, compiled[i]!);
    });
  }

  /**
   * `path` is the request-target (origin-form, possibly with query; for a CONNECT request, `connect`,
   * its authority). Null → 404 route_not_found.
   */
  route(
    authority: string,
    path: string,
    headers: HeaderMap,
    connect = false,
    /** The request, for header matchers on pseudo-headers (`:method`, `:path`). */
    request?: PseudoHeaderSource,
  ): MatchedRoute | null {
    const vh = this.hosts.select(authority);
    return vh === null ? null : vh.route(path, headers, connect, request);
  }

  /** The virtual host an authority selects (null: none, Envoy answers 404). */
  virtualHost(authority: string): VirtualHost | null {
    return this.hosts.select(authority);
  }
}

export class VirtualHost {
  readonly name: string;
  readonly routes: MatchedRoute[];
  private readonly index: RouteIndex;
  /** `require_tls` EXTERNAL_ONLY / ALL: the 301 to https a request not over TLS gets; else null. */
  private readonly sslRedirect: MatchedRoute | null;
  private readonly externalOnly: boolean;

  constructor(config: VirtualHostConfig, routeConfig: RouteConfiguration) {
    this.name = config.name;
    const vhRateLimits = RateLimitPolicy.compile(config.rateLimits);
    this.routes = buildEach(config.routes, (r) =>
      buildAt(r.at, () => new MatchedRoute(r, config, routeConfig, vhRateLimits)),
    );
    this.index = new RouteIndex(this.routes.map((r) => r.match));
    const requireTls = config.requireTls ?? 'NONE';
    this.externalOnly = requireTls === 'EXTERNAL_ONLY';
    this.sslRedirect = requireTls === 'NONE' ? null : sslRedirectRoute(config);
  }

  route(
    path: string,
    headers: HeaderMap,
    connect = false,
    request?: PseudoHeaderSource,
  ): MatchedRoute | null {
    // Envoy's RouteMatcher: the TLS requirement comes before any route (SslRedirectRoute). Internal
    // requests are those the connection manager marked (a client cannot claim it: forwarding.ts).
    if (
      this.sslRedirect !== null &&
      requestScheme(headers) !== 'https' &&
      !(this.externalOnly && headers.get('x-envoy-internal') === 'true')
    )
      return this.sslRedirect;
    const pathEnd = pathPartEnd(path);
    const queryStart = queryStartOf(path, pathEnd);
    const candidates = this.index.candidates(path, pathEnd);
    const routes = this.routes;
    for (let i = 0; i < candidates.length; i++) {
      const route = routes[candidates[i]!]!;
      if (route.match.matches(path, pathEnd, queryStart, headers, connect, request)) return route;
    }
    return null;
  }
}

/** Index just after the first '?' (where Envoy starts parsing query parameters), or -1. */
function queryStartOf(path: string, pathEnd: number): number {
  if (pathEnd === path.length) return -1;
  const q = path.charCodeAt(pathEnd) === 63 /* ? */ ? pathEnd : path.indexOf('?', pathEnd);
  return q === -1 ? -1 : q + 1;
}

interface WeightedTargets {
  names: string[];
  weights: number[];
  total: number;
  /** Weighted-cluster-level mutations merged with the route's, by cluster name (first entry wins). */
  mutations: Map<string, HeaderMutationApplier>;
}

/** 2^32: scales the injected [0, 1) random source to Envoy's integer random value. */
const RANDOM_RANGE = 4294967296;

/** A compiled route: what the connection manager hands to the router filter. */
export class MatchedRoute {
  readonly name: string;
  readonly virtualHostName: string;
  readonly action: RouteAction;
  readonly match: CompiledRouteMatch;
  /** prefix_rewrite / regex_rewrite of a route action, or prefix_rewrite of a redirect; null if none. */
  readonly pathRewrite: PathRewrite | null;
  /** Route → virtual host → route configuration mutations (no weighted cluster level). */
  readonly mutations: HeaderMutationApplier;
  /** The route action's hash_policy (request hash for RING_HASH / MAGLEV), or null if none. */
  readonly hashPolicy: HashPolicy | null;
  private readonly weighted: WeightedTargets | null;
  /** typed_per_filter_config by filter config name, the most specific level winning. */
  private readonly perFilter: ReadonlyMap<string, unknown>;
  /** The route action's `rate_limits`, or null if none. */
  readonly rateLimits: RateLimitPolicy | null;
  /** The virtual host's `rate_limits` (one object shared by its routes), or null if none. */
  readonly virtualHostRateLimits: RateLimitPolicy | null;
  /** The route action's (deprecated) `include_vh_rate_limits`. */
  readonly includeVhRateLimits: boolean;
  /** The route action's `upgrade_configs`: enabled or not, by lower-cased upgrade type; null if none. */
  readonly upgradeOverrides: ReadonlyMap<string, boolean> | null;
  /** The route terminates CONNECT (`connect_config`): its payload goes to the cluster over TCP. */
  readonly terminatesConnect: boolean;
  /** The virtual host's `include_request_attempt_count` / `include_attempt_count_in_response`. */
  readonly attemptCountInRequest: boolean;
  readonly attemptCountInResponse: boolean;
  /** The virtual host's `require_tls` redirect: Location `https://<host><path>`, as Envoy's SslRedirector. */
  readonly sslRedirect: boolean;
  /** The deprecated `cors` of the route action, else of the virtual host (the CORS filter's fallback). */
  readonly legacyCorsPolicy: CorsPolicyConfig | null;

  constructor(
    config: RouteConfig,
    vh: VirtualHostConfig,
    routeConfig: RouteConfiguration,
    vhRateLimits: RateLimitPolicy | null,
    sslRedirect = false,
  ) {
    this.name = config.name;
    this.virtualHostName = vh.name;
    this.action = config.action;
    this.match = new CompiledRouteMatch(config.match);
    this.pathRewrite = compilePathRewrite(config, this.match.rewriteLength);
    const levels: HeaderMutations[] = [config, vh, routeConfig];
    this.mutations = new HeaderMutationApplier(levels);
    this.weighted = compileWeightedTargets(config.action, levels);
    this.hashPolicy = config.action.kind === 'route' ? HashPolicy.compile(config.action.hashPolicy) : null;
    this.perFilter = mergePerFilterConfigs([routeConfig, vh, config]);
    const action = config.action;
    this.rateLimits = action.kind === 'route' ? RateLimitPolicy.compile(action.rateLimits) : null;
    this.virtualHostRateLimits = vhRateLimits;
    this.includeVhRateLimits = action.kind === 'route' && action.includeVhRateLimits === true;
    const upgrades = action.kind === 'route' ? (action.upgradeConfigs ?? []) : [];
    this.upgradeOverrides =
      upgrades.length === 0 ? null : new Map(upgrades.map((u) => [u.upgradeType, u.enabled]));
    this.terminatesConnect = upgrades.some((u) => u.terminateConnect);
    this.attemptCountInRequest = vh.includeRequestAttemptCount === true;
    this.attemptCountInResponse = vh.includeAttemptCountInResponse === true;
    this.sslRedirect = sslRedirect;
    this.legacyCorsPolicy = (action.kind === 'route' ? action.cors : null) ?? vh.cors ?? null;
  }

  /**
   * The per-route config of the HTTP filter named `configName` (its `typed_per_filter_config`
   * entry on this route, else on its virtual host, else on the route configuration), or undefined.
   */
  perFilterConfig(configName: string): unknown {
    return this.perFilter.get(configName);
  }

  /**
   * The upstream cluster for this request: the configured cluster, the first value of
   * `cluster_header` (null if absent or empty → 503 cluster_not_found), or a weighted pick using
   * `random` (uniform in [0, 1)). Null for redirect and direct_response routes.
   */
  pickCluster(headers: HeaderMap, random: () => number): string | null {
    const action = this.action;
    if (action.kind !== 'route') return null;
    const w = this.weighted;
    if (w !== null)
      return w.names[pickWeightedIndex(w.weights, w.total, Math.floor(random() * RANDOM_RANGE))]!;
    if (action.clusterHeader !== null) return headers.get(action.clusterHeader) || null;
    return action.cluster;
  }

  /**
   * Finalises the request for `clusterName` (from pickCluster) in Envoy's order: header mutations
   * (weighted cluster level first), host_rewrite_literal, then the path rewrite. With
   * `insertOriginalPath` (router without suppress_envoy_headers) a rewritten path's original goes
   * to `x-envoy-original-path`.
   */
  rewriteRequest(
    head: RequestHead,
    ctx: HeaderFormatContext,
    clusterName: string | null,
    insertOriginalPath: boolean,
  ): void {
    this.mutationsFor(clusterName).applyRequest(head.headers, ctx);
    const action = this.action;
    if (action.kind === 'route' && action.hostRewriteLiteral)
      head.headers.set('host', action.hostRewriteLiteral);
    if (this.pathRewrite === null) return;
    if (insertOriginalPath) head.headers.set('x-envoy-original-path', head.path);
    head.path = this.pathRewrite.apply(head.path);
  }

  /**
   * `auto_host_rewrite`: Host becomes the chosen endpoint's hostname. Pass '' for endpoints without
   * one (STATIC clusters' IPs): Envoy leaves Host alone then.
   */
  rewriteHost(head: RequestHead, upstreamHostname: string): void {
    const action = this.action;
    if (action.kind === 'route' && action.autoHostRewrite && upstreamHostname !== '')
      head.headers.set('host', upstreamHostname);
  }

  /**
   * The Location of a redirect route. The request's scheme is its `x-forwarded-proto` (set by the
   * HCM; 'http' if absent); `authority` is its Host.
   */
  redirectLocation(head: RequestHead, authority: string): string {
    const action = this.action;
    if (action.kind !== 'redirect') throw new Error(`route '${this.name}' is not a redirect`);
    if (this.sslRedirect) return `https://${authority}${head.path}`;
    const target = this.pathRewrite === null ? head.path : this.pathRewrite.apply(head.path);
    return redirectLocation(action, requestScheme(head.headers), authority, target);
  }

  /** Response header mutations (upstream responses, direct responses and redirects alike). */
  applyResponseHeaders(headers: HeaderMap, ctx: HeaderFormatContext, clusterName: string | null): void {
    this.mutationsFor(clusterName).applyResponse(headers, ctx);
  }

  /** Whether any level (weighted cluster, route, virtual host, route configuration) edits response fields. */
  editsResponseHeaders(clusterName: string | null): boolean {
    return this.attemptCountInResponse || this.mutationsFor(clusterName).hasResponseMutations;
  }

  private mutationsFor(clusterName: string | null): HeaderMutationApplier {
    if (this.weighted === null || clusterName === null) return this.mutations;
    return this.weighted.mutations.get(clusterName) ?? this.mutations;
  }
}

/** The route a `require_tls` virtual host answers requests not over TLS with: 301, no header mutations. */
function sslRedirectRoute(vh: VirtualHostConfig): MatchedRoute {
  const none = {
    requestHeadersToAdd: [],
    requestHeadersToRemove: [],
    responseHeadersToAdd: [],
    responseHeadersToRemove: [],
  };
  const route: RouteConfig = {
    at: `${vh.at}.require_tls`,
    name: '',
    match: { kind: 'prefix', value: '/', caseSensitive: true, headers: [], queryParameters: [] },
    action: {
      kind: 'redirect',
      httpsRedirect: true,
      schemeRedirect: null,
      hostRedirect: null,
      portRedirect: 0,
      pathRedirect: null,
      prefixRewrite: null,
      responseCode: 301,
      stripQuery: false,
    },
    ...none,
  };
  return new MatchedRoute(
    route,
    { ...vh, ...none, perFilterConfigs: [] },
    { at: '', name: '', virtualHosts: [], internalOnlyHeaders: [], ...none },
    null,
    true,
  );
}

const NO_PER_FILTER_CONFIGS: ReadonlyMap<string, unknown> = new Map();

/** `levels` from least to most specific; routes without any share one empty map. */
function mergePerFilterConfigs(levels: PerFilterConfigs[]): ReadonlyMap<string, unknown> {
  if (levels.every((l) => (l.perFilterConfigs?.length ?? 0) === 0)) return NO_PER_FILTER_CONFIGS;
  const merged = new Map<string, unknown>();
  for (const level of levels)
    for (const e of level.perFilterConfigs ?? []) merged.set(e.configName, e.config);
  return merged;
}

function compilePathRewrite(route: RouteConfig, matchedLength: number): PathRewrite | null {
  const action = route.action;
  if (action.kind === 'direct_response') return null;
  if (action.prefixRewrite) return PathRewrite.prefix(matchedLength, action.prefixRewrite);
  if (action.kind === 'route' && action.regexRewrite !== null) {
    const { pattern, substitution } = action.regexRewrite;
    return buildAt(`${route.at}.route.regex_rewrite`, () => PathRewrite.regex(pattern, substitution));
  }
  return null;
}

function compileWeightedTargets(action: RouteAction, routeLevels: HeaderMutations[]): WeightedTargets | null {
  if (action.kind !== 'route' || action.weightedClusters === null) return null;
  const entries = action.weightedClusters;
  const mutations = new Map<string, HeaderMutationApplier>();
  for (const e of entries)
    if (!mutations.has(e.name)) mutations.set(e.name, new HeaderMutationApplier([e, ...routeLevels]));
  return {
    names: entries.map((e) => e.name),
    weights: entries.map((e) => e.weight),
    total: entries.reduce((sum, e) => sum + e.weight, 0),
    mutations,
  };
}

/** The request's scheme as forwarded (first x-forwarded-proto element), default 'http'. */
function requestScheme(headers: HeaderMap): string {
  const xfp = headers.get('x-forwarded-proto');
  if (xfp === undefined) return 'http';
  const comma = xfp.indexOf(',');
  return (comma === -1 ? xfp : xfp.slice(0, comma)).trim() || 'http';
}
