/** The shared token bucket, driven with explicit times. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, createTokenBucketState } from '../../src/filters/http/local-ratelimit/token-bucket';

function drain(bucket: TokenBucket, now: number, limit = 100): number {
  let n = 0;
  while (n < limit && bucket.consume(now)) n++;
  return n;
}

test('starts full, refills tokens_per_fill per elapsed fill_interval, capped at max_tokens', () => {
  const state = createTokenBucketState(5, 2, 1000, 10_000);
  const bucket = new TokenBucket(state);
  assert.equal(drain(bucket, 10_000), 5);
  assert.equal(drain(bucket, 10_999), 0, 'no fill before one interval elapsed');
  assert.equal(drain(bucket, 11_000), 2);
  assert.equal(drain(bucket, 13_500), 4, 'two fills elapsed');
  assert.equal(drain(bucket, 60_000), 5, 'capped at max_tokens');
});

test('two views of one state (as two workers have) share one budget', () => {
  const state = createTokenBucketState(3, 1, 1000, 0);
  const a = new TokenBucket(state);
  const b = new TokenBucket(structuredClone(state));
  assert.equal(a.consume(1), true);
  assert.equal(b.consume(1), true);
  assert.equal(a.consume(1), true);
  assert.equal(b.consume(1), false);
  assert.equal(a.consume(1), false);
  // One fill elapsed: credited once, whichever view notices first.
  assert.equal(b.consume(1000), true);
  assert.equal(a.consume(1000), false);
});
