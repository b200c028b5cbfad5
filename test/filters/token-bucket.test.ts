/** The token bucket, driven with explicit times. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TokenBucket,
  createTokenBucketState,
  localTokenBucket,
} from '../../src/filters/common/local-ratelimit/token-bucket';

function drain(bucket: TokenBucket, now: number, limit = 100): number {
  let n = 0;
  while (n < limit && bucket.consume(now)) n++;
  return n;
}

test('starts full, refills tokens_per_fill per elapsed fill_interval, capped at max_tokens', () => {
  const state = createTokenBucketState({ maxTokens: 5, tokensPerFill: 2, fillIntervalMs: 1000 }, 10_000);
  const bucket = new TokenBucket(state, state.sab);
  assert.equal(drain(bucket, 10_000), 5);
  assert.equal(drain(bucket, 10_999), 0, 'no fill before one interval elapsed');
  assert.equal(drain(bucket, 11_000), 2);
  assert.equal(drain(bucket, 13_500), 4, 'two fills elapsed');
  assert.equal(drain(bucket, 60_000), 5, 'capped at max_tokens');
});

test('two views of one state (as two workers have) share one budget', () => {
  const state = createTokenBucketState({ maxTokens: 3, tokensPerFill: 1, fillIntervalMs: 1000 }, 0);
  const cloned = structuredClone(state);
  const a = new TokenBucket(state, state.sab);
  const b = new TokenBucket(cloned, cloned.sab);
  assert.equal(a.consume(1), true);
  assert.equal(b.consume(1), true);
  assert.equal(a.consume(1), true);
  assert.equal(b.consume(1), false);
  assert.equal(a.consume(1), false);
  // One fill elapsed: credited once, whichever view notices first.
  assert.equal(b.consume(1000), true);
  assert.equal(a.consume(1000), false);
});

test('local buckets (one per connection) are independent and refill from their own creation', () => {
  const params = { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000 };
  const a = localTokenBucket(params, 0);
  assert.equal(drain(a, 0), 2);
  const b = localTokenBucket(params, 500);
  assert.equal(drain(b, 500), 2, 'a second bucket starts full whatever the first spent');
  assert.equal(drain(a, 1000), 1);
  assert.equal(drain(b, 1000), 0, 'b counts fills from 500 ms');
  assert.equal(drain(b, 1500), 1);
});
