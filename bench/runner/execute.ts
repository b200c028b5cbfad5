/**
 * Runs one scenario: starts its origin and every system once (idle ones cost nothing), measures
 * the baseline's closed-loop maximum first when the scenario asks for rates relative to it, then
 * alternates systems within each repetition (A B C, A B C, …) so drift hits all of them alike, and
 * stops everything it started, whatever happens. A system that fails to start or dies is recorded
 * with its reason and the scenario goes on with the others.
 */
import { spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LatencySummary } from '../../src/bench/histogram';
import { parseBenchArgs } from '../../src/bench/options';
import { runBench, type RunControls } from '../../src/bench/run';
import type { TimelineEntry } from '../../src/bench/timeline';
import { runWrk } from './wrk';
import { runH2load } from './h2load';
import { measureIdleMemory } from './idle-memory';
import type { ErrorCounts } from '../../src/bench/error-counts';
import { summarizeFailover, type FailoverSummary } from './failover-report';
import { OriginEventDriver, type EventLogEntry } from './origin-events';
import { startOrigin, type RunningOrigin } from './origins';
import {
  freePort,
  logTail,
  startProcess,
  stopProcess,
  cpuMeter,
  type CpuSeconds,
  waitForPort,
  type Managed,
} from './processes';
import { generatorPrograms, type Scenario } from './scenario';
import { SYSTEMS } from './systems';

export interface RunRecord {
  scenario: string;
  /** '' for a single load shape; e.g. '50%' for a constant-rate fraction; 'calibration'. */
  variant: string;
  system: string;
  rep: number;
  ok: boolean;
  error?: string;
  throughput: number;
  unit: 'req/s' | 'Gbit/s' | 'KiB/conn';
  /** Constant rate requested (req/s), 0 for closed loop. */
  rate: number;
  latency?: LatencySummary;
  errors?: ErrorCounts;
  percentiles?: Array<[number, number]>;
  generatorBehind?: boolean;
  /** CPU of the system's whole process tree, % of one core (null for `direct`). */
  systemCpuPercent: number | null;
  /** The system's CPU per request, in µs (user + kernel), and its user and kernel parts. */
  systemCpuUsPerRequest: number | null;
  systemUserUsPerRequest?: number | null;
  systemKernelUsPerRequest?: number | null;
  generatorCpuPercent?: number;
  /** Per second of the run (legate generator only). */
  timeline?: TimelineEntry[];
  /** Scenarios with events: what was done when, and the failover figures. */
  events?: EventLogEntry[];
  failover?: FailoverSummary;
}

export interface ScenarioOutcome {
  scenario: Scenario;
  records: RunRecord[];
  /** System → why it has no (or incomplete) results. */
  failures: Record<string, string>;
}

export interface ExecuteOptions {
  benchDir: string;
  repoRoot: string;
  runDir: string;
  reps: number;
  /** Overrides the scenario's duration when set. */
  durationMs: number | null;
  missingPrograms: ReadonlySet<string>;
  log: (line: string) => void;
}

