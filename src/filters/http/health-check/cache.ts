/**
 * `cache_time` of the health check filter in pass-through mode (Envoy's HealthCheckCacheManager):
 * the status of a health check response (from upstream, or a local reply) is remembered, and
 * further health checks are answered with it locally until the cache is next cleared. Envoy clears
 * it on a timer every cache_time from the filter's creation, not cache_time after each answer; the
 * window number computed from the clock gives the same schedule without a timer.
 *
 * One cache per filter config per worker thread (Envoy shares one across threads): each worker
 * lets at least one health check per window through to the upstream.
 */
export class HealthCheckCache {
  private status = 200;
  private degraded = false;
  /** The window the cached answer belongs to; -1 = nothing cached yet. */
  private cachedWindow = -1;
  private readonly startMs: number;

  constructor(
    private readonly cacheTimeMs: number,
    /** Monotonic milliseconds. */
    private readonly nowMs: () => number,
  ) {
    this.startMs = nowMs();
  }

  /** Whether a health check should be answered from the cache now. */
  useCached(): boolean {
    return this.cachedWindow === this.window();
  }

  get cachedStatus(): number {
    return this.status;
  }

  /** The cached answer carried `x-envoy-degraded`. */
  get cachedDegraded(): boolean {
    return this.degraded;
  }

  /** Remembers the answer to a health check, until the end of the current window. */
  set(status: number, degraded: boolean): void {
    this.status = status;
    this.degraded = degraded;
    this.cachedWindow = this.window();
  }

  private window(): number {
    return Math.floor((this.nowMs() - this.startMs) / this.cacheTimeMs);
  }
}
