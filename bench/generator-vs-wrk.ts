/**
 * Validates `legate bench` against wrk (issue 3: closed-loop req/s within 10 % of wrk's at equal
 * connections and threads, on the same target). Starts the suite's nginx origin (1 worker, 13 B at
 * `/`), then for each `THREADSxCONNECTIONS` setting runs one unrecorded warm-up of each tool and
 * `--reps` alternated pairs (wrk, legate, wrk, legate, …) so drift on the machine hits both alike.
 * Each generator is a fresh process; its CPU is read from /proc as its parent shell's reaped-child
 * time (exact, start to exit), so both tools are charged the same way.
 *
 *   node dist/bench/generator-vs-wrk.js [--reps 5] [--duration 5s] [--settings 1x50,2x50] [--path /]
 *                                       [--compare OTHER_CHECKOUT]…
 *
 * `--compare DIR` adds another build of legate (a checkout with its own dist/) to the alternation,
 * for before/after measurements of a generator change.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/bench/options';
import type { BenchResult } from '../src/bench/run';
import { startOrigin } from './runner/origins';
import { installCleanupTraps, stopAll, treeCpuSeconds } from './runner/processes';
import { findRepoRoot } from './runner/repo-root';
import { parseWrkOutput } from './runner/wrk';

/** USER_HZ: /proc reports CPU time in these ticks. */
const CLOCK_TICKS = 100;
const STAT_MARKER = '__generator_stat__';

interface Setting {
  threads: number;
  connections: number;
}

interface Sample {
  rps: number;
  requests: number;
  /** CPU of the whole generator process, start to exit, µs per completed request. */
  cpuUsPerRequest: number;
  /** legate only: its own CPU over the measured run (start signal to drained), µs per request. */
  inRunUsPerRequest: number;
  /** Origin CPU during the run, % of one core. */
  originCpuPercent: number;
}

interface Run {
  out: string;
  cpuSeconds: number;
}

/**
 * Runs `command` under `sh`, which prints its own /proc stat after the command exits: fields
 * cutime + cstime then hold exactly the CPU the reaped command used (all its threads).
 */
function runMeasured(command: string, args: string[]): Promise<Run> {
  const script = `"$@"; code=$?; echo "${STAT_MARKER} $(cat /proc/$$/stat)"; exit $code`;
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script, 'sh', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(STAT_MARKER));
      if (code !== 0 || line === undefined) return reject(new Error(`${command} failed (${code}): ${out}`));
      const stat = line.slice(STAT_MARKER.length + 1);
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command name: state is field 3, so cutime/cstime (fields 16/17) sit at 13/14.
      resolve({ out, cpuSeconds: (Number(f[13]) + Number(f[14])) / CLOCK_TICKS });
    });
  });
}