interface LiveSystem {
  name: string;
  port: number;
  process: Managed | null;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function startSystems(
  sc: Scenario,
  origin: RunningOrigin,
  opts: ExecuteOptions,
  failures: Record<string, string>,
): Promise<LiveSystem[]> {
  const live: LiveSystem[] = [];
  for (const name of sc.systems) {
    const def = SYSTEMS.get(name)!;
    const missing = [...def.requires(sc.proxyMode), ...generatorPrograms(sc)].filter((p) =>
      opts.missingPrograms.has(p),
    );
    if (missing.length > 0) {
      failures[name] = `missing program: ${missing.join(', ')}`;
      continue;
    }
    const port = await freePort();
    const launch = def.launch({
      benchDir: opts.benchDir,
      repoRoot: opts.repoRoot,
      runDir: opts.runDir,
      mode: sc.proxyMode,
      port,
      upstreamPorts: origin.ports,
      lb: sc.lb,
      failover: sc.failover,
    });
    if (launch === null) {
      live.push({ name, port: origin.ports[0]!, process: null });
      continue;
    }
    const logPath = join(opts.runDir, `${sc.name}-${name}.log`);
    const m = startProcess(name, launch.command, launch.args, logPath, opts.repoRoot);
    try {
      await waitForPort(m, port);
      live.push({ name, port, process: m });
    } catch (err) {
      failures[name] = `failed to start (log: run/${basename(logPath)}): ${errorText(err)}`;
      opts.log(`  ${name}: FAILED to start: ${errorText(err).split('\n')[0]}`);
      await stopProcess(m);
    }
  }
  return live;
}

async function measureHttp(
  sc: Scenario,
  sys: LiveSystem,
  variant: string,
  rate: number,
  rep: number,
  durationMs: number,
  scratchDir: string,
  controls: RunControls = {},
): Promise<RunRecord> {
  const base: RunRecord = {
    scenario: sc.name,
    variant,
    system: sys.name,
    rep,
    ok: false,
    throughput: 0,
    unit: 'req/s',
    rate,
    systemCpuPercent: null,
    systemCpuUsPerRequest: null,
  };
  const l = sc.load;
  const argv = [
    `http://127.0.0.1:${sys.port}${l.path}`,
    '-c',
    String(l.connections),
    '-t',
    String(l.threads),
  ];
  argv.push('-d', `${durationMs}ms`, '--label', sys.name, '--no-progress');
  if (l.http1Close) argv.push('--http1-close');
  if (rate > 0) argv.push('-R', String(Math.round(rate)));
  const cpuUsed = cpuMeter(sys.process?.pid ?? null);
  const wallBefore = performance.now();
  try {
    if (l.generator === 'wrk') {
      if (rate > 0) throw new Error('wrk cannot generate a constant rate: use the legate generator');
      const w = await runWrk(`http://127.0.0.1:${sys.port}${l.path}`, l, durationMs);
      const wall = (performance.now() - wallBefore) / 1000;
      return {
        ...base,
        ok: w.requests > 0,
        error: w.requests > 0 ? undefined : 'wrk completed no requests',
        throughput: w.rps,
        latency: w.latency,
        errors: w.errors,
        ...cpuFields(cpuUsed(), wall, w.requests),
      };
    }
    if (l.generator === 'h2load') {
      const h = await runH2load(`http://127.0.0.1:${sys.port}${l.path}`, l, durationMs, scratchDir);
      const wall = (performance.now() - wallBefore) / 1000;
      return {
        ...base,
        ok: h.requests > 0,
        error:
          h.requests > 0
            ? undefined
            : `h2load completed no 2xx requests (errors: ${JSON.stringify(h.errors)})`,
        throughput: h.rps,
        latency: h.latency,
        percentiles: h.percentiles,
        errors: h.errors,
        ...cpuFields(cpuUsed(), wall, h.requests),
      };
    }
    const { result } = await runBench(parseBenchArgs(argv), controls);
    const wall = (performance.now() - wallBefore) / 1000;
    const cpu = cpuFields(cpuUsed(), wall, result.requests);
    const failed = result.requests === 0;
    return {
      ...base,
      ok: !failed,
      error: failed ? `no successful responses (errors: ${JSON.stringify(result.errors)})` : undefined,
      throughput: result.rps,
      latency: result.latency,
      errors: result.errors,
      percentiles: result.percentiles,
      generatorBehind: result.schedule?.generatorBehind,
      ...cpu,
      generatorCpuPercent: result.generatorCpu.percentOfCore,
      timeline: result.timeline,
    };
  } catch (err) {
    return { ...base, error: errorText(err) };
  }
}

/** `iperf3 -c` through the system; throughput in Gbit/s from its JSON report. */
async function measureTcp(
  sc: Scenario,
  sys: LiveSystem,
  rep: number,
  durationMs: number,
): Promise<RunRecord> {
  const base: RunRecord = {
    scenario: sc.name,
    variant: sc.reverse ? 'download' : 'upload',
    system: sys.name,
    rep,
    ok: false,
    throughput: 0,
    unit: 'Gbit/s',
    rate: 0,
    systemCpuPercent: null,
    systemCpuUsPerRequest: null,
  };
  const seconds = Math.max(1, Math.round(durationMs / 1000));
  const args = [
    '-c',
    '127.0.0.1',
    '-p',
    String(sys.port),
    '-t',
    String(seconds),
    '-J',
    ...(sc.reverse ? ['-R'] : []),
  ];
  const cpuUsed = cpuMeter(sys.process?.pid ?? null);
  const wallBefore = performance.now();
  const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn('iperf3', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code, stdout }));
    child.on('error', () => resolve({ code: -1, stdout }));
  });
  const wall = (performance.now() - wallBefore) / 1000;
  try {
    const report = JSON.parse(out.stdout) as {
      error?: string;
      end?: { sum_received?: { bits_per_second: number } };
    };
    if (report.error !== undefined || report.end?.sum_received === undefined) {
      return { ...base, error: `iperf3: ${report.error ?? 'no result'}` };
    }
    return {
      ...base,
      ok: true,
      throughput: report.end.sum_received.bits_per_second / 1e9,
      systemCpuPercent: cpuFields(cpuUsed(), wall, 0).systemCpuPercent,
    };
  } catch {
    return { ...base, error: `iperf3 exited with ${out.code} and no JSON report` };
  }
}

