/**
 * Runs the HTTP/1 differential fuzzer from the command line (`npm run fuzz:h1`, after a build):
 *   LEGATE_FUZZ_SEED=<n>        the run's seed (default: random, printed)
 *   LEGATE_FUZZ_ITERATIONS=<n>  inputs to try (default 100000)
 *   LEGATE_FUZZ_ITERATION=<i>   replay one iteration of the seed and print its findings
 * Exits 1 with the (minimised) finding when the native parser and the JS codec disagree.
 */
import { DEFAULT_ADDON_PATH, probeNative } from '../../../src/native/bindings';
import { describeFinding, replayIteration, runH1Fuzz, type H1Native } from './differential';

function main(): number {
  const native = probeNative(DEFAULT_ADDON_PATH, {}).bindings;
  const status = native?.h1Status?.();
  if (!native || !status?.available || !native.h1ParseForTest || !native.llhttpRawForTest) {
    process.stderr.write(`native HTTP/1 parser unavailable: ${status?.reason ?? 'addon not built'}\n`);
    return 2;
  }
  const h1 = native as H1Native;
  const seed = Number(process.env.LEGATE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  if (process.env.LEGATE_FUZZ_ITERATION !== undefined) {
    const findings = replayIteration(h1, seed, Number(process.env.LEGATE_FUZZ_ITERATION));
    for (const f of findings) process.stdout.write(describeFinding(seed, f) + '\n\n');
    process.stdout.write(`${findings.length} finding(s)\n`);
    return findings.length === 0 ? 0 : 1;
  }
  const iterations = Number(process.env.LEGATE_FUZZ_ITERATIONS ?? 100000);
  const started = Date.now();
  process.stdout.write(`h1 differential fuzz: seed ${seed}, ${iterations} inputs\n`);
  const report = runH1Fuzz(h1, {
    seed,
    iterations,
    progressEvery: 20000,
    onProgress: (r) =>
      process.stdout.write(
        `  ${r.inputs} inputs, ${r.parses} parses, ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
      ),
  });
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(
    `seed ${seed}: ${report.inputs} inputs, ${report.parses} parses in ${seconds.toFixed(1)} s, ` +
      `${report.findings.length} finding(s)\n`,
  );
  for (const f of report.findings) process.stdout.write('\n' + describeFinding(seed, f) + '\n');
  return report.findings.length === 0 ? 0 : 1;
}

process.exitCode = main();
