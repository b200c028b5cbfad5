/**
 * What a failover run (an origin killed, later restarted, under constant-rate load) looked like,
 * from the client's per-second timeline and the origins' own request counters: errors during the
 * outage, how long after the kill the client kept seeing errors, the worst per-second p99, and how
 * long after the restart the origin served traffic again.
 */
import { totalErrors } from '../../src/bench/error-counts';
import { errorKinds } from '../../src/bench/report-text';
import type { TimelineEntry } from '../../src/bench/timeline';
import type { EventLogEntry, OriginSample, OriginWatch } from './origin-events';

export interface FailoverSecond {
  t: number;
  requests: number;
  errors: number;
  /** e.g. `non2xx 41, reset 2`. */
  errorKinds: string;
  p50: number;
  p99: number;
  /** Requests each origin received in this second (its own counter; health checks excluded). */
  originRequests: number[];
}

export interface FailoverSummary {
  /** Scheduled times (s into the run) of the first kill and of the restart of that origin. */
  killAtS: number | null;
  restartAtS: number | null;
  errorsTotal: number;
  /** Errors in the seconds from the kill's up to (not including) the restart's. */
  errorsDuringOutage: number;
  /**
   * Seconds from the kill to the end of the last second with errors before the restart (1 s
   * resolution); 0 when the client saw no error; null when errors went on until the restart.
   */
  errorsStopAfterS: number | null;
  /** Highest per-second p99 (ms) from the kill's second up to the restart's. */
  maxP99DuringOutage: number;
  /**
   * From the restarted origin listening again to the first poll (every 250 ms) that found it had
   * served a request; null if it served none before the run ended.
   */
  restartedTakesTrafficAfterS: number | null;
  seconds: FailoverSecond[];
}

/** Requests per origin per second, from successive polls of the origins' counters. */
export function originRequestsPerSecond(samples: readonly OriginSample[], seconds: number): number[][] {
  const origins = samples[0]?.requests.length ?? 0;
  const out = Array.from({ length: seconds }, () => new Array<number>(origins).fill(0));
  for (let k = 1; k < samples.length; k++) {
    const t = Math.floor(samples[k]!.atMs / 1000);
    if (t < 0 || t >= seconds) continue;
    for (let i = 0; i < origins; i++) {
      const prev = samples[k - 1]!.requests[i] ?? null;
      const cur = samples[k]!.requests[i] ?? null;
      // A count that reappears or went down belongs to a new (restarted) process, which began at 0.
      if (cur !== null) out[t]![i]! += prev === null || cur < prev ? cur : cur - prev;
    }
  }
  return out;
}

function firstTraffic(restart: EventLogEntry, samples: readonly OriginSample[]): number | null {
  const served = samples.find((s) => s.atMs >= restart.doneAtMs && (s.requests[restart.origin] ?? 0) > 0);
  return served === undefined ? null : Math.max(0, served.atMs - restart.doneAtMs) / 1000;
}

export function summarizeFailover(timeline: readonly TimelineEntry[], watch: OriginWatch): FailoverSummary {
  const perOrigin = originRequestsPerSecond(watch.samples, timeline.length);
  const seconds: FailoverSecond[] = timeline.map((s, i) => ({
    t: s.t,
    requests: s.requests,
    errors: totalErrors(s.errors),
    errorKinds: errorKinds(s.errors),
    p50: s.p50,
    p99: s.p99,
    originRequests: perOrigin[i]!,
  }));
  const kill = watch.events.find((e) => e.action === 'kill-origin' && e.error === undefined);
  const restart =
    kill === undefined
      ? undefined
      : watch.events.find(
          (e) =>
            e.action === 'start-origin' &&
            e.origin === kill.origin &&
            e.atMs > kill.atMs &&
            e.error === undefined,
        );
  const errorsTotal = seconds.reduce((n, s) => n + s.errors, 0);
  const summary: FailoverSummary = {
    killAtS: kill === undefined ? null : kill.atMs / 1000,
    restartAtS: restart === undefined ? null : restart.atMs / 1000,
    errorsTotal,
    errorsDuringOutage: 0,
    errorsStopAfterS: null,
    maxP99DuringOutage: 0,
    restartedTakesTrafficAfterS: restart === undefined ? null : firstTraffic(restart, watch.samples),
    seconds,
  };
  if (kill === undefined) return summary;
  const from = Math.floor(kill.atMs / 1000);
  const to = restart === undefined ? seconds.length : Math.floor(restart.atMs / 1000);
  const outage = seconds.slice(from, to);
  summary.errorsDuringOutage = outage.reduce((n, s) => n + s.errors, 0);
  summary.maxP99DuringOutage = Math.max(0, ...outage.map((s) => s.p99));
  const lastWithErrors = outage.findLastIndex((s) => s.errors > 0);
  summary.errorsStopAfterS =
    lastWithErrors === -1
      ? 0
      : lastWithErrors === outage.length - 1
        ? null
        : from + lastWithErrors + 1 - kill.atMs / 1000;
  return summary;
}
