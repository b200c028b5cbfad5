/**
 * What every connection pool keeps the same way: the queue of requests waiting for a connection
 * (bounded by the circuit breaker's max_pending_requests, counted in upstream_rq_pending_*), and
 * the byte totals of its connections.
 */
import type { ResponseDecoder } from '../http/codec';
import type { CircuitBreaker } from './circuit-breakers';
import type { PoolStats } from '../stats/cluster-stats';
import type { Cancellable, PoolCallbacks, PoolFailureReason } from './pool';

/** A request waiting for a connection; cancelling guarantees no pool callback fires afterwards. */
export class PendingStream implements Cancellable {
  constructor(
    private readonly queue: PendingRequests,
    readonly decoder: ResponseDecoder,
    readonly callbacks: PoolCallbacks,
  ) {}

  cancel(): void {
    this.queue.cancel(this);
  }
}

export class PendingRequests {
  private list: PendingStream[] = [];

  constructor(
    private readonly circuitBreaker: CircuitBreaker,
    private readonly stats: PoolStats | undefined,
  ) {}

  get length(): number {
    return this.list.length;
  }

  /** Queues a request, or fails it at once (overflow) when max_pending_requests is reached. */
  enqueue(decoder: ResponseDecoder, callbacks: PoolCallbacks): PendingStream | null {
    if (!this.circuitBreaker.tryStartPending()) {
      callbacks.onPoolFailure('overflow', 'too many requests waiting for a connection');
      return null;
    }
    const waiting = new PendingStream(this, decoder, callbacks);
    this.list.push(waiting);
    this.stats?.requestQueued();
    return waiting;
  }

  /** The oldest waiting request, taken off the queue (to be attached). */
  shift(): PendingStream | undefined {
    const next = this.list.shift();
    if (next !== undefined) this.dequeued(false);
    return next;
  }

  cancel(waiting: PendingStream): void {
    const i = this.list.indexOf(waiting);
    if (i === -1) return;
    this.list.splice(i, 1);
    this.dequeued(false);
  }

  /** Fails every waiting request; `ejected`: because a connection failed (not the pool closing). */
  failAll(reason: PoolFailureReason, detail: string, ejected: boolean): void {
    // Swap the list first: a retry submitted from a failure callback must not be failed here too.
    const failed = this.list;
    this.list = [];
    for (const waiting of failed) {
      this.dequeued(ejected);
      waiting.callbacks.onPoolFailure(reason, detail);
    }
  }

  private dequeued(ejected: boolean): void {
    this.circuitBreaker.endPending();
    this.stats?.requestDequeued(ejected);
  }
}

/** What a pool connection has already added to the cluster's byte totals. */
export interface ReportedBytes {
  rxReported: number;
  txReported: number;
}

/** Adds what a connection read and wrote since its last report (`rx`, `tx`: its totals) to the cluster's. */
export function reportBytes(stats: PoolStats | undefined, conn: ReportedBytes, rx: number, tx: number): void {
  if (stats === undefined) return;
  stats.bytes(rx - conn.rxReported, tx - conn.txReported);
  conn.rxReported = rx;
  conn.txReported = tx;
}
