/**
 * Drives a scenario's timed events during one measured run and watches the origins from their own
 * side: kills (SIGKILL, so every connection to it is reset) and restarts origins at the scenario's
 * times after the load starts, and polls every origin's request counter (`ORIGIN_STATS_PATH`, which
 * excludes health checks) so the report can say how many requests each origin served per second
 * and when a restarted origin took traffic again.
 */
import { get } from 'node:http';
import { ORIGIN_STATS_PATH, type OriginCounts } from '../../src/bench/origin';
import type { RunningOrigin } from './origins';
import { killProcess } from './processes';
import type { ScenarioEvent } from './scenario';

const POLL_EVERY_MS = 250;
const POLL_TIMEOUT_MS = 200;

/** One poll of every origin: its request count, or null when it did not answer (down). */
export interface OriginSample {
  /** ms since the load started. */
  atMs: number;
  requests: Array<number | null>;
}

export interface EventLogEntry extends ScenarioEvent {
  /** When it was done, ms since the load started (the kill or the restart completing). */
  doneAtMs: number;
  error?: string;
}

export interface OriginWatch {
  events: EventLogEntry[];
  samples: OriginSample[];
}

function poll(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: ORIGIN_STATS_PATH, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as OriginCounts).requests);
        } catch {
          resolve(null);
        }
      });
    });
    req.setTimeout(POLL_TIMEOUT_MS, () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/**
 * Created before a run; `start` is given the load's start instant (`RunControls.onStart`),
 * `finish` after the run stops the timers and returns what happened. Origins still down at the end
 * are started again by `restoreOrigins`, so the next system finds every origin up.
 */
export class OriginEventDriver {
  private readonly timers: NodeJS.Timeout[] = [];
  /** Events being applied and polls in flight: `finish` waits for them. */
  private readonly pending: Array<Promise<void>> = [];
  private readonly watch: OriginWatch = { events: [], samples: [] };
  private poller: NodeJS.Timeout | null = null;
  private startEpochMs = 0;
  private readonly down = new Set<number>();

  constructor(
    private readonly events: readonly ScenarioEvent[],
    private readonly origin: RunningOrigin,
    private readonly log: (line: string) => void,
  ) {}

  private sinceStart(): number {
    return performance.timeOrigin + performance.now() - this.startEpochMs;
  }

  start(startEpochMs: number): void {
    this.startEpochMs = startEpochMs;
    this.pending.push(this.sample());
    this.poller = setInterval(() => this.pending.push(this.sample()), POLL_EVERY_MS);
    for (const e of this.events) {
      const delay = Math.max(0, e.atMs - this.sinceStart());
      this.timers.push(setTimeout(() => this.pending.push(this.apply(e)), delay));
    }
  }

  private async sample(): Promise<void> {
    const atMs = this.sinceStart();
    const requests = await Promise.all(this.origin.ports.map(poll));
    this.watch.samples.push({ atMs, requests });
  }

  private async apply(e: ScenarioEvent): Promise<void> {
    let error: string | undefined;
    try {
      if (e.action === 'kill-origin') {
        await killProcess(this.origin.processes[e.origin]!);
        this.down.add(e.origin);
      } else {
        await this.origin.restart(e.origin);
        this.down.delete(e.origin);
      }
    } catch (err) {
      error = err instanceof Error ? err.message.split('\n')[0] : String(err);
    }
    const doneAtMs = this.sinceStart();
    this.watch.events.push({ ...e, doneAtMs, error });
    this.log(
      `    ${(doneAtMs / 1000).toFixed(2)}s ${e.action} ${e.origin} (port ${this.origin.ports[e.origin]})` +
        (error === undefined ? '' : `: FAILED: ${error}`),
    );
  }

  /** Stops polling and any event not yet due; returns the events done and the origin samples. */
  async finish(): Promise<OriginWatch> {
    for (const t of this.timers) clearTimeout(t);
    if (this.poller !== null) clearInterval(this.poller);
    await Promise.all(this.pending);
    this.watch.samples.sort((a, b) => a.atMs - b.atMs);
    return this.watch;
  }

  /** Starts every origin this run left down. */
  async restoreOrigins(): Promise<void> {
    for (const i of this.down) {
      await this.origin.restart(i);
      this.log(`    origin ${i} started again after the run`);
    }
    this.down.clear();
  }
}
