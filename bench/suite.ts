/**
 * `legate bench-suite` / `npm run bench`: runs the scenarios in `bench/scenarios/` against nginx,
 * HAProxy and Legate on this machine and writes `bench/results/<date>/` (results.json, summary.md,
 * report.html, plus every generated config and process log under run/). The default is the short
 * set (every scenario marked default, 2 repetitions of 3 s: under 5 minutes); `--full` uses each
 * scenario's own duration and repetitions.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { BenchUsageError, parseDuration } from '../src/bench/options';
import { renderHtmlReport } from '../src/bench/report-html';
import { runScenario, type ScenarioOutcome } from './runner/execute';
import { originPrograms } from './runner/origins';
import { installCleanupTraps, stopAll } from './runner/processes';
import { findRepoRoot } from './runner/repo-root';
import { generatorPrograms, loadScenarios, type Scenario } from './runner/scenario';
import { htmlReportFor, markdownForOutcome, summarizeOutcome, type Cell } from './runner/summary';
import { SYSTEMS } from './runner/systems';
import { ensurePrograms, hasProgram } from './runner/tools';

const USAGE = `usage: legate bench-suite [options]

  --full               each scenario's own duration and repetitions (default: short set, 2 x 3 s)
  --scenario NAME      run only this scenario (repeatable); --list shows them
  --systems A,B        only these systems (the baseline is always kept)
  --reps N             repetitions per system
  --duration T         duration of each run (e.g. 5s)
  --out DIR            results directory (default bench/results/<date>)
  --list               list the scenarios and exit
  --dry-run            check the options, print what would run, and exit (starts nothing)
`;

const QUICK_REPS = 2;
const QUICK_DURATION_MS = 3000;

function versionOf(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]!.trim() || 'not installed';
}

function timestamp(): string {
  return new Date().toISOString().replace(/:/g, '').replace(/\..*/, '').replace('T', '_');
}

function selectScenarios(all: Scenario[], names: string[] | undefined, full: boolean): Scenario[] {
  if (names === undefined) return all.filter((s) => full || s.inDefaultSet);
  const unknown = names.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length > 0)
    throw new BenchUsageError(`unknown scenario(s): ${unknown.join(', ')} (see --list)`);
  return all.filter((s) => names.includes(s.name));
}

interface SuitePlan {
  full: boolean;
  scenarios: Scenario[];
  /** null: each scenario's own. */
  durationMs: number | null;
  reps: number | null;
  outDir: string;
}

interface SuiteFlags {
  full?: boolean;
  scenario?: string[];
  systems?: string;
  reps?: string;
  duration?: string;
  out?: string;
}

/** Checks the options against the scenarios and systems; every mistake is a BenchUsageError. */
function planSuite(values: SuiteFlags, all: Scenario[], benchDir: string): SuitePlan {
  const full = values.full === true;
  let scenarios = selectScenarios(all, values.scenario, full);
  if (values.systems !== undefined) {
    const keep = new Set(values.systems.split(','));
    const unknown = [...keep].filter((n) => !SYSTEMS.has(n));
    if (unknown.length > 0)
      throw new BenchUsageError(
        `--systems: unknown system(s) ${unknown.join(', ')} (known: ${[...SYSTEMS.keys()].join(', ')})`,
      );
    scenarios = scenarios.map((s) => ({
      ...s,
      systems: s.systems.filter((n) => keep.has(n) || n === s.baseline),
    }));
  }
  const durationMs =
    values.duration !== undefined
      ? parseDuration(values.duration, '--duration')
      : full
        ? null
        : QUICK_DURATION_MS;
  let reps: number | null = full ? null : QUICK_REPS;
  if (values.reps !== undefined) {
    reps = Number(values.reps);
    if (!Number.isInteger(reps) || reps < 1)
      throw new BenchUsageError(`--reps: expected a positive integer, got '${values.reps}'`);
  }
  return { full, scenarios, durationMs, reps, outDir: values.out ?? join(benchDir, 'results', timestamp()) };
}

/** --dry-run: what would run, and which programs are missing (they would be installed). */
function describePlan(plan: SuitePlan): string {
  const lines = [`bench-suite (dry run): ${plan.full ? 'full' : 'short'} mode`];
  for (const s of plan.scenarios) {
    const reps = plan.reps ?? s.reps;
    const ms = plan.durationMs ?? s.load.durationMs;
    lines.push(`  ${s.name}: ${s.systems.join(', ')} (baseline ${s.baseline}); ${reps} x ${ms / 1000} s`);
  }
  const programs = [...new Set(plan.scenarios.flatMap(requiredPrograms))];
  const missing = programs.filter((p) => !hasProgram(p));
  lines.push(
    `programs: ${programs.join(', ')}${missing.length > 0 ? `; missing: ${missing.join(', ')}` : ''}`,
  );
  lines.push(`results would go to ${relative(process.cwd(), plan.outDir) || '.'}`);
  return lines.join('\n') + '\n';
}

