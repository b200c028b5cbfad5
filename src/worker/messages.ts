/**
 * Messages between the primary and its worker threads. Everything here is plain, structured-
 * cloneable data; SharedArrayBuffers inside are shared, not copied.
 */
import type { Bootstrap } from '../config/bootstrap';
import type { StatsLayoutData } from '../stats/store';
import type { SharedHostTable } from '../upstream/host-table';
import type { ListenerSocketPlan } from '../listener/active-listener';
import type { LogLevel } from '../common/log';

export interface WorkerInit {
  workerIndex: number;
  bootstrap: Bootstrap;
  stats: StatsLayoutData;
  hostTable: SharedHostTable;
  listeners: ListenerSocketPlan[];
  logLevel: LogLevel;
}

export type PrimaryToWorker =
  | { type: 'drain' }
  | { type: 'log-level'; level: LogLevel }
  /** Test hook (LEGATE_TEST_HOOKS=1 only): die with an uncaught exception, as a bug would. */
  | { type: 'crash' };

export type WorkerToPrimary =
  | { type: 'ready'; ports: Record<string, number> }
  | { type: 'start-failed'; error: string }
  | { type: 'drained' };