function describe(r: RunRecord): string {
  if (!r.ok) return `FAILED: ${(r.error ?? '').split('\n')[0]}`;
  const tp =
    r.unit === 'Gbit/s'
      ? `${r.throughput.toFixed(1)} Gbit/s`
      : r.unit === 'KiB/conn'
        ? `${r.throughput.toFixed(2)} KiB per idle connection`
        : `${Math.round(r.throughput).toLocaleString('en-US')} req/s`;
  const lat = r.latency ? `  p50 ${r.latency.p50.toFixed(3)} ms  p99 ${r.latency.p99.toFixed(3)} ms` : '';
  const cpu = r.systemCpuPercent === null ? '' : `  cpu ${r.systemCpuPercent.toFixed(0)}%`;
  return tp + lat + cpu + (r.generatorBehind ? '  (generator behind schedule)' : '');
}

/**
 * Every HTTP system gets WARM_UP_MS of closed-loop load before anything is measured, and the result
 * is thrown away: a fresh Node process spends its first second compiling the hot path (measured:
 * p99 267 ms in the first 5 s at 10k req/s, 7–11 ms once warm), and nginx and HAProxy open their
 * upstream keep-alive connections in that time too. Cold-start latency is a real property, but not
 * the one these scenarios compare.
 */
const WARM_UP_MS = 3000;

async function warmUp(sc: Scenario, live: LiveSystem[], opts: ExecuteOptions): Promise<void> {
  for (const sys of live) {
    if (sys.process === null) continue;
    const r = await measureHttp(sc, sys, 'warm-up', 0, 0, WARM_UP_MS, opts.runDir);
    opts.log(`  warm-up ${sys.name.padEnd(10)} ${describe(r)} (not counted)`);
  }
}

/**
 * After a run with events, every origin is up again (restarted if the run left it down) and the
 * next system gets this long before its run, so that the health checkers of all systems (1 s
 * interval, 2 successes) have seen it up.
 */
const SETTLE_MS = 3000;

/** One measured run of a scenario with events: the events run alongside the load. */
async function measureWithEvents(
  sc: Scenario,
  sys: LiveSystem,
  origin: RunningOrigin,
  rep: number,
  durationMs: number,
  opts: ExecuteOptions,
): Promise<RunRecord> {
  const driver = new OriginEventDriver(sc.events, origin, opts.log);
  const r = await measureHttp(sc, sys, '', sc.load.rate, rep, durationMs, opts.runDir, {
    onStart: (at) => driver.start(at),
  });
  const watch = await driver.finish();
  await driver.restoreOrigins();
  await sleep(SETTLE_MS);
  return { ...r, events: watch.events, failover: summarizeFailover(r.timeline ?? [], watch) };
}

