/**
 * The primary side of passive outlier detection for one cluster (Envoy's `Outlier::DetectorImpl`).
 * The one decision-maker is the primary, so `max_ejection_percent` and the per-host ejection
 * backoff need no cross-thread agreement; the verdict is the host table's OutlierEjected column,
 * which workers apply to their LBs when the cluster's health generation moves.
 *
 * - `onThreshold`: a worker saw a host's run of consecutive errors reach its threshold (recorder.ts)
 *   and the primary decides at once, as Envoy does on its main thread (ignored while ejected).
 * - `sweep`, every `interval`: returns hosts whose ejection is over, runs the success-rate and
 *   failure-percentage detectors over the requests of the interval (rate-detectors.ts), keeps what
 *   they computed for `/clusters` (SuccessRateReadout), and lowers the backoff of hosts that stayed
 *   clean.
 * - `onActiveCheckPassed`: with successful_active_health_check_uneject_host, an ejected host that
 *   passes an active health check returns at once.
 *
 * Envoy's rules, kept here:
 * - a detector that fires counts `ejections_detected_<type>`; the ejection happens if
 *   (active + 1) / hosts <= max_ejection_percent, or none is ejected and always_eject_one_host (else
 *   `ejections_overflow`), and a roll passes `enforcing_<type>` percent (then
 *   `ejections_enforced_<type>` and `ejections_enforced_total`);
 * - an ejection lasts min(base_ejection_time × backoff, max_ejection_time) plus a random jitter up
 *   to max_ejection_time_jitter; each ejection raises the backoff (while base × backoff < max +
 *   base), each interval a returned host stays clean lowers it, so a flapping host is ejected for
 *   longer and longer.
 */
import type { OutlierDetectionConfig } from '../../config/bootstrap';
import { HostColumn, type ClusterSlots, type HostTable } from '../host-table';
import { enforcingPercent, type ConsecutiveType, type EjectionType } from './ejection-types';
import {
  NOT_COMPUTED,
  rateDetectorsCanFire,
  rateVerdict,
  type HostRate,
  type Origin,
  type SuccessRateNums,
} from './rate-detectors';

/** The host-table column of each consecutive-error run. */
const RUN_COLUMN: Record<ConsecutiveType, HostColumn> = {
  consecutive_5xx: HostColumn.Consecutive5xx,
  consecutive_gateway_failure: HostColumn.ConsecutiveGatewayFailure,
  consecutive_local_origin_failure: HostColumn.ConsecutiveLocalOriginFailure,
};

/** Where the detector reports (the primary binds these to `cluster.<c>.outlier_detection.*`). */
export interface OutlierEvents {
  detected(type: EjectionType): void;
  enforced(type: EjectionType): void;
  overflow(): void;
  /** ejections_active moved by `delta`. */
  activeChanged(delta: number): void;
}

export interface DetectorDeps {
  /** Monotonic ms. */
  nowMs(): number;
  /** Uniform in [0, 1): the enforcement roll and the ejection jitter. */
  random(): number;
  events: OutlierEvents;
}

/**
 * What the success-rate detector computed at the last interval, per origin (Envoy's
 * `Detector::successRateAverage`/`successRateEjectionThreshold` and
 * `DetectorHostMonitor::successRate`): read by the admin's `/clusters`. Every value is -1 when not
 * computed at the last interval (too few hosts or requests, the host ejected, or, for the local
 * origin, split_external_local_origin_errors off).
 */
export interface SuccessRateReadout {
  successRateNums(origin: Origin): SuccessRateNums;
  /** The host's success rate (percent) over the last interval. */
  hostSuccessRate(slot: number, origin: Origin): number;
}

/** Primary-only state of one host (Envoy's DetectorHostMonitorImpl). */
interface HostState {
  backoff: number;
  ejectedAtMs: number;
  jitterMs: number;
  /** When the host last returned from an ejection; -1 before its first ejection ends. */
  returnedAtMs: number;
}

