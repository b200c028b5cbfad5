/**
 * The local rate limit filter (Envoy's `local_ratelimit`): each request the filter is enabled for
 * takes a token from a bucket; without one it is counted as rate limited and, when enforcement
 * applies, answered locally with `status` and body `local_rate_limited` (flag RL).
 *
 * With `descriptors`, the selected route's `rate_limits` of the config's `stage` turn the request
 * into descriptors first, and which buckets it pays follows Envoy's LocalRateLimiterImpl (see
 * LocalRateLimiter). The virtual host's `rate_limits` count too per `vh_rate_limits`: OVERRIDE (only
 * when the route has none), INCLUDE, IGNORE; a route's `include_vh_rate_limits` means INCLUDE.
 *
 * Which config applies is Envoy's rule: the most specific `typed_per_filter_config` entry of the
 * selected route (route, then virtual host, then route configuration), else the filter's own. Each
 * config has its own bucket — process-wide, or one per downstream connection with
 * `local_rate_limit_per_downstream_connection` — and its own stats.
 */
import { log } from '../../../common/log';
import { HeaderMap } from '../../../http/header-map';
import type { RequestHead } from '../../../http/codec';
import type { RateLimitRequest } from '../../../router/rate-limit-actions';
import type { MatchedRoute } from '../../../router/route-table';
import type { Counter } from '../../../stats/store';
import type { WorkerServices } from '../../../worker/services';
import { LocalRateLimiter } from '../../common/local-ratelimit/local-rate-limiter';
import { FilterHeadersStatus, PassThroughFilter, type FilterFactoryContext, type StreamFilter } from '../api';
import type { LocalRateLimitConfig } from './config';

/** Envoy's names, under `<stat_prefix>.http_local_rate_limit.`. */
export const LOCAL_RATE_LIMIT_COUNTERS = ['enabled', 'enforced', 'rate_limited', 'ok'] as const;

export function localRateLimitStatPrefix(statPrefix: string): string {
  return `${statPrefix}.http_local_rate_limit.`;
}

/** One config made live on a worker: its buckets and counters. */
class Limiter {
  readonly enabled: Counter;
  readonly enforced: Counter;
  readonly rateLimited: Counter;
  readonly ok: Counter;
  /** The process-wide buckets, or null with buckets per connection. */
  private readonly shared: LocalRateLimiter | null;
  private readonly perConnection: WeakMap<object, LocalRateLimiter> | null;
  private warnedNoConnection = false;

  constructor(
    readonly config: LocalRateLimitConfig,
    services: WorkerServices,
  ) {
    const prefix = localRateLimitStatPrefix(config.statPrefix);
    this.enabled = services.stats.counter(`${prefix}enabled`);
    this.enforced = services.stats.counter(`${prefix}enforced`);
    this.rateLimited = services.stats.counter(`${prefix}rate_limited`);
    this.ok = services.stats.counter(`${prefix}ok`);
    this.shared = config.perConnection ? null : LocalRateLimiter.shared(config);
    this.perConnection = config.perConnection ? new WeakMap() : null;
  }

  /**
   * Takes the tokens of a request with `descriptors` on `connection` (null: the codec has no
   * connection object).
   */
  consume(descriptors: readonly string[], connection: object | null, nowMs: number): boolean {
    if (this.shared !== null) return this.shared.requestAllowed(descriptors, nowMs);
    if (connection === null) return this.noConnection();
    const limiters = this.perConnection!;
    let limiter = limiters.get(connection);
    if (limiter === undefined) {
      limiter = LocalRateLimiter.local(this.config, nowMs);
      limiters.set(connection, limiter);
    }
    return limiter.requestAllowed(descriptors, nowMs);
  }

  /**
   * The request's descriptors, into `out` (emptied first). Only with configured descriptors (as
   * Envoy) and on a forwarding route (redirects and direct responses have no route entry in Envoy).
   */
  populateDescriptors(
    route: MatchedRoute | null,
    stream: Omit<RateLimitRequest, 'request'>,
    head: RequestHead,
    out: string[],
  ): void {
    out.length = 0;
    const config = this.config;
    if (config.descriptors.length === 0 || route === null || route.action.kind !== 'route') return;
    const req: RateLimitRequest = {
      requestHeaders: stream.requestHeaders,
      remoteAddress: stream.remoteAddress,
      request: head,
    };
    route.rateLimits?.populateLocal(config.stage, route, req, out);
    const vh = route.virtualHostRateLimits;
    if (vh !== null && includesVirtualHost(config, route)) vh.populateLocal(config.stage, route, req, out);
  }

