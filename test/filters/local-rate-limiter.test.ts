/** LocalRateLimiter: which buckets a request's descriptors charge, in Envoy's order (injected clock). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LocalRateLimiter,
  type LocalRateLimiterConfig,
} from '../../src/filters/common/local-ratelimit/local-rate-limiter';
import {
  createTokenBucketState,
  type TokenBucketParams,
} from '../../src/filters/common/local-ratelimit/token-bucket';
import { UNLIMITED_TOKEN_BUCKET } from '../../src/filters/common/local-ratelimit/token-bucket-config';
import { descriptorKey } from '../../src/router/rate-limit-actions';

const T0 = 1_000_000;
const A = descriptorKey([{ key: 'k', value: 'a' }]);
const B = descriptorKey([{ key: 'k', value: 'b' }]);

function config(
  defaultBucket: TokenBucketParams,
  descriptors: [string, TokenBucketParams][],
  alwaysConsumeDefaultTokenBucket = true,
): LocalRateLimiterConfig {
  return {
    bucket: createTokenBucketState(defaultBucket, T0),
    descriptors: descriptors.map(([key, p]) => ({ entries: [], key, bucket: createTokenBucketState(p, T0) })),
    alwaysConsumeDefaultTokenBucket,
  };
}

function run(limiter: LocalRateLimiter, n: number, descriptors: string[], now = T0): boolean[] {
  return Array.from({ length: n }, () => limiter.requestAllowed(descriptors, now));
}

test('every matching descriptor is charged, slowest fill rate first; a refusal spares the rest', () => {
  const limiter = LocalRateLimiter.local(
    config(UNLIMITED_TOKEN_BUCKET, [
      [B, { maxTokens: 5, tokensPerFill: 10, fillIntervalMs: 1000 }],
      [A, { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 3_600_000 }],
    ]),
    T0,
  );
  // Both match: A (1/hour) pays first, then B; the second request is refused by A before B pays.
  assert.deepEqual(run(limiter, 2, [B, A]), [true, false]);
  assert.deepEqual(run(limiter, 5, [B]), [true, true, true, true, false], 'B spent only one token');
  assert.deepEqual(run(limiter, 1, [B], T0 + 1000), [true], 'B refills on its own interval');
  assert.deepEqual(run(limiter, 3, ['unknown']), [true, true, true], 'no match: the (unlimited) default');
});

test('the default bucket: charged when nothing matches, and with always_consume_default_token_bucket', () => {
  const one = { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 3_600_000 };
  const five = { maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 3_600_000 };
  const always = LocalRateLimiter.local(config(one, [[A, five]]), T0);
  assert.deepEqual(run(always, 2, [A]), [true, false], 'the second is refused by the default bucket');
  const matchedOnly = LocalRateLimiter.local(config(one, [[A, five]], false), T0);
  assert.deepEqual(run(matchedOnly, 3, [A]), [true, true, true], 'a match spares the default bucket');
  assert.deepEqual(run(matchedOnly, 2, []), [true, false]);
});

test('shared limiters over the same config draw on one budget', () => {
  const c = config(UNLIMITED_TOKEN_BUCKET, [[A, { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 60_000 }]]);
  const w1 = LocalRateLimiter.shared(c);
  const w2 = LocalRateLimiter.shared(c);
  assert.deepEqual(
    [w1.requestAllowed([A], T0), w2.requestAllowed([A], T0), w1.requestAllowed([A], T0)],
    [true, true, false],
  );
});
