/**
 * One load-generating HTTP/1.1 connection on a raw `net` socket. It keeps up to `pipeline` requests
 * in flight, timestamps each one in a small ring, and records the latency of each response as the
 * parser completes it. Closed loop: a request goes out as soon as a slot frees. Constant rate: a
 * request goes out when its slot on the connection's fixed timeline is due (and a slot is free),
 * and its latency counts from that intended time. With `http1Close` each request gets a fresh
 * connection, and closed-loop latency includes the connect.
 *
 * Hot path is allocation-free: the thread's shared read buffer (`onread`), prebuilt request bytes,
 * handlers bound once per connection object.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ResponseCounter, ResponseSink } from './response-counter';
import type { ThreadStats } from './run-stats';
import type { ConnectionSchedule } from './schedule';

export type RunPhase = 'warmup' | 'running' | 'draining';

/** What a connection needs from the generator thread that owns it. */
export interface ConnectionHost {
  readonly address: string;
  readonly port: number;
  readonly pipeline: number;
  readonly http1Close: boolean;
  readonly stats: ThreadStats;
  /** `batches[k]` = k requests back to back (index 0 unused). */
  readonly batches: readonly Buffer[];
  /** The thread's one read buffer: every socket reads into it and parses synchronously. */
  readonly readBuffer: Buffer;
  /** `warmup` (connecting, nothing sent), `running` (sending), `draining` (deadline passed). */
  readonly phase: RunPhase;
  createCounter(sink: ResponseSink): ResponseCounter;
  /** Asks for `onTimer` to be called on every connection at (or soon after) time `at`. */
  wakeAt(at: number): void;
  /** Closed loop: asks for `wake` to be called on this connection once this event-loop turn's reads are done. */
  wakeSoon(conn: LoadConnection): void;
  /** The connection was closed for good (drained after the deadline, or failed while draining). */
  onConnectionDone(conn: LoadConnection): void;
  /** A connection attempt succeeded (lets the thread finish its warm-up). */
  onConnected(conn: LoadConnection): void;
  /** A connection attempt failed: called once per failure, with the error message. */
  onConnectFailed(conn: LoadConnection, message: string): void;
}

/** Wait before reconnecting after an error, so a dead target costs few CPU cycles. */
const RECONNECT_DELAY_MS = 10;

export class LoadConnection implements ResponseSink {
  private socket: Socket | null = null;
  private connected = false;
  /** Set when we close the socket on purpose, so 'close' does not count as a reset. */
  private closingOnPurpose = false;
  /** The last socket ended in an error: wait a moment before the next attempt. */
  private failed = false;
  /** The server said it will close after the response just completed. */
  private serverClosing = false;
  private readonly counter: ResponseCounter;
  /** Start times (closed loop) or intended times (constant rate) of in-flight requests, FIFO. */
  private readonly startedAt: Float64Array;
  private head = 0;
  inFlight = 0;
  /** When a pipeline slot last became free (lag is counted from here when later than intended). */
  private freeSince = 0;
  /** Time of the read being processed: every response completed in one read shares it. */
  private now = 0;
  private connectStartedAt = 0;
  private done = false;

  private readonly onReadBound = (nread: number, buf: Buffer): boolean => {
    this.onRead(nread, buf);
    return true;
  };
  private readonly onConnectBound = (): void => this.onConnect();
  private readonly onErrorBound = (err: Error): void => this.onError(err);
  private readonly onCloseBound = (): void => this.onClose();
  private readonly onEndBound = (): void => this.onEnd();
  private readonly reconnectBound = (): void => this.open();

  constructor(
    private readonly host: ConnectionHost,
    /** Constant-rate timeline, or null for closed loop. */
    readonly schedule: ConnectionSchedule | null,
  ) {
    this.counter = host.createCounter(this);
    this.startedAt = new Float64Array(host.pipeline);
  }

