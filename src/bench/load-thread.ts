/**
 * One generator thread's run: its share of the connections, one timer for the constant-rate
 * schedule, one sweep for timeouts, and the warm-up → run → drain sequence. Lives inside a piscina
 * task (see `load-worker.ts`) for the whole run and hands back a `ThreadResult`.
 */
import { performance } from 'node:perf_hooks';
import { LlhttpResponseCounter } from './llhttp-response-counter';
import { LoadConnection, type ConnectionHost, type RunPhase } from './load-connection';
import { warmUpResponseParser } from './parser-warm-up';
import { repeatRequest } from './request-bytes';
import type { ResponseCounter, ResponseSink } from './response-counter';
import { ThreadStats, type ThreadResult } from './run-stats';
import { connectionSchedule } from './schedule';

export interface LoadThreadConfig {
  /** IP literal of the target. */
  address: string;
  port: number;
  request: Uint8Array;
  headRequests: boolean;
  /** Connections this thread owns, and where they sit among all connections (for the schedule). */
  connections: number;
  firstConnectionIndex: number;
  totalConnections: number;
  pipeline: number;
  http1Close: boolean;
  /** Total requests/s over all threads; 0 = closed loop. */
  rate: number;
  durationMs: number;
  timeoutMs: number;
}

const READ_BUFFER_BYTES = 256 * 1024;

export class LoadThread implements ConnectionHost {
  readonly address: string;
  readonly port: number;
  readonly pipeline: number;
  readonly http1Close: boolean;
  readonly stats: ThreadStats;
  readonly batches: Buffer[];
  readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  phase: RunPhase = 'warmup';
  private readonly connections: LoadConnection[] = [];
  private openConnections: number;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  /** Connections waiting for `wakeListed` (see wakeSoon). */
  private readonly wakeList: LoadConnection[] = [];
  private readonly wakeListedBound = (): void => this.wakeListed();
  private sweep: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private endedAt = 0;
  private startedAtEpochMs = 0;
  private deadline: NodeJS.Timeout | null = null;
  private warmupConnected = 0;
  private onWarm: ((error: string | null) => void) | null = null;
  private onDone: ((result: ThreadResult) => void) | null = null;
  private readonly tickBound = (): void => this.tick();
  private readonly sweepBound = (): void => this.sweepTimeouts();
  private readonly stopBound = (): void => this.stop();
  private readonly forceCloseBound = (): void => this.forceClose();

  constructor(private readonly config: LoadThreadConfig) {
    this.address = config.address;
    this.port = config.port;
    this.pipeline = config.pipeline;
    this.http1Close = config.http1Close;
    this.stats = new ThreadStats(config.rate > 0);
    const request = Buffer.from(config.request);
    this.batches = [Buffer.alloc(0)];
    for (let k = 1; k <= config.pipeline; k++) this.batches.push(repeatRequest(request, k));
    this.openConnections = config.connections;
  }

  createCounter(sink: ResponseSink): ResponseCounter {
    return new LlhttpResponseCounter(sink, this.config.headRequests);
  }

  /** Opens every connection; resolves with null once all are up, or with the first connect error. */
  warmUp(): Promise<string | null> {
    warmUpResponseParser();
    return new Promise((resolve) => {
      this.onWarm = resolve;
      const cfg = this.config;
      for (let i = 0; i < cfg.connections; i++) {
        const schedule =
          cfg.rate > 0
            ? connectionSchedule(cfg.rate, cfg.totalConnections, cfg.firstConnectionIndex + i)
            : null;
        const conn = new LoadConnection(this, schedule);
        this.connections.push(conn);
        conn.open();
      }
      this.sweep = setInterval(this.sweepBound, Math.min(250, Math.max(10, cfg.timeoutMs / 4)));
    });
  }

  private settleWarmUp(error: string | null): void {
    const done = this.onWarm;
    if (done === null) return;
    this.onWarm = null;
    done(error);
  }

  onConnected(): void {
    if (this.phase !== 'warmup') return;
    this.warmupConnected++;
    if (this.warmupConnected === this.connections.length) this.settleWarmUp(null);
  }

