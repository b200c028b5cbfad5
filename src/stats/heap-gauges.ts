/**
 * A thread's V8 heap in the shared stats, as Envoy's `server.memory_allocated` and
 * `server.memory_heap_size` gauges: every thread (the primary and each worker) has its own heap and
 * writes its own row, so the admin's sum over the rows is the JS heap of the whole process and a
 * single row is one thread's (the admin's `/memory`). Workers publish every HEAP_PUBLISH_MS; the
 * primary publishes when the admin reads.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { Gauge, StatsStore } from './store';

/** How stale a worker's figures in `/memory` and `/stats` may be. */
export const HEAP_PUBLISH_MS = 1000;

export interface HeapFigures {
  allocated: number;
  heapSize: number;
}

export class HeapGauges {
  private readonly allocated: Gauge;
  private readonly heapSize: Gauge;
  private timer: NodeJS.Timeout | null = null;

  constructor(stats: StatsStore) {
    this.allocated = stats.gauge('server.memory_allocated');
    this.heapSize = stats.gauge('server.memory_heap_size');
  }

  /** Writes this thread's heap figures now (bytes in use by JS objects, and reserved); returns them. */
  publish(): HeapFigures {
    const h = v8.getHeapStatistics();
    this.allocated.set(h.used_heap_size);
    this.heapSize.set(h.total_heap_size);
    return { allocated: h.used_heap_size, heapSize: h.total_heap_size };
  }

  /** Publishes now and every HEAP_PUBLISH_MS, without keeping the thread alive, until stop(). */
  start(): void {
    this.publish();
    this.timer = setInterval(() => this.publish(), HEAP_PUBLISH_MS).unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * A full garbage collection now (test hook only: LEGATE_TEST_HOOKS=1 `/debug/gc`), so a heap
 * figure read next counts what is retained, not what awaits collection.
 */
export function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}