/** The programs a scenario needs on PATH (origins and systems). */
function requiredPrograms(s: Scenario): string[] {
  return [
    ...originPrograms(s.origin),
    ...generatorPrograms(s),
    ...s.systems.flatMap((n) => SYSTEMS.get(n)!.requires(s.proxyMode)),
  ];
}

export async function runSuiteCli(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        full: { type: 'boolean' },
        scenario: { type: 'string', multiple: true },
        systems: { type: 'string' },
        reps: { type: 'string' },
        duration: { type: 'string' },
        out: { type: 'string' },
        list: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`legate bench-suite: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const repoRoot = findRepoRoot();
  const benchDir = join(repoRoot, 'bench');
  const all = loadScenarios(benchDir);
  if (values.list) {
    for (const s of all)
      process.stdout.write(
        `${s.name.padEnd(28)} ${s.inDefaultSet ? '(default) ' : '          '}${s.title}\n`,
      );
    return 0;
  }
  let plan: SuitePlan;
  try {
    plan = planSuite(values, all, benchDir);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    process.stderr.write(`legate bench-suite: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (values['dry-run']) {
    process.stdout.write(describePlan(plan));
    return 0;
  }
  const { full, scenarios, durationMs, reps, outDir } = plan;
  const runDir = join(outDir, 'run');
  mkdirSync(runDir, { recursive: true });

  const log = (line: string): void => void process.stdout.write(line + '\n');
  installCleanupTraps();
  const programs = new Set(scenarios.flatMap(requiredPrograms));
  programs.add('wrk'); // not driven by the suite, but the generator is validated against it (README)
  const missing = ensurePrograms([...programs], log);

  const env = {
    date: new Date().toISOString(),
    node: process.version,
    kernel: release(),
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    loadavgAtStart: loadavg(),
    nginx: versionOf('nginx', ['-v']),
    haproxy: versionOf('haproxy', ['-v']),
    iperf3: versionOf('iperf3', ['--version']),
    mode: full ? 'full' : 'short',
  };
  log(
    `bench-suite: ${scenarios.length} scenario(s), ${env.mode} mode; results in ${relative(process.cwd(), outDir) || '.'}`,
  );
  log(
    `machine: ${env.cpus}, kernel ${env.kernel}, load ${env.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const outcomes: ScenarioOutcome[] = [];
  const cells: Cell[] = [];
  try {
    for (const sc of scenarios) {
      const outcome = await runScenario(sc, {
        benchDir,
        repoRoot,
        runDir,
        reps: reps ?? sc.reps,
        durationMs,
        missingPrograms: missing,
        log,
      });
      outcomes.push(outcome);
      cells.push(...summarizeOutcome(outcome));
    }
  } finally {
    await stopAll();
  }

  const markdown =
    `# Legate bench suite, ${env.date}\n\n` +
    `Machine: ${env.cpus}, kernel ${env.kernel}, Node ${env.node}; ${env.nginx}; ${env.haproxy}; ${env.iperf3}. ` +
    `Mode: ${env.mode}. Load at start: ${env.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}.\n\n` +
    outcomes
      .map((o) =>
        markdownForOutcome(
          o,
          cells.filter((c) => c.scenario === o.scenario.name),
        ),
      )
      .join('\n');
  const notes = [
    `${env.date} · ${env.cpus} · kernel ${env.kernel} · Node ${env.node} · ${env.nginx} · ${env.haproxy} · mode ${env.mode}`,
    "Bold curves: each system's run with the median p99; thin: its other runs. Constant-rate variants measure latency from intended send times.",
  ];
  writeFileSync(
    join(outDir, 'results.json'),
    JSON.stringify({ env, scenarios, outcomes, cells }, null, 2) + '\n',
  );
  writeFileSync(join(outDir, 'summary.md'), markdown);
  writeFileSync(
    join(outDir, 'report.html'),
    renderHtmlReport(htmlReportFor('Legate bench suite', notes, outcomes, cells)),
  );
  log('\n' + markdown);
  log(`wrote ${join(outDir, 'results.json')}, summary.md, report.html`);
  const failed = outcomes.flatMap((o) => Object.keys(o.failures).map((s) => `${o.scenario.name}/${s}`));
  if (failed.length > 0) {
    log(`bench-suite: FAILED systems: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}
