/**
 * A boolean the primary sets and every worker reads, in a 4-byte SharedArrayBuffer: e.g. the admin's
 * `/healthcheck/fail`, which the health_check HTTP filter on each worker must see at once, without
 * a message round trip.
 */
export class SharedFlag {
  private readonly cell: Int32Array;

  constructor(readonly sab: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.cell = new Int32Array(sab);
  }

  get value(): boolean {
    return Atomics.load(this.cell, 0) !== 0;
  }

  set value(on: boolean) {
    Atomics.store(this.cell, 0, on ? 1 : 0);
  }
}
