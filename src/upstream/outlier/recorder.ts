/**
 * The worker side of passive outlier detection: the router reports every upstream outcome here,
 * and it keeps each host's consecutive-error counters in the shared host table, so errors seen by
 * different workers add up to one run (five 5xx spread over two workers still make five). The
 * primary's detector (detector.ts) reads the counters each interval and decides on ejections.
 *
 * Classification follows Envoy's `DetectorHostMonitorImpl::putHttpResponseCode`: any 5xx extends
 * the consecutive_5xx run, 502/503/504 also the gateway-failure run, anything else ends both.
 * Local-origin failures (connect failure, reset, timeout) count as 503/504 unless
 * split_external_local_origin_errors, which gives them their own run that any response ends.
 *
 * Hot-path cost for a success: two (three when split) plain loads; a store only to end a run.
 */
import type { OutlierDetectionConfig } from '../../config/bootstrap';
import { HostColumn, type HostTable } from '../host-table';

export class OutlierRecorder {
  private readonly split: boolean;

  constructor(
    private readonly table: HostTable,
    config: OutlierDetectionConfig,
  ) {
    this.split = config.splitExternalLocalOriginErrors;
  }

  /** Response headers with `status` arrived from the host in `slot` (every attempt, retried or not). */
  recordStatus(slot: number, status: number): void {
    const table = this.table;
    if (status >= 500) {
      if (status >= 502 && status <= 504) table.add(slot, HostColumn.ConsecutiveGatewayFailure, 1);
      else endRun(table, slot, HostColumn.ConsecutiveGatewayFailure);
      table.add(slot, HostColumn.Consecutive5xx, 1);
    } else {
      endRun(table, slot, HostColumn.Consecutive5xx);
      endRun(table, slot, HostColumn.ConsecutiveGatewayFailure);
    }
    if (this.split) endRun(table, slot, HostColumn.ConsecutiveLocalOriginFailure);
  }

  /**
   * The host in `slot` failed before answering: connect failure or reset (`timeout` false), or no
   * response in time (`timeout` true). Unsplit, Envoy maps these to 503 and 504.
   */
  recordLocalFailure(slot: number, timeout: boolean): void {
    if (this.split) this.table.add(slot, HostColumn.ConsecutiveLocalOriginFailure, 1);
    else this.recordStatus(slot, timeout ? 504 : 503);
  }
}

/** A success ends a run: write only when there is one, so healthy traffic never writes. */
function endRun(table: HostTable, slot: number, column: HostColumn): void {
  if (table.get(slot, column) !== 0) table.set(slot, column, 0);
}
