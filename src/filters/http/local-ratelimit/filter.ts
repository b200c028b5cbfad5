/**
 * The local rate limit filter (Envoy's `local_ratelimit`): each request the filter is enabled for
 * takes a token from a bucket; without one it is counted as rate limited and, when enforcement
 * applies, answered locally with `status` and body `local_rate_limited` (flag RL).
 *
 * Which config applies is Envoy's rule: the most specific `typed_per_filter_config` entry of the
 * selected route (route, then virtual host, then route configuration), else the filter's own. Each
 * config has its own bucket — process-wide, or one per downstream connection with
 * `local_rate_limit_per_downstream_connection` — and its own stats.
 */
import { log } from '../../../common/log';
import { HeaderMap } from '../../../http/header-map';
import type { RequestHead } from '../../../http/codec';
import type { Counter } from '../../../stats/store';
import type { WorkerServices } from '../../../worker/services';
import { localTokenBucket, TokenBucket } from '../../common/local-ratelimit/token-bucket';
import { FilterHeadersStatus, PassThroughFilter, type FilterFactoryContext, type StreamFilter } from '../api';
import type { LocalRateLimitConfig } from './config';

/** Envoy's names, under `<stat_prefix>.http_local_rate_limit.`. */
export const LOCAL_RATE_LIMIT_COUNTERS = ['enabled', 'enforced', 'rate_limited', 'ok'] as const;

export function localRateLimitStatPrefix(statPrefix: string): string {
  return `${statPrefix}.http_local_rate_limit.`;
}

/** One config made live on a worker: its bucket(s) and counters. */
class Limiter {
  readonly enabled: Counter;
  readonly enforced: Counter;
  readonly rateLimited: Counter;
  readonly ok: Counter;
  /** The process-wide bucket, or null with a bucket per connection. */
  private readonly bucket: TokenBucket | null;
  private readonly perConnection: WeakMap<object, TokenBucket> | null;
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
    this.bucket = config.perConnection ? null : new TokenBucket(config.bucket, config.bucket.sab);
    this.perConnection = config.perConnection ? new WeakMap() : null;
  }

  /** Takes a token for a request on `connection` (null: the codec has no connection object). */
  consume(connection: object | null, nowMs: number): boolean {
    if (this.bucket !== null) return this.bucket.consume(nowMs);
    if (connection === null) return this.noConnection();
    const buckets = this.perConnection!;
    let bucket = buckets.get(connection);
    if (bucket === undefined) {
      bucket = localTokenBucket(this.config.bucket, nowMs);
      buckets.set(connection, bucket);
    }
    return bucket.consume(nowMs);
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

/** What every stream's filter of one configured filter (in one worker) shares. */
class Shared {
  readonly main: Limiter;
  /** Per-route configs met so far (keyed by the config object, which lives as long as the route). */
  private readonly byRoute = new Map<LocalRateLimitConfig, Limiter>();

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

  override decodeHeaders(_head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    const s = this.shared;
    const cb = this.callbacks;
    const l = s.limiter(cb.route()?.perFilterConfig(s.configName));
    const config = l.config;
    if (!s.sample(config.filterEnabled)) return FilterHeadersStatus.Continue;
    l.enabled.inc();
    if (l.consume(cb.downstreamConnection, Date.now())) {
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
