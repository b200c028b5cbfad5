/**
 * A token bucket every worker shares: two Int32 cells in a SharedArrayBuffer, updated with Atomics
 * so one `max_tokens` budget holds process-wide (Envoy's local rate limits are per Envoy process,
 * not per worker thread). There is no refill timer: each decision first credits the fills that
 * elapsed since the last one, and a compare-and-swap on the fill counter makes exactly one caller
 * credit each fill. Fills are counted in whole `fill_interval`s since the bucket was created, so the
 * counter stays a small integer whatever the wall clock.
 *
 * The same cells over a plain ArrayBuffer make a thread-local bucket (`localTokenBucket`), used for
 * budgets that belong to one connection.
 */

const TOKENS = 0;
const LAST_FILL = 1;
/** Int32 cells, then one Float64 (8-aligned) for the creation time. */
const BYTES = 16;

/** Envoy's `TokenBucket` message, validated. */
export interface TokenBucketParams {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

/** The shared state; plain data, so it survives the structured clone from primary to workers. */
export interface TokenBucketState extends TokenBucketParams {
  readonly sab: SharedArrayBuffer;
}

/** On the primary, at config parse time: a full bucket. */
export function createTokenBucketState(params: TokenBucketParams, nowMs: number): TokenBucketState {
  return { ...params, sab: initCells(new SharedArrayBuffer(BYTES), params.maxTokens, nowMs) };
}

/** A full bucket private to this thread (no SharedArrayBuffer: cheap enough for one per connection). */
export function localTokenBucket(params: TokenBucketParams, nowMs: number): TokenBucket {
  return new TokenBucket(params, initCells(new ArrayBuffer(BYTES), params.maxTokens, nowMs));
}

function initCells<B extends ArrayBufferLike>(buffer: B, maxTokens: number, nowMs: number): B {
  new Int32Array(buffer, 0, 2)[TOKENS] = maxTokens;
  new Float64Array(buffer, 8, 1)[0] = nowMs;
  return buffer;
}

/** One worker's view of a bucket. */
export class TokenBucket {
  private readonly cells: Int32Array;
  private readonly createdMs: number;
  private readonly maxTokens: number;
  private readonly tokensPerFill: number;
  private readonly fillIntervalMs: number;

  /** `buffer` holds the cells (`state.sab` for a shared bucket: `new TokenBucket(state, state.sab)`). */
  constructor(params: TokenBucketParams, buffer: ArrayBufferLike) {
    this.cells = new Int32Array(buffer, 0, 2);
    this.createdMs = new Float64Array(buffer, 8, 1)[0]!;
    this.maxTokens = params.maxTokens;
    this.tokensPerFill = params.tokensPerFill;
    this.fillIntervalMs = params.fillIntervalMs;
  }

  /** Takes one token if there is one. `nowMs` is wall-clock time (Date.now(): the same in every thread). */
  consume(nowMs: number): boolean {
    const cells = this.cells;
    this.refill(nowMs);
    for (;;) {
      const tokens = Atomics.load(cells, TOKENS);
      if (tokens <= 0) return false;
      if (Atomics.compareExchange(cells, TOKENS, tokens, tokens - 1) === tokens) return true;
    }
  }

  private refill(nowMs: number): void {
    const cells = this.cells;
    const fill = Math.floor((nowMs - this.createdMs) / this.fillIntervalMs);
    const last = Atomics.load(cells, LAST_FILL);
    if (fill <= last || Atomics.compareExchange(cells, LAST_FILL, last, fill) !== last) return;
    const credit = Math.min(this.maxTokens, (fill - last) * this.tokensPerFill);
    for (;;) {
      const tokens = Atomics.load(cells, TOKENS);
      const next = Math.min(this.maxTokens, tokens + credit);
      if (Atomics.compareExchange(cells, TOKENS, tokens, next) === tokens) return;
    }
  }
}
