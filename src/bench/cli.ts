/**
 * `legate bench URL …`: parses options, runs the load test with a progress line on stderr, prints
 * the table on stdout and writes the requested files. Exit codes: 0 done; 1 the target could not be
 * reached or the run failed; 2 bad arguments; 3 the run finished but the generator fell behind its
 * constant-rate schedule (the results are written, and say by how much).
 */
import { writeFileSync } from 'node:fs';
import { percentileDistributionText } from './histogram';
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, type BenchOptions } from './options';
import { addSeriesToHtmlFile, type PlotSeries } from './report-html';
import { formatMs, formatProgress, formatTable, formatTimeline } from './report-text';
import { BenchTargetError, runBench, type BenchResult, type BenchRun } from './run';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_BEHIND_SCHEDULE = 3;

/** The run as a chart series, with the numbers a reader compares first. */
export function toPlotSeries(r: BenchResult): PlotSeries {
  return {
    label: r.label,
    percentiles: r.percentiles,
    facts: {
      'req/s': Math.round(r.rps).toLocaleString('en-US'),
      p50: formatMs(r.latency.p50),
      p99: formatMs(r.latency.p99),
      'p99.9': formatMs(r.latency['p99.9']),
      max: formatMs(r.latency.max),
      errors: String(Object.values(r.errors).reduce((a, b) => a + b, 0)),
    },
  };
}

function writeOutputs(options: BenchOptions, run: BenchRun): void {
  if (options.jsonPath !== undefined)
    writeFileSync(options.jsonPath, JSON.stringify(run.result, null, 2) + '\n');
  if (options.hgrmPath !== undefined)
    writeFileSync(options.hgrmPath, percentileDistributionText(run.histogram));
  if (options.htmlPath !== undefined) addSeriesToHtmlFile(options.htmlPath, toPlotSeries(run.result));
}

export async function runBenchCli(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(BENCH_USAGE);
    return EXIT_OK;
  }
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    process.stderr.write(`legate bench: ${err.message}\n\n${BENCH_USAGE}`);
    return EXIT_USAGE;
  }
  const interactive = process.stderr.isTTY === true;
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const run = await runBench(options, {
      signal: abort.signal,
      onProgress: options.progress
        ? (p) => process.stderr.write(interactive ? `\r${formatProgress(p)}\x1b[K` : `${formatProgress(p)}\n`)
        : undefined,
    });
    if (options.progress && interactive) process.stderr.write('\r\x1b[K');
    process.stdout.write(formatTable(run.result));
    if (options.timeline) process.stdout.write(formatTimeline(run.result.timeline));
    writeOutputs(options, run);
    return run.result.schedule?.generatorBehind === true ? EXIT_BEHIND_SCHEDULE : EXIT_OK;
  } catch (err) {
    if (!(err instanceof BenchTargetError)) throw err;
    process.stderr.write(`legate bench: ${err.message}\n`);
    return EXIT_FAILED;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
