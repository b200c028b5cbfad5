/**
 * A token bucket every worker shares: two Int32 cells in a SharedArrayBuffer, updated with Atomics
 * so one `max_tokens` budget holds process-wide (Envoy's local rate limit is per Envoy process, not
 * per worker thread). There is no refill timer: each decision first credits the fills that elapsed
 * since the last one, and a compare-and-swap on the fill counter makes exactly one caller credit
 * each fill. Fills are counted in whole `fill_interval`s since the bucket was created, so the
 * counter stays a small integer whatever the wall clock.
 */

const TOKENS = 0;
const LAST_FILL = 1;
/** Int32 cells, then one Float64 (8-aligned) for the creation time. */
const BYTES = 16;

/** The shared state; plain data, so it survives the structured clone from primary to workers. */
export interface TokenBucketState {
  readonly sab: SharedArrayBuffer;
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

/** On the primary, at config parse time: a full bucket. */
export function createTokenBucketState(
  maxTokens: number,
  tokensPerFill: number,
  fillIntervalMs: number,
  nowMs: number,
): TokenBucketState {
  const sab = new SharedArrayBuffer(BYTES);
  new Int32Array(sab, 0, 2)[TOKENS] = maxTokens;
  new Float64Array(sab, 8, 1)[0] = nowMs;
  return { sab, maxTokens, tokensPerFill, fillIntervalMs };
}

/** One worker's view of a shared bucket. */
export class TokenBucket {
  private readonly cells: Int32Array;
  private readonly createdMs: number;
  private readonly maxTokens: number;
  private readonly tokensPerFill: number;
  private readonly fillIntervalMs: number;

  constructor(state: TokenBucketState) {
    this.cells = new Int32Array(state.sab, 0, 2);
    this.createdMs = new Float64Array(state.sab, 8, 1)[0]!;
    this.maxTokens = state.maxTokens;
    this.tokensPerFill = state.tokensPerFill;
    this.fillIntervalMs = state.fillIntervalMs;
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
