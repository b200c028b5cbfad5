/**
 * The human-readable end-of-run table (and the progress line), like wrk's output but with the
 * error kinds, the full percentile row and, for constant-rate runs, whether the schedule was kept.
 */
import { totalErrors } from './error-counts';
import type { BenchResult, Progress } from './run';
import type { TimelineEntry } from './timeline';

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 100) return `${ms.toFixed(2)}ms`;
  if (ms < 10_000) return `${ms.toFixed(0)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}

export function formatBytes(bytesPerSec: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = bytesPerSec;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(2)} ${units[u]}/s`;
}

export function formatProgress(p: Progress): string {
  return `  ${(p.elapsedMs / 1000).toFixed(1)}s  ${int.format(p.requests)} requests  ${int.format(p.rps)} req/s  errors ${int.format(p.errors)}`;
}

/** Explains a constant-rate run that did not keep its schedule; null when it did. */
export function scheduleWarning(r: BenchResult): string | null {
  const s = r.schedule;
  if (s === null) return null;
  if (s.generatorBehind) {
    return (
      `WARNING: the generator fell behind its schedule: requests went out late by p99 ${formatMs(s.lag.p99)} ` +
      `(max ${formatMs(s.lag.max)}); ${int.format(s.achievedRate)} of ${int.format(s.requestedRate)} req/s sent. ` +
      `This machine cannot generate this rate with ${r.threads} thread(s); latencies include the generator's delay.`
    );
  }
  if (s.targetBehind) {
    return (
      `note: the target did not keep up: ${int.format(s.sent)} of ${int.format(s.scheduled)} scheduled requests were sent ` +
      `(every connection slot was busy); the queueing delay is in the latencies.`
    );
  }
  return null;
}

export function formatTable(r: BenchResult): string {
  const mode =
    r.mode === 'constant-rate'
      ? `constant rate ${int.format(r.schedule!.requestedRate)} req/s`
      : 'closed loop';
  const conn = r.http1Close
    ? 'new connection per request'
    : r.pipeline > 1
      ? `pipeline ${r.pipeline}`
      : 'keep-alive';
  const e = r.errors;
  const l = r.latency;
  const lines = [
    `${r.url}  ${r.connections} connections, ${r.threads} thread(s), ${r.durationSec.toFixed(1)}s, ${mode}, ${conn}`,
    `  requests     ${int.format(r.requests)}  (${int.format(r.rps)} req/s, ${formatBytes(r.bytesPerSec)})`,
    `  errors       connect ${e.connect}  timeout ${e.timeout}  reset ${e.reset}  non-2xx ${e.non2xx}  parse ${e.parse}`,
    `  latency      p50 ${formatMs(l.p50)}  p75 ${formatMs(l.p75)}  p90 ${formatMs(l.p90)}  p99 ${formatMs(l.p99)}  ` +
      `p99.9 ${formatMs(l['p99.9'])}  p99.99 ${formatMs(l['p99.99'])}  max ${formatMs(l.max)}`,
  ];
  if (r.schedule !== null) {
    const s = r.schedule;
    lines.push(
      `  schedule     ${int.format(s.sent)} of ${int.format(s.scheduled)} scheduled requests sent (${int.format(s.achievedRate)} req/s); ` +
        `generator send lag p50 ${formatMs(s.lag.p50)} p99 ${formatMs(s.lag.p99)} max ${formatMs(s.lag.max)}`,
    );
  }
  lines.push(
    `  generator    ${r.generatorCpu.percentOfCore.toFixed(0)}% of a core, ${r.generatorCpu.usPerRequest.toFixed(1)} µs CPU per request`,
  );
  const warning = scheduleWarning(r);
  if (warning !== null) lines.push(warning);
  return lines.join('\n') + '\n';
}

/** Error kinds present in a timeline entry, e.g. `non2xx 12, reset 1`; '' when there are none. */
export function errorKinds(e: TimelineEntry['errors']): string {
  return Object.entries(e)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
}

/** The per-second table (`--timeline`): one row per second of the run. */
export function formatTimeline(timeline: readonly TimelineEntry[]): string {
  const lines = ['  second  requests  errors  p50       p99       error kinds'];
  for (const s of timeline) {
    lines.push(
      `  ${String(s.t).padStart(6)}  ${String(s.requests).padStart(8)}  ${String(totalErrors(s.errors)).padStart(6)}  ` +
        `${formatMs(s.p50).padEnd(8)}  ${formatMs(s.p99).padEnd(8)}  ${errorKinds(s.errors)}`.trimEnd(),
    );
  }
  return lines.join('\n') + '\n';
}