export class ClusterOutlierDetector implements SuccessRateReadout {
  private readonly states = new Map<number, HostState>();
  /** The last interval's per-host success rates by origin, indexed by slot − firstSlot; -1: none. */
  private readonly hostRates: Record<Origin, Float64Array>;
  private readonly nums: Record<Origin, SuccessRateNums> = { external: NOT_COMPUTED, local: NOT_COMPUTED };
  private active = 0;
  /** Whether workers count requests for the rate detectors (recorder.ts decides the same way). */
  private readonly countsRates: boolean;

  constructor(
    private readonly config: OutlierDetectionConfig,
    private readonly table: HostTable,
    private readonly range: ClusterSlots,
    private readonly deps: DetectorDeps,
    /** STATIC clusters use every slot; DNS clusters only those an address has claimed. */
    private readonly everySlotIsAHost: boolean,
  ) {
    this.countsRates = rateDetectorsCanFire(config, range.capacity);
    this.hostRates = {
      external: new Float64Array(range.capacity).fill(-1),
      local: new Float64Array(range.capacity).fill(-1),
    };
  }

  /** Whether `slot` is one of this cluster's rows. */
  owns(slot: number): boolean {
    return slot >= this.range.firstSlot && slot < this.range.firstSlot + this.range.capacity;
  }

  /** A worker saw the host's run of `type` errors reach its threshold: detect (and maybe eject) now. */
  onThreshold(slot: number, type: ConsecutiveType): void {
    if (this.isEjected(slot)) return;
    // Envoy resets the run that fired, so a new run of n errors is detected again.
    this.table.set(slot, RUN_COLUMN[type], 0);
    this.deps.events.detected(type);
    if (this.eject(slot, this.deps.nowMs(), this.hostSlots().length, type))
      this.table.healthChanged(this.range);
  }

  /** An active health check of the host passed (and it is not failed by active checking). */
  onActiveCheckPassed(slot: number): void {
    if (!this.config.successfulActiveHealthCheckUnejectHost || !this.isEjected(slot)) return;
    if (this.table.get(slot, HostColumn.ActiveHcFailed) !== 0) return;
    this.uneject(slot, this.deps.nowMs());
    this.table.healthChanged(this.range);
  }

  /** One interval: returns, the rate detectors, then backoff decay (Envoy's onIntervalTimer order). */
  sweep(): void {
    const now = this.deps.nowMs();
    const hosts = this.hostSlots();
    let changed = false;
    for (const slot of hosts) if (this.isEjected(slot)) changed = this.maybeReturn(slot, now) || changed;
    // Envoy forgets the last interval's numbers at each one; detectRates sets the new ones.
    for (const origin of ['external', 'local'] as const) {
      this.hostRates[origin].fill(-1);
      this.nums[origin] = NOT_COMPUTED;
    }
    if (this.countsRates) {
      changed = this.detectRates(hosts, now, 'external') || changed;
      if (this.config.splitExternalLocalOriginErrors)
        changed = this.detectRates(hosts, now, 'local') || changed;
    }
    for (const slot of hosts) if (!this.isEjected(slot)) this.decayBackoff(slot, now);
    // Every worker's cluster sees the new generation on its next pick and rebuilds its LB.
    if (changed) this.table.healthChanged(this.range);
  }

  successRateNums(origin: Origin): SuccessRateNums {
    return this.nums[origin];
  }

  hostSuccessRate(slot: number, origin: Origin): number {
    return this.owns(slot) ? this.hostRates[origin][slot - this.range.firstSlot]! : -1;
  }

  /** The current ejection multiplier of a host (for tests and /clusters). */
  backoffOf(slot: number): number {
    return this.states.get(slot)?.backoff ?? 0;
  }

  private isEjected(slot: number): boolean {
    return this.table.get(slot, HostColumn.OutlierEjected) !== 0;
  }

  private hostSlots(): number[] {
    const slots: number[] = [];
    const { firstSlot, capacity } = this.range;
    for (let slot = firstSlot; slot < firstSlot + capacity; slot++) {
      if (this.everySlotIsAHost || this.table.get(slot, HostColumn.AddressKey) !== 0) slots.push(slot);
    }
    return slots;
  }

