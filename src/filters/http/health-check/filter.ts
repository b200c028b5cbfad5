/**
 * The health check filter (Envoy's `health_check`): requests matching `headers` are health checks.
 * While the admin's /healthcheck/fail is in effect they are answered 503 locally (with
 * `x-envoy-immediate-health-check-fail: true`, so Envoy peers eject this host at once); otherwise
 * they are answered 200 locally, or in pass-through mode go upstream like any request — or, with
 * `cache_time`, are answered with the cached status of a recent health check response (cache.ts).
 */
import type { RequestHead, ResponseHead } from '../../../http/codec';
import { HeaderMap } from '../../../http/header-map';
import { CompiledHeaderMatcher } from '../../../router/request-matchers';
import type { SharedFlag } from '../../../worker/shared-flag';
import type { WorkerServices } from '../../../worker/services';
import { FilterHeadersStatus, PassThroughFilter, type FilterFactoryContext, type StreamFilter } from '../api';
import { HealthCheckCache } from './cache';
import type { HealthCheckConfig } from './config';

/** What the streams of one configured filter (in one worker) share. */
class Shared {
  readonly matchers: CompiledHeaderMatcher[];
  /** cache_time's cache; null without one. */
  readonly cache: HealthCheckCache | null;

  constructor(
    readonly config: HealthCheckConfig,
    readonly failed: SharedFlag,
    nowMs: () => number,
  ) {
    this.cache = config.cacheTimeMs > 0 ? new HealthCheckCache(config.cacheTimeMs, nowMs) : null;
    this.matchers = config.headers.map((h) => new CompiledHeaderMatcher(h));
  }

  /** Whether the request matches every `headers` matcher (pseudo-headers `:path`, `:method`, … included). */
  isHealthCheck(head: RequestHead): boolean {
    for (let i = 0; i < this.matchers.length; i++)
      if (!this.matchers[i]!.matches(head.headers, head)) return false;
    return true;
  }
}

class HealthCheckFilter extends PassThroughFilter {
  /** This stream is a health check (its response status feeds the cache). */
  private healthCheck = false;

  constructor(private readonly shared: Shared) {
    super();
  }

  override decodeHeaders(head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    const s = this.shared;
    if (!s.isHealthCheck(head)) return FilterHeadersStatus.Continue;
    this.healthCheck = true;
    if (s.failed.value) {
      const headers = new HeaderMap();
      headers.add('x-envoy-immediate-health-check-fail', 'true');
      this.callbacks.setResponseFlag('LH');
      this.callbacks.sendLocalReply(503, '', 'health_check_failed', headers);
      return FilterHeadersStatus.StopIteration;
    }
    if (!s.config.passThroughMode) {
      this.callbacks.sendLocalReply(200, '', 'health_check_ok');
      return FilterHeadersStatus.StopIteration;
    }
    const cache = s.cache;
    if (cache === null || !cache.useCached()) return FilterHeadersStatus.Continue;
    const status = cache.cachedStatus;
    let headers: HeaderMap | undefined;
    if (cache.cachedDegraded) {
      headers = new HeaderMap();
      headers.add('x-envoy-degraded', '');
    }
    if (status < 200 || status >= 300) this.callbacks.setResponseFlag('LH');
    this.callbacks.sendLocalReply(status, '', 'health_check_cached', headers);
    return FilterHeadersStatus.StopIteration;
  }

  /** Every health check answer is cached, local replies included (as Envoy's encodeHeaders does). */
  override encodeHeaders(head: ResponseHead, _endStream: boolean): FilterHeadersStatus {
    if (this.healthCheck) this.shared.cache?.set(head.status, head.headers.has('x-envoy-degraded'));
    return FilterHeadersStatus.Continue;
  }
}

export function createHealthCheckFilterFactory(
  config: HealthCheckConfig,
  ctx: FilterFactoryContext,
): () => StreamFilter {
  const services = ctx.services as WorkerServices;
  const shared = new Shared(config, services.healthCheckFailed, services.now);
  return () => new HealthCheckFilter(shared);
}
