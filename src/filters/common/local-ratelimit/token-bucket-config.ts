/** Envoy's `type.v3.TokenBucket`, shared by the HTTP and network local rate limit filters. */
import type { ObjectReader } from '../../../config/config-reader';
import type { TokenBucketParams } from './token-bucket';

const MAX_TOKENS = 0x7fffffff;

/** `max_tokens` and `fill_interval` are required (as Envoy validates); `tokens_per_fill` defaults to 1. */
export function parseTokenBucket(tb: ObjectReader): TokenBucketParams {
  if (!tb.has('max_tokens')) tb.error('max_tokens', 'required');
  const maxTokens = tb.uint('max_tokens', 1, { min: 1, max: MAX_TOKENS });
  const tokensPerFill = tb.wrappedUint('tokens_per_fill', 1, { min: 1, max: MAX_TOKENS });
  if (!tb.has('fill_interval')) tb.error('fill_interval', 'required');
  const fillIntervalMs = tb.durationMs('fill_interval', 1000);
  if (fillIntervalMs < 1) tb.error('fill_interval', 'must be at least 1ms');
  return { maxTokens, tokensPerFill, fillIntervalMs: Math.max(1, fillIntervalMs) };
}

/**
 * Params that never limit: HTTP local_ratelimit without a `token_bucket` allows everything (Envoy
 * applies no limit then).
 */
export const UNLIMITED_TOKEN_BUCKET: TokenBucketParams = {
  maxTokens: MAX_TOKENS,
  tokensPerFill: MAX_TOKENS,
  fillIntervalMs: 1000,
};
