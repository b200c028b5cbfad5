/**
 * A default token bucket plus one bucket per configured descriptor, and Envoy's rule for which of
 * them a request pays (`LocalRateLimiterImpl::requestAllowed`,
 * `source/extensions/filters/common/local_ratelimit/local_ratelimit_impl.cc`):
 *
 * - every request descriptor equal to a configured one matches it (all matches, not the first);
 * - matched buckets are charged in order of fill rate, slowest first, so the strictest limit is
 *   usually the one that refuses — and a refusal stops there, sparing the remaining buckets;
 * - the default bucket is charged when nothing matched, or always with
 *   `always_consume_default_token_bucket` (Envoy's default).
 *
 * Envoy also insists that a descriptor's fill_interval be a multiple of the default one, because
 * one timer refills all its buckets; Legate's buckets refill on their own clocks, so any interval works.
 */
import type { DescriptorEntry } from '../../../router/rate-limit-actions';
import { localTokenBucket, TokenBucket, type TokenBucketParams, type TokenBucketState } from './token-bucket';

/** A `descriptors[]` entry, validated: its entries, their `descriptorKey`, and its shared bucket. */
export interface LocalRateLimitDescriptor {
  readonly entries: readonly DescriptorEntry[];
  readonly key: string;
  readonly bucket: TokenBucketState;
}

/** What a limiter is built from (a field subset of the HTTP filter's config). */
export interface LocalRateLimiterConfig {
  readonly bucket: TokenBucketState;
  readonly descriptors: readonly LocalRateLimitDescriptor[];
  readonly alwaysConsumeDefaultTokenBucket: boolean;
}

interface DescriptorBucket {
  readonly bucket: TokenBucket;
  /** Tokens per second. */
  readonly fillRate: number;
}

export class LocalRateLimiter {
  private readonly byKey = new Map<string, DescriptorBucket>();
  /** Scratch list of one decision's matches (decisions are synchronous, so one list serves all). */
  private readonly matched: DescriptorBucket[] = [];
  private readonly alwaysConsumeDefault: boolean;

  private constructor(
    private readonly defaultBucket: TokenBucket,
    config: LocalRateLimiterConfig,
    makeBucket: (state: TokenBucketState) => TokenBucket,
  ) {
    this.alwaysConsumeDefault = config.alwaysConsumeDefaultTokenBucket;
    for (const d of config.descriptors)
      this.byKey.set(d.key, { bucket: makeBucket(d.bucket), fillRate: fillRate(d.bucket) });
  }

  /** The process-wide buckets of `config` (its SharedArrayBuffers). */
  static shared(config: LocalRateLimiterConfig): LocalRateLimiter {
    const shared = (s: TokenBucketState): TokenBucket => new TokenBucket(s, s.sab);
    return new LocalRateLimiter(shared(config.bucket), config, shared);
  }

  /** Fresh, full buckets private to this thread with `config`'s parameters (one downstream connection's). */
  static local(config: LocalRateLimiterConfig, nowMs: number): LocalRateLimiter {
    const local = (p: TokenBucketParams): TokenBucket => localTokenBucket(p, nowMs);
    return new LocalRateLimiter(local(config.bucket), config, local);
  }

  /** Takes the request's tokens (see the module comment); `descriptors` are `descriptorKey`s. */
  requestAllowed(descriptors: readonly string[], nowMs: number): boolean {
    const matched = this.matched;
    matched.length = 0;
    for (let i = 0; i < descriptors.length; i++) {
      const d = this.byKey.get(descriptors[i]!);
      if (d !== undefined) insertByFillRate(matched, d);
    }
    for (let i = 0; i < matched.length; i++) if (!matched[i]!.bucket.consume(nowMs)) return false;
    if (matched.length === 0 || this.alwaysConsumeDefault) return this.defaultBucket.consume(nowMs);
    return true;
  }
}

function fillRate(p: TokenBucketParams): number {
  return p.tokensPerFill / (p.fillIntervalMs / 1000);
}

/** Insertion after any equal rate: a stable sort, for the usual one or two matches. */
function insertByFillRate(list: DescriptorBucket[], d: DescriptorBucket): void {
  let i = list.length;
  list.push(d);
  while (i > 0 && list[i - 1]!.fillRate > d.fillRate) {
    list[i] = list[i - 1]!;
    i--;
  }
  list[i] = d;
}