  /** Opens a new socket. Requests go out once it connects and the run is on. */
  open(): void {
    if (this.done) return;
    if (this.host.phase === 'draining') {
      this.finish();
      return;
    }
    this.connected = false;
    this.closingOnPurpose = false;
    this.failed = false;
    this.serverClosing = false;
    this.counter.reset();
    this.connectStartedAt = performance.now();
    const socket = connect({
      host: this.host.address,
      port: this.host.port,
      noDelay: true,
      onread: { buffer: this.host.readBuffer, callback: this.onReadBound },
    });
    socket.on('connect', this.onConnectBound);
    socket.on('error', this.onErrorBound);
    socket.on('close', this.onCloseBound);
    socket.on('end', this.onEndBound);
    this.socket = socket;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Start of the current connection attempt, or -1 when not connecting (for connect timeouts). */
  connectingSince(): number {
    return this.socket !== null && !this.connected ? this.connectStartedAt : -1;
  }

  /** Oldest in-flight request's start (or intended) time; only meaningful when inFlight > 0. */
  oldestStart(): number {
    return this.startedAt[this.head]!;
  }

  /** For the timeline: the oldest in-flight request's (intended) send time, or now if none is in flight. */
  private lostRequestTime(): number {
    return this.inFlight > 0 ? this.startedAt[this.head]! : performance.now();
  }

  /** The run starts: the warm-up connection is ready, the clock (and any schedule) starts at `startAt`. */
  begin(startAt: number, now: number): void {
    this.schedule?.startAt(startAt);
    this.connectStartedAt = now;
    this.freeSince = now;
    this.onTimer(now);
  }

  /** Sends what is due, or opens the connection a due request needs. Called on the thread's timer. */
  onTimer(now: number): void {
    if (this.socket !== null) this.wake(now);
    else if (
      this.schedule !== null &&
      !this.done &&
      this.host.phase === 'running' &&
      this.schedule.dueAt() <= now
    ) {
      this.open();
    }
  }

  /** Sends what the connection may send now (closed loop: fills every free slot). */
  wake(now: number): void {
    if (this.host.phase !== 'running' || !this.connected || this.serverClosing) return;
    const free = this.host.pipeline - this.inFlight;
    if (free <= 0) return;
    if (this.schedule === null) this.sendBatch(free, now);
    else this.sendDue(free, now);
  }

  /** Closed loop: fill every free slot in one write. */
  private sendBatch(count: number, now: number): void {
    const start = this.host.http1Close ? this.connectStartedAt : now;
    for (let i = 0; i < count; i++) this.push(start);
    this.host.stats.sent += count;
    this.socket!.write(this.host.batches[count]!);
  }

  /** Constant rate: send each due slot (oldest first), recording how late the generator was. */
  private sendDue(free: number, now: number): void {
    const schedule = this.schedule!;
    const stats = this.host.stats;
    let count = 0;
    while (count < free && schedule.dueAt() <= now) {
      const intended = schedule.take();
      const readyAt = intended > this.freeSince ? intended : this.freeSince;
      const lag = now - readyAt;
      stats.lag!.record(Math.round(lag * 1000));
      // Latency counts from the intended time, less the generator's own lateness (timer
      // granularity, a busy event loop), which is reported separately as lag. Waiting for a busy
      // connection (a slow target) stays in: that is the coordinated-omission correction.
      this.push(intended + lag);
      count++;
    }
    if (count > 0) {
      stats.sent += count;
      this.socket!.write(this.host.batches[count]!);
    }
    if (this.inFlight < this.host.pipeline) this.host.wakeAt(schedule.dueAt());
  }

  private push(t: number): void {
    this.startedAt[(this.head + this.inFlight) % this.startedAt.length] = t;
    this.inFlight++;
  }

  onResponseComplete(status: number, keepAlive: boolean): void {
    const stats = this.host.stats;
    const started = this.startedAt[this.head]!;
    this.head = (this.head + 1) % this.startedAt.length;
    this.inFlight--;
    this.freeSince = this.now;
    stats.recordResponse(status, started, this.now);
    if (!keepAlive) this.serverClosing = true;
  }

  private onConnect(): void {
    this.connected = true;
    this.host.onConnected(this);
    const now = performance.now();
    if (this.freeSince < this.connectStartedAt) this.freeSince = now;
    this.wake(now);
  }

  private onRead(nread: number, buf: Buffer): void {
    this.host.stats.bytesRead += nread;
    this.now = performance.now();
    if (!this.counter.feed(buf.subarray(0, nread))) {
      this.host.stats.countError('parse', this.lostRequestTime());
      this.fail();
      return;
    }
    this.afterResponses();
  }

  /** The server closed its side: a close-delimited response ends here; anything else in flight is lost. */
  private onEnd(): void {
    this.now = performance.now();
    this.counter.finish();
    if (this.inFlight > 0) {
      this.host.stats.countError('reset', this.lostRequestTime());
      this.fail();
    } else {
      this.closeOnPurpose();
    }
  }

  private afterResponses(): void {
    if (this.inFlight > 0) return;
    if (this.host.http1Close || this.serverClosing || this.host.phase === 'draining') this.closeOnPurpose();
    else if (this.schedule === null) this.host.wakeSoon(this);
    else this.wake(this.now);
  }

  /** Gives up on the in-flight requests (they timed out) and reconnects. */
  abandon(): void {
    this.fail();
  }

  /** The connection attempt took longer than the timeout. */
  abortConnect(): void {
    this.host.stats.countError('connect', performance.now());
    this.host.onConnectFailed(this, `timed out connecting to ${this.host.address}:${this.host.port}`);
    this.fail();
  }

  private fail(): void {
    this.failed = true;
    this.inFlight = 0;
    this.closeOnPurpose();
  }

  private closeOnPurpose(): void {
    this.closingOnPurpose = true;
    this.socket?.destroy();
  }

  private onError(err: NodeJS.ErrnoException): void {
    this.failed = true;
    if (!this.connected) {
      this.host.stats.countError('connect', performance.now());
      this.host.onConnectFailed(
        this,
        `${err.code ?? err.message} connecting to ${this.host.address}:${this.host.port}`,
      );
    } else if (!this.closingOnPurpose) {
      this.host.stats.countError('reset', this.lostRequestTime());
      this.inFlight = 0; // counted here, not again in onClose
    }
  }

  private onClose(): void {
    if (this.connected && this.inFlight > 0 && !this.closingOnPurpose)
      this.host.stats.countError('reset', this.lostRequestTime());
    this.socket = null;
    this.connected = false;
    this.inFlight = 0;
    this.head = 0;
    if (this.host.phase === 'draining') this.finish();
    else if (this.failed) setTimeout(this.reconnectBound, RECONNECT_DELAY_MS);
    else if (this.schedule === null || !this.host.http1Close) this.open();
    else this.openWhenDue();
  }

  /** Constant rate with http1Close: the next connection opens when its request is due. */
  private openWhenDue(): void {
    const due = this.schedule!.dueAt();
    if (due <= performance.now()) this.open();
    else this.host.wakeAt(due);
  }

  /** Deadline passed: close now if idle, otherwise after the in-flight responses arrive. */
  drain(): void {
    if (this.socket === null) this.finish();
    else if (this.inFlight === 0) this.closeOnPurpose();
  }

  /** Deadline plus grace passed: drop whatever is still in flight. */
  forceClose(): void {
    if (this.socket === null) this.finish();
    else this.closeOnPurpose();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.counter.destroy();
    this.host.onConnectionDone(this);
  }
}
