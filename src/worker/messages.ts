/**
 * Messages between the primary and its worker threads. Everything here is plain, structured-
 * cloneable data; SharedArrayBuffers inside are shared, not copied.
 */
import type { Bootstrap } from '../config/bootstrap';
import type { StatsLayoutData } from '../stats/store';
import type { SharedHostTable } from '../upstream/host-table';
import type { SharedCircuitBreakers } from '../upstream/circuit-breakers';
import type { ListenerSocketPlan } from '../listener/active-listener';
import type { SharedExactBalance } from '../listener/exact-balance';
import type { LogLevel } from '../common/log';
import type { ConsecutiveType } from '../upstream/outlier/ejection-types';
import type { ReloadGeneration } from './reload-plane';

export interface WorkerInit {
  workerIndex: number;
  bootstrap: Bootstrap;
  stats: StatsLayoutData;
  hostTable: SharedHostTable;
  circuitBreakers: SharedCircuitBreakers;
  listeners: ListenerSocketPlan[];
  /** The exact_balance table, when a listener asks for it (and the addon can hand fds over). */
  exactBalance: SharedExactBalance | null;
  logLevel: LogLevel;
  /** The primary's SharedFlag for the admin's /healthcheck/fail. */
  healthCheckFailed: SharedArrayBuffer;
}

export type PrimaryToWorker =
  | { type: 'drain' }
  /** A new config generation (reload-plane.ts). */
  | { type: 'reload'; next: ReloadGeneration }
  | { type: 'log-level'; level: LogLevel }
  /** exact_balance: this worker's mailbox slot `slot` holds a connection (ExactBalance.take). */
  | { type: 'connection'; slot: number }
  /** Test hook (LEGATE_TEST_HOOKS=1 only): die with an uncaught exception, as a bug would. */
  | { type: 'crash' }
  /** Test hook (LEGATE_TEST_HOOKS=1 only): collect garbage and publish the heap gauges. */
  | { type: 'gc' }
  /** Test hook (LEGATE_TEST_HOOKS=1 only): allocate and keep `bytes` of JS heap. */
  | { type: 'allocate'; bytes: number };

export type WorkerToPrimary =
  /** `paths`: per listener, whether the native engine ('native') or Node's sockets ('js') serve it. */
  | { type: 'ready'; ports: Record<string, number>; paths: Record<string, 'native' | 'js'> }
  | { type: 'start-failed'; error: string }
  | { type: 'drained' }
  /** The reload `generation` is in place; `ports` and `paths` of the listeners it started. */
  | {
      type: 'reloaded';
      generation: number;
      ports: Record<string, number>;
      paths: Record<string, 'native' | 'js'>;
    }
  | { type: 'reload-failed'; generation: number; error: string }
  /** Outlier detection: the host in `slot` just had its n-th consecutive `detector` error. */
  | { type: 'outlier-threshold'; slot: number; detector: ConsecutiveType };
