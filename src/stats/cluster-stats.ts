/**
 * The `cluster.<name>.*` stats the router updates, bound once per worker per cluster.
 */
import type { StatsStore, Counter, Gauge } from './store';

export class ClusterStats {
  readonly rqTotal: Counter;
  readonly rqCompleted: Counter;
  readonly rqActive: Gauge;
  readonly rqTimeout: Counter;
  readonly rqPerTryTimeout: Counter;
  readonly rqRetry: Counter;
  readonly rqRetrySuccess: Counter;
  readonly rqRxReset: Counter;
  readonly rqTxReset: Counter;
  readonly cxConnectFail: Counter;
  readonly cxConnectTimeout: Counter;
  readonly cxNoneHealthy: Counter;
  readonly rqXx: Counter[];

  constructor(stats: StatsStore, cluster: string) {
    const p = `cluster.${cluster}.`;
    this.rqTotal = stats.counter(p + 'upstream_rq_total');
    this.rqCompleted = stats.counter(p + 'upstream_rq_completed');
    this.rqActive = stats.gauge(p + 'upstream_rq_active');
    this.rqTimeout = stats.counter(p + 'upstream_rq_timeout');
    this.rqPerTryTimeout = stats.counter(p + 'upstream_rq_per_try_timeout');
    this.rqRetry = stats.counter(p + 'upstream_rq_retry');
    this.rqRetrySuccess = stats.counter(p + 'upstream_rq_retry_success');
    this.rqRxReset = stats.counter(p + 'upstream_rq_rx_reset');
    this.rqTxReset = stats.counter(p + 'upstream_rq_tx_reset');
    this.cxConnectFail = stats.counter(p + 'upstream_cx_connect_fail');
    this.cxConnectTimeout = stats.counter(p + 'upstream_cx_connect_timeout');
    this.cxNoneHealthy = stats.counter(p + 'upstream_cx_none_healthy');
    this.rqXx = [1, 2, 3, 4, 5].map((c) => stats.counter(`${p}upstream_rq_${c}xx`));
  }

  recordStatus(status: number): void {
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.rqXx[cls - 1]!.inc();
  }
}
