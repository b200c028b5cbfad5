/**
 * What one worker thread shares with the filters it runs: built once when the worker starts, handed
 * to filter factories as `ctx.services`. Data-plane code depends on this small surface, not on the
 * worker's bootstrapping code.
 */
import type { Registry } from '../registry/registry';
import type { StatsStore } from '../stats/store';
import type { TimerWheel } from '../common/timer-wheel';
import type { ClusterManager } from '../upstream/cluster-manager';
import type { HostTable } from '../upstream/host-table';
import type { DateCache } from '../common/date-cache';
import type { SharedFlag } from './shared-flag';
import type { AccessLogSinks } from '../access-log/api';

export interface WorkerServices {
  readonly workerIndex: number;
  readonly registry: Registry;
  readonly stats: StatsStore;
  readonly timers: TimerWheel;
  readonly clusterManager: ClusterManager;
  /** Per-host counters shared by every worker (tcp_proxy counts its upstream connections there). */
  readonly hostTable: HostTable;
  readonly date: DateCache;
  /** Injected randomness in [0, 1) (tests make it deterministic). */
  readonly random: () => number;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /** Set while the admin's /healthcheck/fail is in effect (the health_check filter answers 503). */
  readonly healthCheckFailed: SharedFlag;
  /** Where access loggers write; absent: this thread's buffered sinks (access-log/sinks.ts). */
  readonly accessLogSinks?: AccessLogSinks;
}
