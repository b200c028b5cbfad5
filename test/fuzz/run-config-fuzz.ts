/**
 * The config fuzzer on demand, for long runs:
 *
 *   npm run build && LEGATE_FUZZ_ITERATIONS=100000 [LEGATE_FUZZ_SEED=n] node dist/test/fuzz/run-config-fuzz.js
 *
 * Prints the seed and a summary; exits 1 with every failing mutant when it finds one.
 */
import { describeFailures, fuzzConfigs, fuzzOptionsFromEnv } from './config-fuzz';

async function main(): Promise<number> {
  const opts = fuzzOptionsFromEnv(10_000);
  process.stdout.write(`config fuzz: LEGATE_FUZZ_SEED=${opts.seed}, ${opts.iterations} iterations\n`);
  const result = await fuzzConfigs(opts);
  process.stdout.write(
    `config fuzz: ${result.iterations} mutants, ${result.accepted} accepted, ${result.rejected} rejected, ` +
      `${Math.round(result.elapsedMs)} ms (slowest ${Math.round(result.slowestMs)} ms)\n`,
  );
  if (result.failures.length === 0) return 0;
  process.stdout.write(`${describeFailures(result)}\n`);
  return 1;
}

void main().then((code) => process.exit(code));