export async function runScenario(sc: Scenario, opts: ExecuteOptions): Promise<ScenarioOutcome> {
  const failures: Record<string, string> = {};
  const records: RunRecord[] = [];
  opts.log(`\n== ${sc.name}: ${sc.title}`);
  // Events are timed into the run: such a scenario keeps its own duration.
  const durationMs = sc.events.length > 0 ? sc.load.durationMs : (opts.durationMs ?? sc.load.durationMs);
  if (sc.events.length > 0 && opts.durationMs !== null && opts.durationMs !== durationMs)
    opts.log(`  (its events are timed: runs last the scenario's ${durationMs / 1000} s, not --duration)`);
  let origin: RunningOrigin;
  try {
    origin = await startOrigin(sc.origin, opts.benchDir, opts.runDir);
  } catch (err) {
    for (const s of sc.systems) failures[s] = `origin failed to start: ${errorText(err)}`;
    opts.log(`  origin FAILED: ${errorText(err)}`);
    return { scenario: sc, records, failures };
  }
  let live: LiveSystem[] = [];
  try {
    live = await startSystems(sc, origin, opts, failures);
    if (sc.kind === 'http') await warmUp(sc, live, opts);
    const variants = await planVariants(sc, live, durationMs, records, failures, opts);
    // Memory freed by one run is reused by the next without showing in RSS: one run per process.
    const reps = sc.kind === 'idle-memory' ? 1 : opts.reps;
    if (reps < opts.reps) opts.log(`  (idle-memory: one run per fresh process, not ${opts.reps})`);
    for (const v of variants) {
      for (let rep = 1; rep <= reps; rep++) {
        for (const sys of live) {
          if (failures[sys.name] !== undefined) continue;
          const r =
            sc.kind === 'tcp-bulk'
              ? await measureTcp(sc, sys, rep, durationMs)
              : sc.kind === 'idle-memory'
                ? await measureIdleMemory(sc, sys.name, sys.port, sys.process?.pid ?? null, rep)
                : sc.events.length > 0
                  ? await measureWithEvents(sc, sys, origin, rep, durationMs, opts)
                  : await measureHttp(sc, sys, v.name, v.rate, rep, durationMs, opts.runDir);
          records.push(r);
          opts.log(`  ${v.name ? v.name + ' ' : ''}rep ${rep}/${reps} ${sys.name.padEnd(10)} ${describe(r)}`);
          if (sys.process?.exited != null) {
            failures[sys.name] = `${sys.name} ${sys.process.exited} during the run\n${logTail(sys.process)}`;
          }
        }
      }
    }
  } finally {
    await Promise.all(live.map((s) => (s.process === null ? undefined : stopProcess(s.process))));
    await Promise.all(origin.processes.map(stopProcess));
  }
  return { scenario: sc, records, failures };
}

/** The load variants: one, or one per rate fraction of the baseline's measured maximum. */
async function planVariants(
  sc: Scenario,
  live: LiveSystem[],
  durationMs: number,
  records: RunRecord[],
  failures: Record<string, string>,
  opts: ExecuteOptions,
): Promise<Array<{ name: string; rate: number }>> {
  if (sc.rateFractions.length === 0) return [{ name: '', rate: sc.load.rate }];
  const baseline = live.find((s) => s.name === sc.baseline);
  if (baseline === undefined || failures[sc.baseline] !== undefined) {
    for (const s of sc.systems) failures[s] ??= `no rate calibration: baseline ${sc.baseline} is not running`;
    return [];
  }
  const calibration = await measureHttp(sc, baseline, 'calibration', 0, 1, durationMs, opts.runDir);
  records.push(calibration);
  opts.log(`  calibration ${sc.baseline} closed loop: ${describe(calibration)}`);
  if (!calibration.ok) {
    for (const s of sc.systems) failures[s] ??= `rate calibration failed: ${calibration.error}`;
    return [];
  }
  return sc.rateFractions.map((f) => ({ name: `${Math.round(f * 100)}%`, rate: f * calibration.throughput }));
}

/** The system's CPU over a run of `wall` seconds that completed `requests` (0: per-request figures are null). */
function cpuFields(
  cpu: CpuSeconds | null,
  wall: number,
  requests: number,
): Pick<
  RunRecord,
  'systemCpuPercent' | 'systemCpuUsPerRequest' | 'systemUserUsPerRequest' | 'systemKernelUsPerRequest'
> {
  const perRequest = (seconds: number): number | null => (requests === 0 ? null : (seconds * 1e6) / requests);
  if (cpu === null)
    return {
      systemCpuPercent: null,
      systemCpuUsPerRequest: null,
      systemUserUsPerRequest: null,
      systemKernelUsPerRequest: null,
    };
  return {
    systemCpuPercent: ((cpu.user + cpu.kernel) / wall) * 100,
    systemCpuUsPerRequest: perRequest(cpu.user + cpu.kernel),
    systemUserUsPerRequest: perRequest(cpu.user),
    systemKernelUsPerRequest: perRequest(cpu.kernel),
  };
}
