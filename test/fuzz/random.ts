/**
 * Seeded randomness and run options shared by the fuzzers (config, request parser, response parser):
 * the same seed gives the same inputs on every machine, so a failure printed with its seed
 * reproduces exactly. LEGATE_FUZZ_SEED and LEGATE_FUZZ_ITERATIONS set a run from outside.
 */

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /**
   * A generator for iteration `i` of a run seeded `seed`: each iteration's input depends on
   * (seed, i) only, so one failing iteration reproduces without replaying the ones before it.
   */
  static forIteration(seed: number, i: number): Random {
    return new Random(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * Math.max(1, n));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  maybePick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : this.pick(items);
  }
}

export interface FuzzRunOptions {
  readonly seed: number;
  readonly iterations: number;
}

/** The seed and iteration count from the environment (LEGATE_FUZZ_SEED, LEGATE_FUZZ_ITERATIONS). */
export function fuzzOptionsFromEnv(defaultIterations: number): FuzzRunOptions {
  const seedText = process.env.LEGATE_FUZZ_SEED;
  const iterationsText = process.env.LEGATE_FUZZ_ITERATIONS;
  const seed = seedText ? Number(seedText) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  const iterations = iterationsText ? Math.max(1, Math.floor(Number(iterationsText))) : defaultIterations;
  if (!Number.isFinite(seed) || !Number.isFinite(iterations))
    throw new Error('LEGATE_FUZZ_SEED and LEGATE_FUZZ_ITERATIONS must be numbers');
  return { seed, iterations };
}