  /** The success-rate and failure-percentage detectors over one origin's counts of the interval. */
  private detectRates(hosts: readonly number[], now: number, origin: Origin): boolean {
    const rates =
      origin === 'external'
        ? this.rates(hosts, HostColumn.OutlierRequests, HostColumn.OutlierFailures)
        : this.rates(hosts, HostColumn.LocalOriginRequests, HostColumn.LocalOriginFailures);
    const verdict = rateVerdict(this.config, origin, rates, hosts.length);
    this.nums[origin] = verdict.successRate;
    for (const h of verdict.rated) this.hostRates[origin][h.slot - this.range.firstSlot] = h.successRate;
    let changed = false;
    for (const { slot, type } of verdict.outliers) {
      // A host both detectors flag is ejected (and counted) once.
      if (this.isEjected(slot)) continue;
      this.deps.events.detected(type);
      changed = this.eject(slot, now, hosts.length, type) || changed;
    }
    return changed;
  }

  /**
   * Reads and zeroes every host's counts of the interval (ejected hosts' too, then drops them).
   * Failures are taken before requests: workers count a request before its failure, so a failure
   * taken now always has its request taken too.
   */
  private rates(
    hosts: readonly number[],
    requestsColumn: HostColumn,
    failuresColumn: HostColumn,
  ): HostRate[] {
    const rates: HostRate[] = [];
    for (const slot of hosts) {
      const failures = this.table.take(slot, failuresColumn);
      const requests = this.table.take(slot, requestsColumn);
      if (requests === 0 || this.isEjected(slot)) continue;
      rates.push({ slot, requests, successRate: ((requests - failures) * 100) / requests });
    }
    return rates;
  }

  private state(slot: number): HostState {
    let s = this.states.get(slot);
    if (s === undefined) {
      s = { backoff: 0, ejectedAtMs: 0, jitterMs: 0, returnedAtMs: -1 };
      this.states.set(slot, s);
    }
    return s;
  }

  private maybeReturn(slot: number, now: number): boolean {
    const s = this.state(slot);
    const c = this.config;
    const duration = Math.min(c.baseEjectionTimeMs * s.backoff, c.maxEjectionTimeMs) + s.jitterMs;
    if (now - s.ejectedAtMs < duration) return false;
    this.uneject(slot, now);
    return true;
  }

  private uneject(slot: number, now: number): void {
    this.table.set(slot, HostColumn.OutlierEjected, 0);
    // Errors counted while ejected (requests already in flight) must not eject it again on return.
    for (const column of Object.values(RUN_COLUMN)) this.table.set(slot, column, 0);
    this.state(slot).returnedAtMs = now;
    this.active--;
    this.deps.events.activeChanged(-1);
  }

  /** A returned host that stayed clean for an interval gets a shorter next ejection. */
  private decayBackoff(slot: number, now: number): void {
    const s = this.states.get(slot);
    if (s === undefined || s.returnedAtMs < 0 || s.backoff === 0) return;
    if (now - s.returnedAtMs >= this.config.intervalMs) s.backoff--;
  }

  private eject(slot: number, now: number, hostCount: number, type: EjectionType): boolean {
    const c = this.config;
    const withinPercent = (100 * (this.active + 1)) / hostCount <= c.maxEjectionPercent;
    if (!withinPercent && !(c.alwaysEjectOneHost && this.active === 0)) {
      this.deps.events.overflow();
      return false;
    }
    if (this.deps.random() * 100 >= enforcingPercent(c, type)) return false;
    const s = this.state(slot);
    if (c.baseEjectionTimeMs * s.backoff < c.maxEjectionTimeMs + c.baseEjectionTimeMs) s.backoff++;
    s.ejectedAtMs = now;
    s.jitterMs = Math.floor(this.deps.random() * (c.maxEjectionTimeJitterMs + 1));
    this.table.set(slot, HostColumn.OutlierEjected, 1);
    this.active++;
    this.deps.events.enforced(type);
    this.deps.events.activeChanged(1);
    return true;
  }
}
