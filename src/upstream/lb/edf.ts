/**
 * Earliest-deadline-first scheduling for weighted picks (Envoy's `EdfScheduler`): every item has a
 * virtual deadline `1 / weight` after the last time it was picked; the item with the earliest
 * deadline goes next (ties by insertion order, so equal weights alternate). Over time each item is
 * picked in proportion to its weight, evenly spread (no bursts as with naive weighted RR), at
 * O(log n) per pick. Weights may change at every reschedule (weighted LEAST_REQUEST does this).
 *
 * Items are small integers 0..capacity-1 (indices into the caller's host array); the heap lives in
 * typed arrays and allocates nothing per pick.
 */
export class EdfScheduler {
  private readonly heap: Int32Array;
  private readonly deadline: Float64Array;
  private readonly order: Float64Array;
  private size = 0;
  private nextOrder = 0;

  constructor(capacity: number) {
    this.heap = new Int32Array(capacity);
    this.deadline = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
  }

  /** Schedules `item` (not yet scheduled) one period of `weight` (> 0) after virtual time zero. */
  add(item: number, weight: number): void {
    this.deadline[item] = 1 / weight;
    this.order[item] = this.nextOrder++;
    this.heap[this.size] = item;
    this.siftUp(this.size++);
  }

  /** The item due next. The scheduler must not be empty. */
  earliest(): number {
    return this.heap[0]!;
  }

  /**
   * Records that the earliest item was picked: it is due again one period of `weight` after its
   * current deadline (which is now the scheduler's virtual time).
   */
  advanceEarliest(weight: number): void {
    const item = this.heap[0]!;
    this.deadline[item] = this.deadline[item]! + 1 / weight;
    this.order[item] = this.nextOrder++;
    this.siftDown(0);
  }

  private before(a: number, b: number): boolean {
    const da = this.deadline[a]!;
    const db = this.deadline[b]!;
    return da < db || (da === db && this.order[a]! < this.order[b]!);
  }

  private siftUp(pos: number): void {
    const heap = this.heap;
    const item = heap[pos]!;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!this.before(item, heap[parent]!)) break;
      heap[pos] = heap[parent]!;
      pos = parent;
    }
    heap[pos] = item;
  }

  private siftDown(pos: number): void {
    const heap = this.heap;
    const size = this.size;
    const item = heap[pos]!;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= size) break;
      if (child + 1 < size && this.before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.before(heap[child]!, item)) break;
      heap[pos] = heap[child]!;
      pos = child;
    }
    heap[pos] = item;
  }
}
