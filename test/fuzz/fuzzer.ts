/**
 * What every fuzzer is: a name and a seeded, bounded run that returns its failures. Inputs of
 * iteration `i` depend only on (seed, i), so a failure reproduces with
 * `LEGATE_FUZZ_SEED=<seed>` and enough iterations, and each failure carries its input bytes.
 */
import { Random } from './random';

export interface FuzzOptions {
  seed: number;
  /** Iterations to run at most. */
  iterations: number;
  /** Stop earlier at this time (Date.now() ms), if given. */
  deadline?: number;
}

export interface FuzzFailure {
  iteration: number;
  /** The property that did not hold. */
  property: string;
  detail: string;
  /** The input (`showBytes`), and how it was split (piece sizes), when it applies. */
  input?: string;
  split?: number[];
}

export interface FuzzReport {
  name: string;
  seed: number;
  iterations: number;
  ms: number;
  failures: FuzzFailure[];
  /** How many iterations ended which way (e.g. accepted, rejected), to see what a run exercised. */
  outcomes: Record<string, number>;
}

export interface Fuzzer {
  name: string;
  run(options: FuzzOptions): Promise<FuzzReport>;
}

/** Failures kept per run: past that, more of the same tells nothing new. */
const MAX_FAILURES = 20;

/**
 * Runs `iteration(i, rng, outcome)` for each i (each with its own PRNG), until the count or the
 * deadline, collecting failures; an exception thrown by an iteration is a failure too (property
 * `crash`). An iteration calls `outcome(name)` to count how it ended.
 */
export async function runIterations(
  name: string,
  options: FuzzOptions,
  iteration: (i: number, rng: Random, outcome: (name: string) => void) => Promise<FuzzFailure[]>,
): Promise<FuzzReport> {
  const started = Date.now();
  const failures: FuzzFailure[] = [];
  const outcomes: Record<string, number> = {};
  const outcome = (key: string): void => {
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  };
  let i = 0;
  for (; i < options.iterations; i++) {
    if (options.deadline !== undefined && Date.now() >= options.deadline) break;
    try {
      failures.push(...(await iteration(i, Random.forIteration(options.seed, i), outcome)));
    } catch (err) {
      failures.push({ iteration: i, property: 'crash', detail: (err as Error).stack ?? String(err) });
    }
    if (failures.length >= MAX_FAILURES) {
      i++;
      break;
    }
  }
  return { name, seed: options.seed, iterations: i, ms: Date.now() - started, failures, outcomes };
}

/** A report for people: counts, then each failure with what reproduces it. */
export function formatReport(report: FuzzReport): string {
  const ways = Object.entries(report.outcomes)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const head =
    `${report.name}: seed ${report.seed}, ${report.iterations} iterations in ${report.ms} ms` +
    `${ways === '' ? '' : ` (${ways})`}, ${report.failures.length} failures`;
  if (report.failures.length === 0) return head;
  const lines = report.failures.map(
    (f) =>
      `  iteration ${f.iteration}: ${f.property}: ${f.detail}` +
      (f.input !== undefined ? `\n    input ${f.input}` : '') +
      (f.split !== undefined ? `\n    split into pieces of ${f.split.join(', ')} bytes` : ''),
  );
  return `${head}\n${lines.join('\n')}\n  reproduce: LEGATE_FUZZ_SEED=${report.seed} LEGATE_FUZZ_ITERATIONS=${report.failures[report.failures.length - 1]!.iteration + 1}`;
}

/** Bytes as a double-quoted string with \r, \n, \t and \xNN escapes for everything not printable. */
export function showBytes(buf: Buffer): string {
  let out = '"';
  for (const byte of buf) {
    if (byte === 0x0d) out += '\\r';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x09) out += '\\t';
    else if (byte === 0x22 || byte === 0x5c) out += '\\' + String.fromCharCode(byte);
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += '\\x' + byte.toString(16).padStart(2, '0');
  }
  return out + '"';
}
