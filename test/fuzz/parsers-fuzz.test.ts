/**
 * The HTTP/1 parser fuzzers (request-parser.ts, response-parser.ts) in every `npm test`: a bounded
 * run, a fresh seed each time unless LEGATE_FUZZ_SEED is set; a failure prints the seed, the failing
 * input and its split. Longer runs: `npm run fuzz` (run-fuzz.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport, type Fuzzer } from './fuzzer';
import { fuzzOptionsFromEnv } from './random';
import { requestParserFuzzer, requestsThroughProxyFuzzer } from './request-parser';
import { responseParserFuzzer, responsesThroughProxyFuzzer } from './response-parser';

/**
 * Iterations per `npm test` run (LEGATE_FUZZ_ITERATIONS overrides): in-process inputs take well
 * under a millisecond each, inputs through a `legate` process about 10 ms.
 */
export const CI_RUNS: [Fuzzer, number][] = [
  [requestParserFuzzer, 3000],
  [responseParserFuzzer, 3000],
  [requestsThroughProxyFuzzer('legate'), 150],
  // Slower per input (uWS closes where it refuses, so each waits for the close): fewer of them.
  [requestsThroughProxyFuzzer('uws'), 100],
  [responsesThroughProxyFuzzer, 150],
];

for (const [fuzzer, iterations] of CI_RUNS) {
  test(`fuzz: ${fuzzer.name}`, async (t) => {
    const opts = fuzzOptionsFromEnv(iterations);
    const report = await fuzzer.run(opts);
    t.diagnostic(formatReport(report));
    assert.equal(report.failures.length, 0, formatReport(report));
    assert.equal(report.iterations, opts.iterations);
  });
}