  onConnectFailed(_conn: LoadConnection, message: string): void {
    if (this.phase === 'warmup') this.settleWarmUp(message);
  }

  /** Starts sending at `startAt` (this thread's `performance.now()` ms); resolves when drained. */
  run(startAt: number, startedAtEpochMs: number): Promise<ThreadResult> {
    return new Promise((resolve) => {
      this.onDone = resolve;
      const begin = (): void => this.begin(startAt, startedAtEpochMs);
      setTimeout(begin, Math.max(0, startAt - performance.now()));
    });
  }

  private begin(startAt: number, startedAtEpochMs: number): void {
    // A thread that starts late keeps the common timeline; the lag histogram shows the lateness.
    this.startedAt = startAt;
    this.startedAtEpochMs = startedAtEpochMs;
    this.phase = 'running';
    this.stats.timeline.start(startAt, this.config.durationMs);
    const now = performance.now();
    for (const c of this.connections) c.begin(startAt, now);
    this.deadline = setTimeout(this.stopBound, Math.max(0, startAt + this.config.durationMs - now));
  }

  /** Deadline (or an early stop): no new requests; in-flight ones get `timeoutMs` to finish. */
  stop(): void {
    if (this.phase !== 'running') return;
    this.phase = 'draining';
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.cancelWakeUp();
    this.endedAt = performance.now();
    for (const c of this.connections) c.drain();
    this.deadline = setTimeout(this.forceCloseBound, this.config.timeoutMs);
  }

  /** Gives up before or during the run (connect failure elsewhere, or interrupted): closes everything. */
  abort(): Promise<void> {
    return new Promise((resolve) => {
      this.onDone = (): void => resolve();
      this.cancelWakeUp();
      if (this.deadline !== null) clearTimeout(this.deadline);
      this.phase = 'draining';
      this.forceClose();
    });
  }

  private forceClose(): void {
    for (const c of this.connections) c.forceClose();
  }

  onConnectionDone(): void {
    this.openConnections--;
    if (this.openConnections > 0 || this.onDone === null) return;
    if (this.deadline !== null) clearTimeout(this.deadline);
    if (this.sweep !== null) clearInterval(this.sweep);
    let scheduled = 0;
    for (const c of this.connections)
      if (c.schedule !== null) scheduled += c.schedule.scheduledBefore(this.endedAt);
    const done = this.onDone;
    this.onDone = null;
    done(
      this.stats.toResult({
        startedAtEpochMs: this.startedAtEpochMs,
        endedAtEpochMs: this.startedAtEpochMs + (this.endedAt - this.startedAt),
        scheduled,
      }),
    );
  }

  /**
   * Closed loop: a connection whose responses are all in writes its next requests after the reads of
   * this event-loop turn, together with every other such connection (wrk writes on the next turn).
   * One JavaScript entry then does many writes, instead of each read's callback doing its write and
   * Node running that write's after-write tick on the way out of the callback.
   */
  wakeSoon(conn: LoadConnection): void {
    if (this.wakeList.length === 0) setImmediate(this.wakeListedBound);
    this.wakeList.push(conn);
  }

  private wakeListed(): void {
    const now = performance.now();
    const list = this.wakeList;
    for (let i = 0; i < list.length; i++) list[i]!.wake(now);
    list.length = 0;
  }

  /** Arms the thread's one timer for `at` unless it already fires earlier. */
  wakeAt(at: number): void {
    if (at >= this.timerAt || this.phase !== 'running') return;
    this.cancelWakeUp();
    this.timerAt = at;
    this.timer = setTimeout(this.tickBound, Math.max(0, at - performance.now()));
  }

  private cancelWakeUp(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private tick(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    for (const c of this.connections) c.onTimer(now);
  }

  private sweepTimeouts(): void {
    const now = performance.now();
    const limit = this.config.timeoutMs;
    for (const c of this.connections) {
      const connecting = c.connectingSince();
      if (connecting >= 0 && now - connecting > limit) c.abortConnect();
      else if (c.inFlight > 0 && now - c.oldestStart() > limit) {
        this.stats.countError('timeout', c.oldestStart(), c.inFlight);
        c.abandon();
      }
    }
  }
}
