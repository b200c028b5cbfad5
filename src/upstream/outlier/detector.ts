/**
 * The primary side of passive outlier detection for one cluster (Envoy's `Outlier::DetectorImpl`):
 * every `interval` it reads the consecutive-error counters the workers keep in the shared host
 * table (recorder.ts), ejects hosts whose run reached a threshold, and returns ejected hosts once
 * their time is served. The one decision-maker is the primary, so `max_ejection_percent` and the
 * per-host ejection backoff need no cross-thread agreement; the verdict is the host table's
 * OutlierEjected column, which workers apply to their LBs when the cluster's health generation moves.
 *
 * Envoy's rules, kept here:
 * - a detector that fires counts `ejections_detected_<type>`; the ejection happens if
 *   (active + 1) / hosts <= max_ejection_percent (else `ejections_overflow`) and a roll passes
 *   `enforcing_<type>` percent (then `ejections_enforced_<type>` and `ejections_enforced_total`);
 * - an ejection lasts min(base_ejection_time × backoff, max_ejection_time); each ejection raises the
 *   backoff (while base × backoff < max + base), each interval a returned host stays clean lowers it,
 *   so a flapping host is ejected for longer and longer.
 * Unlike Envoy, which ejects as soon as a worker sees the n-th error, ejection waits for the next
 * interval sweep (at most `interval` later).
 */
import type { OutlierDetectionConfig } from '../../config/bootstrap';
import { HostColumn, type ClusterSlots, type HostTable } from '../host-table';

/** The detectors, in the order Envoy runs them for one response (gateway first). */
const DETECTORS = [
  {
    column: HostColumn.ConsecutiveGatewayFailure,
    threshold: (c: OutlierDetectionConfig) => c.consecutiveGatewayFailure,
    enforcing: (c: OutlierDetectionConfig) => c.enforcingConsecutiveGatewayFailure,
    type: 'consecutive_gateway_failure',
  },
  {
    column: HostColumn.Consecutive5xx,
    threshold: (c: OutlierDetectionConfig) => c.consecutive5xx,
    enforcing: (c: OutlierDetectionConfig) => c.enforcingConsecutive5xx,
    type: 'consecutive_5xx',
  },
  {
    column: HostColumn.ConsecutiveLocalOriginFailure,
    threshold: (c: OutlierDetectionConfig) => c.consecutiveLocalOriginFailure,
    enforcing: (c: OutlierDetectionConfig) => c.enforcingConsecutiveLocalOriginFailure,
    type: 'consecutive_local_origin_failure',
  },
] as const;

export type EjectionType = (typeof DETECTORS)[number]['type'];

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
  /** Uniform in [0, 1): the enforcement roll. */
  random(): number;
  events: OutlierEvents;
}

/** Primary-only state of one host (Envoy's DetectorHostMonitorImpl). */
interface HostState {
  backoff: number;
  ejectedAtMs: number;
  /** When the host last returned from an ejection; -1 before its first ejection ends. */
  returnedAtMs: number;
}

export class ClusterOutlierDetector {
  private readonly states = new Map<number, HostState>();
  private active = 0;

  constructor(
    private readonly config: OutlierDetectionConfig,
    private readonly table: HostTable,
    private readonly range: ClusterSlots,
    private readonly deps: DetectorDeps,
    /** STATIC clusters use every slot; DNS clusters only those an address has claimed. */
    private readonly everySlotIsAHost: boolean,
  ) {}

  /** One interval: return hosts whose ejection is over, then eject hosts whose run reached a threshold. */
  sweep(): void {
    const now = this.deps.nowMs();
    const hosts = this.hostSlots();
    let changed = false;
    for (const slot of hosts) {
      if (this.table.get(slot, HostColumn.OutlierEjected) !== 0)
        changed = this.maybeReturn(slot, now) || changed;
      else this.decayBackoff(slot, now);
    }
    for (const slot of hosts) changed = this.detect(slot, now, hosts.length) || changed;
    // Every worker's cluster sees the new generation on its next pick and rebuilds its LB.
    if (changed) this.table.healthChanged(this.range);
  }

  /** The current ejection multiplier of a host (for tests and /clusters). */
  backoffOf(slot: number): number {
    return this.states.get(slot)?.backoff ?? 0;
  }

  private hostSlots(): number[] {
    const slots: number[] = [];
    const { firstSlot, capacity } = this.range;
    for (let slot = firstSlot; slot < firstSlot + capacity; slot++) {
      if (this.everySlotIsAHost || this.table.get(slot, HostColumn.AddressKey) !== 0) slots.push(slot);
    }
    return slots;
  }

  private state(slot: number): HostState {
    let s = this.states.get(slot);
    if (s === undefined) {
      s = { backoff: 0, ejectedAtMs: 0, returnedAtMs: -1 };
      this.states.set(slot, s);
    }
    return s;
  }

  private maybeReturn(slot: number, now: number): boolean {
    const s = this.state(slot);
    const c = this.config;
    const duration = Math.min(c.baseEjectionTimeMs * s.backoff, c.maxEjectionTimeMs);
    // Errors counted while ejected (requests already in flight) must not eject it again on return.
    this.clearRuns(slot);
    if (now - s.ejectedAtMs < duration) return false;
    this.table.set(slot, HostColumn.OutlierEjected, 0);
    s.returnedAtMs = now;
    this.active--;
    this.deps.events.activeChanged(-1);
    return true;
  }

  /** A returned host that stayed clean for an interval gets a shorter next ejection. */
  private decayBackoff(slot: number, now: number): void {
    const s = this.states.get(slot);
    if (s === undefined || s.returnedAtMs < 0 || s.backoff === 0) return;
    if (now - s.returnedAtMs >= this.config.intervalMs) s.backoff--;
  }

  private detect(slot: number, now: number, hostCount: number): boolean {
    if (this.table.get(slot, HostColumn.OutlierEjected) !== 0) return false;
    for (const d of DETECTORS) {
      const threshold = d.threshold(this.config);
      if (threshold === 0 || this.table.get(slot, d.column) < threshold) continue;
      this.table.set(slot, d.column, 0);
      this.deps.events.detected(d.type);
      if (this.eject(slot, now, hostCount, d.type, d.enforcing(this.config))) return true;
    }
    return false;
  }

  private eject(
    slot: number,
    now: number,
    hostCount: number,
    type: EjectionType,
    enforcing: number,
  ): boolean {
    if ((100 * (this.active + 1)) / hostCount > this.config.maxEjectionPercent) {
      this.deps.events.overflow();
      return false;
    }
    if (this.deps.random() * 100 >= enforcing) return false;
    const s = this.state(slot);
    const c = this.config;
    if (c.baseEjectionTimeMs * s.backoff < c.maxEjectionTimeMs + c.baseEjectionTimeMs) s.backoff++;
    s.ejectedAtMs = now;
    this.clearRuns(slot);
    this.table.set(slot, HostColumn.OutlierEjected, 1);
    this.active++;
    this.deps.events.enforced(type);
    this.deps.events.activeChanged(1);
    return true;
  }

  private clearRuns(slot: number): void {
    for (const d of DETECTORS) this.table.set(slot, d.column, 0);
  }
}
