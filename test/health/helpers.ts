/** Shared by the health tests: a check config with Envoy's defaults and a manual clock for the checker. */
import type { HealthCheckConfig } from '../../src/config/bootstrap';
import type { CheckerEnv } from '../../src/upstream/health/checker';

export function checkConfig(overrides: Partial<HealthCheckConfig> = {}): HealthCheckConfig {
  return {
    timeoutMs: 1000,
    intervalMs: 1000,
    unhealthyIntervalMs: 1000,
    unhealthyEdgeIntervalMs: 1000,
    healthyEdgeIntervalMs: 1000,
    noTrafficIntervalMs: 60_000,
    noTrafficHealthyIntervalMs: 60_000,
    eventLogPath: null,
    alwaysLogFailures: false,
    alwaysLogSuccess: false,
    initialJitterMs: 0,
    intervalJitterMs: 0,
    intervalJitterPercent: 0,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
    reuseConnection: true,
    http: {
      host: '',
      path: '/hc',
      method: 'GET',
      requestHeadersToAdd: [],
      requestHeadersToRemove: [],
      expectedStatuses: [[200, 201]],
      retriableStatuses: [],
    },
    tcp: null,
    ...overrides,
  };
}

/** Timers that fire only when the test advances the clock. */
export class ManualClock implements CheckerEnv {
  now = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  random = (): number => 0.5;

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  get pending(): number {
    return this.timers.length;
  }

  /** Moves the clock `ms` forward, firing due timers in order and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.now = next.at;
      next.fn();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.now = end;
  }
}
