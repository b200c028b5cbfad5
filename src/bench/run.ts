/**
 * Runs one load test: resolves the target, starts one piscina task per generator thread, waits for
 * every thread's connections, starts them all on a common wall-clock instant, relays progress, and
 * merges the threads' histograms and counters into a `BenchResult`.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  mergeEncodedHistograms,
  percentileCurve,
  summarizeLatency,
  type Histogram,
  type LatencySummary,
} from './histogram';
import type { ControlMessage, LoadTask, WorkerMessage } from './load-worker';
import type { BenchOptions } from './options';
import { buildRequestBytes } from './request-bytes';
import { addErrorCounts, emptyErrorCounts, type ErrorCounts } from './error-counts';
import type { ThreadResult } from './run-stats';
import { splitEvenly } from './schedule';
import { mergeTimelines, type TimelineEntry } from './timeline';

// piscina ships CommonJS; this is how its docs load it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Piscina } = require('piscina') as typeof import('piscina');

/** The target could not be reached (or resolved) before the run started. */
export class BenchTargetError extends Error {
  override readonly name = 'BenchTargetError';
}

export interface ScheduleReport {
  requestedRate: number;
  /** Requests actually written per second. */
  achievedRate: number;
  /** Requests whose intended send time fell inside the run. */
  scheduled: number;
  sent: number;
  /** How late the generator wrote requests (ms), not counting time a connection was busy. */
  lag: { p50: number; p99: number; max: number };
  /** The generator itself could not keep the schedule (its lag p99 exceeded the limit below). */
  generatorBehind: boolean;
  /** Requests were scheduled but not sent because every connection slot was busy (the target was slow). */
  targetBehind: boolean;
}

export interface BenchResult {
  label: string;
  url: string;
  mode: 'closed-loop' | 'constant-rate';
  connections: number;
  threads: number;
  pipeline: number;
  http1Close: boolean;
  durationSec: number;
  requests: number;
  sent: number;
  errors: ErrorCounts;
  statusCounts: Record<string, number>;
  rps: number;
  bytesPerSec: number;
  latency: LatencySummary;
  schedule: ScheduleReport | null;
  /** CPU this process (all generator threads) used: % of one core, and µs per completed request. */
  generatorCpu: { percentOfCore: number; usPerRequest: number };
  /** `[percentile, ms]` points of the latency curve (for plots). */
  percentiles: Array<[number, number]>;
  /** Per second of the run: requests, errors and latency of the requests intended in it. */
  timeline: TimelineEntry[];
}

export interface Progress {
  elapsedMs: number;
  requests: number;
  errors: number;
  /** Requests per second over the last interval. */
  rps: number;
}

export interface RunControls {
  onProgress?: (p: Progress) => void;
  /**
   * Called once every thread is connected, with the wall-clock instant (ms since the epoch, as
   * `performance.timeOrigin + performance.now()`) the load starts: second 0 of the timeline.
   */
  onStart?: (startEpochMs: number) => void;
  /** Aborting ends the run early; results so far are still reported. */
  signal?: AbortSignal;
}

/** A generator whose own send lag p99 exceeds this is reported as behind schedule. */
export const GENERATOR_LAG_LIMIT_MS = 5;
/** Sending fewer than this share of the scheduled requests means the target could not keep up. */
const SENT_SHARE_LIMIT = 0.99;
const START_DELAY_MS = 50;
const PROGRESS_EVERY_MS = 1000;

