/**
 * The config fuzzer (config-fuzz.ts) in every `npm test`: a bounded run, a fresh seed each time
 * unless LEGATE_FUZZ_SEED is set; a failure prints the seed and each failing mutant.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFailures, fuzzConfigs, fuzzOptionsFromEnv } from './config-fuzz';

/** Iterations per `npm test` run (LEGATE_FUZZ_ITERATIONS overrides). */
const CI_ITERATIONS = 500;

test('config mutants: validation never crashes and never accepts what a worker then rejects', async (t) => {
  const opts = fuzzOptionsFromEnv(CI_ITERATIONS);
  const result = await fuzzConfigs(opts);
  t.diagnostic(
    `config fuzz: seed ${result.seed}, ${result.iterations} mutants (${result.accepted} accepted, ` +
      `${result.rejected} rejected) in ${Math.round(result.elapsedMs)} ms, slowest ${Math.round(result.slowestMs)} ms`,
  );
  assert.equal(result.failures.length, 0, describeFailures(result));
  assert.equal(result.iterations, opts.iterations);
  // Mutants that stay valid exercise the worker build; ones that do not exercise the errors.
  assert.ok(
    result.accepted > 0 && result.rejected > 0,
    `accepted ${result.accepted}, rejected ${result.rejected}`,
  );
});
