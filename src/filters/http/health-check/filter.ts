/**
 * The health check filter (Envoy's `health_check`): requests matching `headers` are health checks.
 * While the admin's /healthcheck/fail is in effect they are answered 503 locally (with
 * `x-envoy-immediate-health-check-fail: true`, so Envoy peers eject this host at once); otherwise
 * they are answered 200 locally, or in pass-through mode go upstream like any request.
 */
import type { RequestHead } from '../../../http/codec';
import { HeaderMap } from '../../../http/header-map';
import { CompiledHeaderMatcher } from '../../../router/request-matchers';
import type { SharedFlag } from '../../../worker/shared-flag';
import type { WorkerServices } from '../../../worker/services';
import { FilterHeadersStatus, PassThroughFilter, type FilterFactoryContext, type StreamFilter } from '../api';
import type { HealthCheckConfig } from './config';

/** What the streams of one configured filter (in one worker) share. */
class Shared {
  readonly matchers: CompiledHeaderMatcher[];
  /**
   * Legate's HeaderMap holds no pseudo-headers, so matchers naming `:path`, `:method` or
   * `:authority` are run on this scratch map, refilled per request (matching is synchronous).
   */
  readonly pseudo: HeaderMap | null;

  constructor(
    readonly config: HealthCheckConfig,
    readonly failed: SharedFlag,
  ) {
    this.matchers = config.headers.map((h) => new CompiledHeaderMatcher(h));
    this.pseudo = config.headers.some((h) => h.name.startsWith(':')) ? new HeaderMap() : null;
  }

  isHealthCheck(head: RequestHead, authority: string): boolean {
    let headers = head.headers;
    if (this.pseudo !== null) {
      headers = this.pseudo;
      headers.clear();
      headers.add(':path', head.path);
      headers.add(':method', head.method);
      headers.add(':authority', authority);
      const { names, values } = head.headers;
      for (let i = 0; i < names.length; i++) headers.add(names[i]!, values[i]!);
    }
    for (let i = 0; i < this.matchers.length; i++) if (!this.matchers[i]!.matches(headers)) return false;
    return true;
  }
}

class HealthCheckFilter extends PassThroughFilter {
  constructor(private readonly shared: Shared) {
    super();
  }

  override decodeHeaders(head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    const s = this.shared;
    if (!s.isHealthCheck(head, this.callbacks.authority)) return FilterHeadersStatus.Continue;
    if (s.failed.value) {
      const headers = new HeaderMap();
      headers.add('x-envoy-immediate-health-check-fail', 'true');
      this.callbacks.sendLocalReply(503, '', 'health_check_failed', headers);
      return FilterHeadersStatus.StopIteration;
    }
    if (s.config.passThroughMode) return FilterHeadersStatus.Continue;
    this.callbacks.sendLocalReply(200, '', 'health_check_ok');
    return FilterHeadersStatus.StopIteration;
  }
}

export function createHealthCheckFilterFactory(
  config: HealthCheckConfig,
  ctx: FilterFactoryContext,
): () => StreamFilter {
  const shared = new Shared(config, (ctx.services as WorkerServices).healthCheckFailed);
  return () => new HealthCheckFilter(shared);
}