async function resolveAddress(hostname: string): Promise<string> {
  if (isIP(hostname) !== 0) return hostname;
  try {
    return (await lookup(hostname)).address;
  } catch (err) {
    throw new BenchTargetError(
      `cannot resolve host '${hostname}': ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
}

/** Waits for one message of `type` on a port. */
function nextMessage<T extends WorkerMessage['type']>(
  port: MessagePort,
  type: T,
): Promise<Extract<WorkerMessage, { type: T }>> {
  return new Promise((resolve) => {
    const onMessage = (m: WorkerMessage): void => {
      if (m.type !== type) return;
      port.off('message', onMessage);
      resolve(m as Extract<WorkerMessage, { type: T }>);
    };
    port.on('message', onMessage);
  });
}

/** A finished run: the report data, and the merged latency histogram (µs) for `.hgrm` output. */
export interface BenchRun {
  result: BenchResult;
  histogram: Histogram;
}

export async function runBench(options: BenchOptions, controls: RunControls = {}): Promise<BenchRun> {
  const address = await resolveAddress(options.target.hostname);
  const request = buildRequestBytes(options);
  const perThread = splitEvenly(options.connections, options.threads);
  const pool = new Piscina({
    filename: join(__dirname, 'load-worker.js'),
    minThreads: options.threads,
    maxThreads: options.threads,
    concurrentTasksPerWorker: 1,
    // Generator threads own sockets: their event loops must never block in Atomics.wait.
    atomics: 'disabled',
  });
  const ports: MessagePort[] = [];
  try {
    let first = 0;
    const tasks = perThread.map((connections) => {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1);
      const task: LoadTask = {
        address,
        port: options.target.port,
        request: new Uint8Array(request),
        headRequests: options.method === 'HEAD',
        connections,
        firstConnectionIndex: first,
        totalConnections: options.connections,
        pipeline: options.pipeline,
        http1Close: options.http1Close,
        rate: options.rate,
        durationMs: options.durationMs,
        timeoutMs: options.timeoutMs,
        control: port2,
      };
      first += connections;
      return pool.run(task, { name: 'runLoadTask', transferList: [port2] }) as Promise<ThreadResult | null>;
    });
    // A thread that dies before reporting (e.g. cannot load) must not leave us waiting forever.
    const ready = await Promise.race([
      Promise.all(ports.map((p) => nextMessage(p, 'ready'))),
      Promise.all(tasks).then((): never => {
        throw new Error('a generator thread ended before its connections were ready');
      }),
    ]);
    const failure = ready.find((r) => r.error !== null);
    if (failure !== undefined) {
      for (const p of ports) p.postMessage({ type: 'abort' } satisfies ControlMessage);
      await Promise.all(tasks);
      throw new BenchTargetError(`cannot connect to ${options.target.url}: ${failure.error}`);
    }
    const results = await measure(ports, tasks, controls);
    return summarize(options, results.threads, results.cpuUs);
  } finally {
    for (const p of ports) p.close();
    await pool.destroy();
  }
}

async function measure(
  ports: MessagePort[],
  tasks: Array<Promise<ThreadResult | null>>,
  controls: RunControls,
): Promise<{ threads: ThreadResult[]; cpuUs: number }> {
  const latest = ports.map(() => ({ requests: 0, errors: 0 }));
  ports.forEach((p, i) =>
    p.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') latest[i] = m;
    }),
  );
  const startEpoch = performance.timeOrigin + performance.now() + START_DELAY_MS;
  const cpuBefore = process.cpuUsage();
  for (const p of ports) p.postMessage({ type: 'start', atEpochMs: startEpoch } satisfies ControlMessage);
  controls.onStart?.(startEpoch);
  const stop = (): void => {
    for (const p of ports) p.postMessage({ type: 'stop' } satisfies ControlMessage);
  };
  controls.signal?.addEventListener('abort', stop, { once: true });
  let lastRequests = 0;
  let lastAt = startEpoch;
  const ticker = setInterval(() => {
    const now = performance.timeOrigin + performance.now();
    const requests = latest.reduce((n, l) => n + l.requests, 0);
    controls.onProgress?.({
      elapsedMs: now - startEpoch,
      requests,
      errors: latest.reduce((n, l) => n + l.errors, 0),
      rps: ((requests - lastRequests) * 1000) / Math.max(1, now - lastAt),
    });
    lastRequests = requests;
    lastAt = now;
  }, PROGRESS_EVERY_MS);
  try {
    const threads = await Promise.all(tasks);
    const cpu = process.cpuUsage(cpuBefore);
    return { threads: threads.filter((t): t is ThreadResult => t !== null), cpuUs: cpu.user + cpu.system };
  } finally {
    clearInterval(ticker);
    controls.signal?.removeEventListener('abort', stop);
  }
}

function summarize(options: BenchOptions, threads: ThreadResult[], cpuUs: number): BenchRun {
  const latency = mergeEncodedHistograms(threads.map((t) => t.latency));
  const errors = emptyErrorCounts();
  const statusCounts: Record<string, number> = {};
  let requests = 0;
  let sent = 0;
  let bytes = 0;
  let scheduled = 0;
  for (const t of threads) {
    requests += t.requests;
    sent += t.sent;
    bytes += t.bytesRead;
    scheduled += t.scheduled;
    addErrorCounts(errors, t.errors);
    for (const [status, n] of Object.entries(t.statusCounts))
      statusCounts[status] = (statusCounts[status] ?? 0) + n;
  }
  const start = Math.min(...threads.map((t) => t.startedAtEpochMs));
  const end = Math.max(...threads.map((t) => t.endedAtEpochMs));
  const seconds = Math.max(1e-3, (end - start) / 1000);
  const result: BenchResult = {
    label: options.label,
    url: options.target.url,
    mode: options.rate > 0 ? 'constant-rate' : 'closed-loop',
    connections: options.connections,
    threads: options.threads,
    pipeline: options.pipeline,
    http1Close: options.http1Close,
    durationSec: seconds,
    requests,
    sent,
    errors,
    statusCounts,
    rps: requests / seconds,
    bytesPerSec: bytes / seconds,
    latency: summarizeLatency(latency),
    schedule: options.rate > 0 ? scheduleReport(options.rate, threads, scheduled, sent, seconds) : null,
    generatorCpu: {
      percentOfCore: (cpuUs / (seconds * 1e6)) * 100,
      usPerRequest: requests === 0 ? 0 : cpuUs / requests,
    },
    percentiles: percentileCurve(latency),
    timeline: mergeTimelines(threads.map((t) => t.timeline)),
  };
  return { result, histogram: latency };
}

function scheduleReport(
  rate: number,
  threads: ThreadResult[],
  scheduled: number,
  sent: number,
  seconds: number,
): ScheduleReport {
  const lag: Histogram = mergeEncodedHistograms(threads.map((t) => t.lag!));
  const lagMs = {
    p50: lag.getValueAtPercentile(50) / 1000,
    p99: lag.getValueAtPercentile(99) / 1000,
    max: lag.getValueAtPercentile(100) / 1000,
  };
  return {
    requestedRate: rate,
    achievedRate: sent / seconds,
    scheduled,
    sent,
    lag: lagMs,
    generatorBehind: lagMs.p99 > GENERATOR_LAG_LIMIT_MS,
    targetBehind: sent < scheduled * SENT_SHARE_LIMIT,
  };
}
