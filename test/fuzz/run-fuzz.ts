/**
 * Every fuzzer on demand, for long runs (`npm run fuzz`):
 *
 *   npm run fuzz -- [--seed N] [--iterations N] [--seconds S] [filter]
 *
 * Flags override LEGATE_FUZZ_SEED / LEGATE_FUZZ_ITERATIONS. `--seconds` bounds each fuzzer's time
 * (default 60 s, iterations then default to unbounded); `filter` keeps the fuzzers whose name holds
 * it. Runs the HTTP/1 parser fuzzers (also the uWS codec through a real `legate`, which `npm test`
 * leaves out: see the report), then the config fuzzer. Prints the seed of each; exits 1 on a failure.
 */
import { parseArgs } from 'node:util';
import { describeFailures, fuzzConfigs } from './config-fuzz';
import { formatReport, type Fuzzer } from './fuzzer';
import { fuzzOptionsFromEnv } from './random';
import { requestParserFuzzer, requestsThroughProxyFuzzer } from './request-parser';
import { responseParserFuzzer, responsesThroughProxyFuzzer } from './response-parser';

const FUZZERS: Fuzzer[] = [
  requestParserFuzzer,
  responseParserFuzzer,
  requestsThroughProxyFuzzer('legate'),
  requestsThroughProxyFuzzer('uws'),
  responsesThroughProxyFuzzer,
];

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { seed: { type: 'string' }, iterations: { type: 'string' }, seconds: { type: 'string' } },
    allowPositionals: true,
  });
  if (values.seed !== undefined) process.env.LEGATE_FUZZ_SEED = values.seed;
  if (values.iterations !== undefined) process.env.LEGATE_FUZZ_ITERATIONS = values.iterations;
  const seconds = Number(values.seconds ?? 60);
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got '${values.seconds}'`);
  const { seed, iterations } = fuzzOptionsFromEnv(Number.MAX_SAFE_INTEGER);
  const filter = positionals[0] ?? '';
  let failed = false;
  for (const fuzzer of FUZZERS.filter((f) => f.name.includes(filter))) {
    process.stdout.write(`${fuzzer.name}: LEGATE_FUZZ_SEED=${seed}, up to ${seconds} s\n`);
    const report = await fuzzer.run({ seed, iterations, deadline: Date.now() + seconds * 1000 });
    process.stdout.write(`${formatReport(report)}\n`);
    failed ||= report.failures.length > 0;
  }
  if ('config fuzzer'.includes(filter)) {
    const configIterations = iterations === Number.MAX_SAFE_INTEGER ? 10_000 : iterations;
    process.stdout.write(`config fuzzer: LEGATE_FUZZ_SEED=${seed}, ${configIterations} iterations\n`);
    const result = await fuzzConfigs({ seed, iterations: configIterations });
    process.stdout.write(
      `config fuzzer: ${result.iterations} mutants, ${result.accepted} accepted, ${result.rejected} rejected, ` +
        `${Math.round(result.elapsedMs)} ms\n`,
    );
    if (result.failures.length > 0) {
      process.stdout.write(`${describeFailures(result)}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

void main().then((code) => process.exit(code));
