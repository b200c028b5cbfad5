/**
 * The worker side of passive outlier detection: the router reports every upstream outcome here,
 * and it keeps each host's counters in the shared host table, so errors seen by different workers
 * add up (five 5xx spread over two workers still make a run of five):
 * - consecutive-error runs: the worker whose increment makes a run reach its threshold (exactly
 *   one does: `Atomics.add` returns the new value) tells the primary at once through
 *   `onThreshold`, and the primary's detector (detector.ts) decides on the ejection then, as Envoy
 *   ejects on the n-th consecutive error rather than at the next interval;
 * - per-interval request and failure counts for the success-rate and failure-percentage detectors,
 *   which the primary reads and zeroes every interval. Clusters too small for either detector to
 *   ever fire (fewer slots than both `*_minimum_hosts`) skip this counting.
 *
 * Classification follows Envoy's `DetectorHostMonitorImpl::putHttpResponseCode`: any 5xx extends
 * the consecutive_5xx run and is an external-origin failure, 502/503/504 also extend the
 * gateway-failure run, anything else ends both. Local-origin failures (connect failure, reset,
 * timeout) count as 503/504 unless split_external_local_origin_errors, which gives them their own
 * run and counts, where any response counts as a local-origin success.
 *
 * Hot-path cost for a success: one atomic add (none in small clusters), two or three plain loads;
 * a store only to end a run.
 */
import type { OutlierDetectionConfig } from '../../config/bootstrap';
import { HostColumn, type HostTable } from '../host-table';
import type { ConsecutiveType } from './ejection-types';
import { rateDetectorsCanFire } from './rate-detectors';

/** Told when a host's run of `type` errors has just reached its threshold (the worker posts it on). */
export type ThresholdListener = (slot: number, type: ConsecutiveType) => void;

export class OutlierRecorder {
  private readonly split: boolean;
  private readonly countRates: boolean;
  /** Thresholds; 0 disables a detector (an incremented run is never 0). */
  private readonly consecutive5xx: number;
  private readonly consecutiveGatewayFailure: number;
  private readonly consecutiveLocalOriginFailure: number;

  constructor(
    private readonly table: HostTable,
    config: OutlierDetectionConfig,
    /** The slots of the cluster (an upper bound on its host count). */
    slotCapacity: number,
    /** Absent in unit tests of the worker side: nobody decides. */
    private readonly onThreshold: ThresholdListener = () => {},
  ) {
    this.split = config.splitExternalLocalOriginErrors;
    this.countRates = rateDetectorsCanFire(config, slotCapacity);
    this.consecutive5xx = config.consecutive5xx;
    this.consecutiveGatewayFailure = config.consecutiveGatewayFailure;
    this.consecutiveLocalOriginFailure = config.consecutiveLocalOriginFailure;
  }

  /** Response headers with `status` arrived from the host in `slot` (every attempt, retried or not). */
  recordStatus(slot: number, status: number): void {
    const table = this.table;
    // Requests before failures: the primary takes failures first, so it never sees more failures than requests.
    if (this.countRates) table.add(slot, HostColumn.OutlierRequests, 1);
    if (status >= 500) {
      if (this.countRates) table.add(slot, HostColumn.OutlierFailures, 1);
      if (status >= 502 && status <= 504) {
        if (table.add(slot, HostColumn.ConsecutiveGatewayFailure, 1) === this.consecutiveGatewayFailure)
          this.onThreshold(slot, 'consecutive_gateway_failure');
      } else endRun(table, slot, HostColumn.ConsecutiveGatewayFailure);
      if (table.add(slot, HostColumn.Consecutive5xx, 1) === this.consecutive5xx)
        this.onThreshold(slot, 'consecutive_5xx');
    } else {
      endRun(table, slot, HostColumn.Consecutive5xx);
      endRun(table, slot, HostColumn.ConsecutiveGatewayFailure);
    }
    if (this.split) {
      if (this.countRates) table.add(slot, HostColumn.LocalOriginRequests, 1);
      endRun(table, slot, HostColumn.ConsecutiveLocalOriginFailure);
    }
  }

  /**
   * The host in `slot` failed before answering: connect failure or reset (`timeout` false), or no
   * response in time (`timeout` true). Unsplit, Envoy maps these to 503 and 504.
   */
  recordLocalFailure(slot: number, timeout: boolean): void {
    if (!this.split) return this.recordStatus(slot, timeout ? 504 : 503);
    const table = this.table;
    if (this.countRates) {
      table.add(slot, HostColumn.LocalOriginRequests, 1);
      table.add(slot, HostColumn.LocalOriginFailures, 1);
    }
    if (table.add(slot, HostColumn.ConsecutiveLocalOriginFailure, 1) === this.consecutiveLocalOriginFailure)
      this.onThreshold(slot, 'consecutive_local_origin_failure');
  }
}

/** A success ends a run: write only when there is one, so healthy traffic never writes. */
function endRun(table: HostTable, slot: number, column: HostColumn): void {
  if (table.get(slot, column) !== 0) table.set(slot, column, 0);
}
