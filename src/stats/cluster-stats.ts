/**
 * The `cluster.<name>.*` stats, bound once per worker per cluster: the router updates the request
 * stats, the connection pool the connection stats (through `PoolStats`), and the cluster its
 * membership gauges.
 */
import type { StatsStore, Counter, CounterGroup, Gauge } from './store';
import type { Histogram } from './histogram';
import { CLUSTER_STATUS_CODE_COUNTERS } from './names';

/** What a connection pool reports about its connections (implemented by ClusterStats). */
export interface PoolStats {
  /** A connection attempt started (upstream_cx_total, upstream_cx_active; and upstream_cx_http2_total). */
  connectionOpened(http2?: boolean): void;
  /** The attempt connected after `ms` (upstream_cx_connect_ms). */
  connected(ms: number): void;
  /** The attempt failed (upstream_cx_connect_fail) or timed out (upstream_cx_connect_timeout). */
  connectFailed(timedOut: boolean): void;
  /** Bytes read and written since the last report (upstream_cx_rx/tx_bytes_total). */
  bytes(rx: number, tx: number): void;
  /** A connection counted by connectionOpened is gone (upstream_cx_active, upstream_cx_destroy). */
  connectionClosed(): void;
  /** The upstream broke HTTP/1 on a connection (upstream_cx_protocol_error). */
  protocolError(): void;
  /** A request started waiting for a connection (upstream_rq_pending_total, upstream_rq_pending_active). */
  requestQueued(): void;
  /**
   * A waiting request left the queue: attached, cancelled or failed (upstream_rq_pending_active);
   * `ejected`: failed because connecting failed (upstream_rq_pending_failure_eject).
   */
  requestDequeued(ejected: boolean): void;
}

export class ClusterStats implements PoolStats {
  readonly rqTotal: Counter;
  readonly rqCompleted: Counter;
  readonly rqActive: Gauge;
  readonly rqTimeout: Counter;
  readonly rqPerTryTimeout: Counter;
  /** Attempts the cluster's max_stream_duration ended. */
  readonly rqMaxDurationReached: Counter;
  readonly rqRetry: Counter;
  readonly rqRetrySuccess: Counter;
  readonly rqRxReset: Counter;
  readonly rqTxReset: Counter;
  readonly cxTotal: Counter;
  readonly cxHttp2Total: Counter;
  readonly cxActive: Gauge;
  readonly cxDestroy: Counter;
  readonly cxConnectFail: Counter;
  readonly cxConnectTimeout: Counter;
  readonly cxConnectMs: Histogram;
  readonly cxRxBytes: Counter;
  readonly cxTxBytes: Counter;
  readonly cxNoneHealthy: Counter;
  readonly cxProtocolError: Counter;
  readonly rqPendingTotal: Counter;
  readonly rqPendingActive: Gauge;
  readonly rqPendingFailureEject: Counter;
  /** Picks made in panic mode (too few healthy hosts: every host is eligible). */
  readonly lbHealthyPanic: Counter;
  readonly rqXx: Counter[];
  readonly rqCode: CounterGroup;
  readonly rqTime: Histogram;
  /** Only one worker reports membership (each sees the same host set; a sum would multiply it). */
  private readonly membershipTotal: Gauge | null;
  private readonly membershipHealthy: Gauge | null;

  constructor(stats: StatsStore, cluster: string, reportsMembership = false) {
    const p = `cluster.${cluster}.`;
    this.rqTotal = stats.counter(p + 'upstream_rq_total');
    this.rqCompleted = stats.counter(p + 'upstream_rq_completed');
    this.rqActive = stats.gauge(p + 'upstream_rq_active');
    this.rqTimeout = stats.counter(p + 'upstream_rq_timeout');
    this.rqPerTryTimeout = stats.counter(p + 'upstream_rq_per_try_timeout');
    this.rqMaxDurationReached = stats.counter(p + 'upstream_rq_max_duration_reached');
    this.rqRetry = stats.counter(p + 'upstream_rq_retry');
    this.rqRetrySuccess = stats.counter(p + 'upstream_rq_retry_success');
    this.rqRxReset = stats.counter(p + 'upstream_rq_rx_reset');
    this.rqTxReset = stats.counter(p + 'upstream_rq_tx_reset');
    this.cxTotal = stats.counter(p + 'upstream_cx_total');
    this.cxHttp2Total = stats.counter(p + 'upstream_cx_http2_total');
    this.cxActive = stats.gauge(p + 'upstream_cx_active');
    this.cxDestroy = stats.counter(p + 'upstream_cx_destroy');
    this.cxConnectFail = stats.counter(p + 'upstream_cx_connect_fail');
    this.cxConnectTimeout = stats.counter(p + 'upstream_cx_connect_timeout');
    this.cxConnectMs = stats.histogram(p + 'upstream_cx_connect_ms');
    this.cxRxBytes = stats.counter(p + 'upstream_cx_rx_bytes_total');
    this.cxTxBytes = stats.counter(p + 'upstream_cx_tx_bytes_total');
    this.cxNoneHealthy = stats.counter(p + 'upstream_cx_none_healthy');
    this.cxProtocolError = stats.counter(p + 'upstream_cx_protocol_error');
    this.rqPendingTotal = stats.counter(p + 'upstream_rq_pending_total');
    this.rqPendingActive = stats.gauge(p + 'upstream_rq_pending_active');
    this.rqPendingFailureEject = stats.counter(p + 'upstream_rq_pending_failure_eject');
    this.lbHealthyPanic = stats.counter(p + 'lb_healthy_panic');
    this.rqXx = [1, 2, 3, 4, 5].map((c) => stats.counter(`${p}upstream_rq_${c}xx`));
    this.rqCode = stats.counterGroup(CLUSTER_STATUS_CODE_COUNTERS.map((n) => p + n));
    this.rqTime = stats.histogram(p + 'upstream_rq_time');
    this.membershipTotal = reportsMembership ? stats.gauge(p + 'membership_total') : null;
    this.membershipHealthy = reportsMembership ? stats.gauge(p + 'membership_healthy') : null;
  }

  /** Response headers arrived from the upstream, `ms` after the attempt started. */
  recordResponse(status: number, ms: number): void {
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) {
      this.rqXx[cls - 1]!.inc();
      this.rqCode.inc(status - 100);
    }
    this.rqTime.record(ms);
  }

  /** The cluster's host set or a host's health changed. */
  setMembership(hosts: readonly { readonly healthy: boolean }[]): void {
    if (this.membershipTotal === null) return;
    let healthy = 0;
    for (const h of hosts) if (h.healthy) healthy++;
    this.membershipTotal.set(hosts.length);
    this.membershipHealthy!.set(healthy);
  }

  connectionOpened(http2 = false): void {
    if (http2) this.cxHttp2Total.inc();
    this.cxTotal.inc();
    this.cxActive.inc();
  }

  connected(ms: number): void {
    this.cxConnectMs.record(ms);
  }

  connectFailed(timedOut: boolean): void {
    (timedOut ? this.cxConnectTimeout : this.cxConnectFail).inc();
  }

  bytes(rx: number, tx: number): void {
    this.cxRxBytes.add(rx);
    this.cxTxBytes.add(tx);
  }

  connectionClosed(): void {
    this.cxActive.dec();
    this.cxDestroy.inc();
  }

  protocolError(): void {
    this.cxProtocolError.inc();
  }

  requestQueued(): void {
    this.rqPendingTotal.inc();
    this.rqPendingActive.inc();
  }

  requestDequeued(ejected: boolean): void {
    this.rqPendingActive.dec();
    if (ejected) this.rqPendingFailureEject.inc();
  }
}