  /** uWS gives streams no connection object, so a per-connection budget cannot be kept: allow. */
  private noConnection(): boolean {
    if (!this.warnedNoConnection) {
      this.warnedNoConnection = true;
      log.warn(
        `local_ratelimit '${this.config.statPrefix}': local_rate_limit_per_downstream_connection needs ` +
          'the legate codec; requests on uws listeners are not limited by it',
      );
    }
    return true;
  }
}

/** Envoy's getVirtualHostRateLimitOption: the route's include_vh_rate_limits wins, then vh_rate_limits. */
function includesVirtualHost(config: LocalRateLimitConfig, route: MatchedRoute): boolean {
  if (route.includeVhRateLimits) return true;
  switch (config.vhRateLimits) {
    case 'INCLUDE':
      return true;
    case 'IGNORE':
      return false;
    case 'OVERRIDE':
      return route.rateLimits === null;
  }
}

/** What every stream's filter of one configured filter (in one worker) shares. */
class Shared {
  readonly main: Limiter;
  /** Per-route configs met so far (keyed by the config object, which lives as long as the route). */
  private readonly byRoute = new Map<LocalRateLimitConfig, Limiter>();
  /** Scratch for one request's descriptors (decodeHeaders is synchronous). */
  readonly descriptors: string[] = [];

  constructor(
    config: LocalRateLimitConfig,
    readonly configName: string,
    readonly services: WorkerServices,
  ) {
    this.main = new Limiter(config, services);
  }

  /** The limiter of `perRoute` (the selected route's config for this filter), else the filter's. */
  limiter(perRoute: unknown): Limiter {
    if (perRoute === undefined) return this.main;
    const config = perRoute as LocalRateLimitConfig;
    let limiter = this.byRoute.get(config);
    if (limiter === undefined) {
      limiter = new Limiter(config, this.services);
      this.byRoute.set(config, limiter);
    }
    return limiter;
  }

  /** Envoy's RuntimeFractionalPercent check (random in [0, 1), so 100 % always and 0 % never passes). */
  sample(fraction: number): boolean {
    return fraction > 0 && this.services.random() < fraction;
  }
}

class LocalRateLimitFilter extends PassThroughFilter {
  constructor(private readonly shared: Shared) {
    super();
  }

  override decodeHeaders(head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    const s = this.shared;
    const cb = this.callbacks;
    const route = cb.route();
    const l = s.limiter(route?.perFilterConfig(s.configName));
    const config = l.config;
    if (!s.sample(config.filterEnabled)) return FilterHeadersStatus.Continue;
    l.enabled.inc();
    l.populateDescriptors(route, cb, head, s.descriptors);
    if (l.consume(s.descriptors, cb.downstreamConnection, Date.now())) {
      l.ok.inc();
      return FilterHeadersStatus.Continue;
    }
    l.rateLimited.inc();
    if (!s.sample(config.filterEnforced)) return FilterHeadersStatus.Continue;
    l.enforced.inc();
    cb.setResponseFlag('RL');
    // A fresh map each time: the local reply adds its own headers to it.
    cb.sendLocalReply(config.status, 'local_rate_limited', 'local_rate_limited', limitedHeaders(config));
    return FilterHeadersStatus.StopIteration;
  }
}

function limitedHeaders(config: LocalRateLimitConfig): HeaderMap | undefined {
  if (config.responseHeadersToAdd.length === 0) return undefined;
  const headers = new HeaderMap();
  for (const h of config.responseHeadersToAdd) headers.add(h.key, h.value);
  return headers;
}

export function createLocalRateLimitFilterFactory(
  config: LocalRateLimitConfig,
  ctx: FilterFactoryContext,
): () => StreamFilter {
  const shared = new Shared(config, ctx.configName, ctx.services as WorkerServices);
  return () => new LocalRateLimitFilter(shared);
}