/** Runs one generator; origin CPU is charged over the nominal load duration (not process startup). */
async function sample(
  originPid: number,
  seconds: number,
  run: () => Promise<{ rps: number; requests: number; cpuSeconds: number; inRunUsPerRequest?: number }>,
): Promise<Sample> {
  const before = treeCpuSeconds(originPid);
  const r = await run();
  return {
    rps: r.rps,
    requests: r.requests,
    cpuUsPerRequest: (r.cpuSeconds * 1e6) / Math.max(1, r.requests),
    inRunUsPerRequest: r.inRunUsPerRequest ?? NaN,
    originCpuPercent: ((treeCpuSeconds(originPid) - before) / seconds) * 100,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function runLegate(
  bin: string,
  s: Setting,
  seconds: number,
  url: string,
  originPid: number,
  runDir: string,
): Promise<Sample> {
  return sample(originPid, seconds, async () => {
    const json = join(runDir, 'legate.json');
    const args = [bin, 'bench', url, '-t', String(s.threads), '-c', String(s.connections)];
    args.push('-d', `${seconds}s`, '--no-progress', '--json', json);
    const r = await runMeasured(process.execPath, args);
    const res = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    return {
      rps: res.rps,
      requests: res.requests,
      cpuSeconds: r.cpuSeconds,
      inRunUsPerRequest: res.generatorCpu.usPerRequest,
    };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5s' },
      settings: { type: 'string', default: '1x50,2x50' },
      path: { type: 'string', default: '/' },
      compare: { type: 'string', multiple: true },
    },
  });
  const reps = Number(values.reps);
  const seconds = Math.max(1, Math.round(parseDuration(values.duration, '--duration') / 1000));
  const settings: Setting[] = values.settings.split(',').map((s) => {
    const [t, c] = s.split('x').map(Number);
    return { threads: t!, connections: c! };
  });
  const root = findRepoRoot();
  const legates = [
    { name: 'legate', bin: join(root, 'bin', 'legate.js') },
    ...(values.compare ?? []).map((dir) => ({ name: `legate@${dir}`, bin: join(dir, 'bin', 'legate.js') })),
  ];
  const runDir = mkdtempSync(join(tmpdir(), 'legate-genval-'));
  installCleanupTraps();
  const log = (line: string): void => void process.stdout.write(line + '\n');
  try {
    const origin = await startOrigin({ type: 'nginx-static' }, join(root, 'bench'), runDir);
    const url = `http://127.0.0.1:${origin.ports[0]}${values.path}`;
    const originPid = origin.processes[0]!.pid;
    log(`origin: nginx (1 worker) at ${url}; ${reps} alternated reps of ${seconds} s per tool and setting`);
    const rows: string[] = [];
    for (const s of settings) {
      const generators: Array<{ name: string; run: () => Promise<Sample> }> = [
        {
          name: 'wrk',
          run: () =>
            sample(originPid, seconds, async () => {
              const r = await runMeasured('wrk', [
                `-t${s.threads}`,
                `-c${s.connections}`,
                `-d${seconds}s`,
                url,
              ]);
              const w = parseWrkOutput(r.out);
              return { rps: w.rps, requests: w.requests, cpuSeconds: r.cpuSeconds };
            }),
        },
        ...legates.map((l) => ({
          name: l.name,
          run: () => runLegate(l.bin, s, seconds, url, originPid, runDir),
        })),
      ];
      for (const g of generators) await g.run(); // warm-up, not recorded
      const samples = generators.map(() => [] as Sample[]);
      for (let i = 0; i < reps; i++) {
        const line: string[] = [];
        for (const [k, g] of generators.entries()) {
          const x = await g.run();
          samples[k]!.push(x);
          line.push(`${g.name} ${x.rps.toFixed(0)} req/s ${x.cpuUsPerRequest.toFixed(2)} µs/req`);
        }
        log(`-t${s.threads} -c${s.connections} rep ${i + 1}: ${line.join(', ')}`);
      }
      const wrkRps = median(samples[0]!.map((x) => x.rps));
      for (const [k, g] of generators.entries()) {
        const m = (key: keyof Sample): number => median(samples[k]!.map((x) => x[key]));
        const inRun = m('inRunUsPerRequest');
        rows.push(
          `| -t${s.threads} -c${s.connections} | ${g.name} | ${m('rps').toFixed(0)} | ${(m('rps') / wrkRps).toFixed(2)} | ` +
            `${m('cpuUsPerRequest').toFixed(2)} | ${Number.isNaN(inRun) ? '' : inRun.toFixed(2)} | ${m('originCpuPercent').toFixed(0)} |`,
        );
      }
    }
    log(
      '\n| setting | generator | req/s | ÷ wrk | µs CPU/req (process) | µs CPU/req (in run) | origin CPU % |',
    );
    log('|---|---|---|---|---|---|---|');
    for (const r of rows) log(r);
    log(
      `\n(medians of ${reps} alternated ${seconds} s runs after one unrecorded run each; "process" is the whole ` +
        'generator process from start to exit, "in run" is legate\'s own figure for the measured window)',
    );
  } finally {
    await stopAll();
    rmSync(runDir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`generator-vs-wrk: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
