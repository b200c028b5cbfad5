/**
 * The local rate limit filter (Envoy's `local_ratelimit`): each request the filter is enabled for
 * takes a token from the shared bucket; without one it is counted as rate limited and, when
 * enforcement applies, answered locally with `status` and body `local_rate_limited` (flag RL).
 */
import { HeaderMap } from '../../../http/header-map';
import type { RequestHead } from '../../../http/codec';
import type { Counter } from '../../../stats/store';
import type { WorkerServices } from '../../../worker/services';
import { FilterHeadersStatus, PassThroughFilter, type FilterFactoryContext, type StreamFilter } from '../api';
import type { LocalRateLimitConfig } from './config';
import { TokenBucket } from './token-bucket';

/** Envoy's names, under `<stat_prefix>.http_local_rate_limit.`. */
export const LOCAL_RATE_LIMIT_COUNTERS = ['enabled', 'enforced', 'rate_limited', 'ok'] as const;

export function localRateLimitStatPrefix(statPrefix: string): string {
  return `${statPrefix}.http_local_rate_limit.`;
}

/** What every stream's filter of one configured filter (in one worker) shares. */
class Shared {
  readonly bucket: TokenBucket;
  readonly enabled: Counter;
  readonly enforced: Counter;
  readonly rateLimited: Counter;
  readonly ok: Counter;

  constructor(
    readonly config: LocalRateLimitConfig,
    readonly services: WorkerServices,
  ) {
    this.bucket = new TokenBucket(config.bucket);
    const prefix = localRateLimitStatPrefix(config.statPrefix);
    this.enabled = services.stats.counter(`${prefix}enabled`);
    this.enforced = services.stats.counter(`${prefix}enforced`);
    this.rateLimited = services.stats.counter(`${prefix}rate_limited`);
    this.ok = services.stats.counter(`${prefix}ok`);
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
    if (!s.sample(s.config.filterEnabled)) return FilterHeadersStatus.Continue;
    s.enabled.inc();
    if (s.bucket.consume(Date.now())) {
      s.ok.inc();
      return FilterHeadersStatus.Continue;
    }
    s.rateLimited.inc();
    if (!s.sample(s.config.filterEnforced)) return FilterHeadersStatus.Continue;
    s.enforced.inc();
    this.callbacks.setResponseFlag('RL');
    this.callbacks.sendLocalReply(
      s.config.status,
      'local_rate_limited',
      'local_rate_limited',
      limitedHeaders(s.config),
    );
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
  const shared = new Shared(config, ctx.services as WorkerServices);
  return () => new LocalRateLimitFilter(shared);
}
