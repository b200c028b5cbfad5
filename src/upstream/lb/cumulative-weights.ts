/**
 * Weighted draws over a fixed host list: running sums of the weights and a binary search, so a draw
 * is O(log n) and allocates nothing. Used by RANDOM (one draw) and PEAK_EWMA (two distinct draws).
 */
import type { Host } from '../host';

export class CumulativeWeights {
  /** sums[i] = weight of hosts 0..i. */
  private readonly sums: Float64Array;
  readonly total: number;

  constructor(hosts: readonly Host[]) {
    this.sums = new Float64Array(hosts.length);
    let sum = 0;
    for (let i = 0; i < hosts.length; i++) this.sums[i] = sum += hosts[i]!.weight;
    this.total = sum;
  }

  /** The index whose weight interval holds `target` (0 <= target < total). */
  indexOf(target: number): number {
    const sums = this.sums;
    let lo = 0;
    let hi = sums.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sums[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** An index drawn with probability weight / total, from `r` uniform in [0, 1). */
  draw(r: number): number {
    return this.indexOf(r * this.total);
  }

  /**
   * An index other than `first`, drawn with probability weight / (total − weight of `first`): the
   * second draw of a weighted sample without replacement. Needs at least two hosts.
   */
  drawOther(r: number, first: number): number {
    const end = this.sums[first]!;
    const weight = end - (first === 0 ? 0 : this.sums[first - 1]!);
    const target = r * (this.total - weight);
    return this.indexOf(target < end - weight ? target : target + weight);
  }
}
