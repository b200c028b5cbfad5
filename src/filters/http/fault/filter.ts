/**
 * The fault injection filter (Envoy's `envoy.filters.http.fault`): for the requests its config
 * applies to (the route's per-filter config replaces the filter's), a delay before the request goes
 * on (response flag DI) and/or an abort answered locally (`fault filter abort`, flag FI; to a gRPC
 * client, trailers-only with the configured grpc-status), each with its percentage. With
 * `header_delay` / `header_abort` the request says how: x-envoy-fault-delay-request (ms),
 * x-envoy-fault-abort-request (HTTP status), x-envoy-fault-abort-grpc-request (gRPC status), and the
 * -percentage headers, capped by the configured percentage. Counted in `http.<stat_prefix>.fault.`
 * `delays_injected`, `aborts_injected`, `faults_overflow` (over `max_active_faults`) and the
 * `active_faults` gauge.
 */
import type { RequestHead } from '../../../http/codec';
import type { HeaderMap } from '../../../http/header-map';
import { CompiledHeaderMatcher } from '../../../router/request-matchers';
import type { Counter, Gauge } from '../../../stats/store';
import { FilterHeadersStatus, PassThroughFilter } from '../api';
import type { FaultConfig } from './config';

export interface FaultStats {
  delaysInjected: Counter;
  abortsInjected: Counter;
  faultsOverflow: Counter;
  activeFaults: Gauge;
}

/** What the filters of one config share on a worker. */
export interface FaultShared {
  readonly configName: string;
  readonly config: FaultConfig;
  readonly stats: FaultStats;
  readonly random: () => number;
  /** Faults in progress on this worker (max_active_faults counts per worker). */
  active: number;
  /** Compiled header matchers per config object (the filter's, and each route's). */
  readonly matchers: WeakMap<FaultConfig, CompiledHeaderMatcher[]>;
}

export class FaultFilter extends PassThroughFilter {
  private config: FaultConfig | null = null;
  private head: RequestHead | null = null;
  private delayTimer: NodeJS.Timeout | null = null;
  private counted = false;

  constructor(private readonly shared: FaultShared) {
    super();
  }

  override decodeHeaders(head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    const route = this.callbacks.route();
    const config =
      (route?.perFilterConfig(this.shared.configName) as FaultConfig | undefined) ?? this.shared.config;
    if (!this.applies(config, head.headers)) return FilterHeadersStatus.Continue;
    this.config = config;
    this.head = head;
    const delayMs = this.delayMs(config, head.headers);
    if (delayMs !== null) {
      if (!this.startFault()) return FilterHeadersStatus.Continue;
      this.shared.stats.delaysInjected.inc();
      this.callbacks.setResponseFlag('DI');
      this.delayTimer = setTimeout(() => this.afterDelay(), delayMs);
      return FilterHeadersStatus.StopIteration;
    }
    return this.maybeAbort() ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue;
  }

  override onDestroy(): void {
    if (this.delayTimer !== null) clearTimeout(this.delayTimer);
    this.delayTimer = null;
    if (this.counted) {
      this.counted = false;
      this.shared.active--;
      this.shared.stats.activeFaults.dec();
    }
  }

  private afterDelay(): void {
    this.delayTimer = null;
    if (!this.maybeAbort()) this.callbacks.continueDecoding();
  }

  /** Aborts when the config (or the request, with header_abort) says so; whether it did. */
  private maybeAbort(): boolean {
    const abort = this.config!.abort;
    if (abort === null) return false;
    const headers = this.head!.headers;
    let httpStatus = abort.httpStatus;
    let grpcStatus = abort.grpcStatus;
    if (abort.fromHeader) {
      httpStatus = headerNumber(headers, 'x-envoy-fault-abort-request', 200, 599);
      grpcStatus = headerNumber(headers, 'x-envoy-fault-abort-grpc-request', 0, 16);
      if (httpStatus === null && grpcStatus === null) return false;
    }
    if (
      !this.roll(
        abort.fraction,
        abort.fromHeader ? headers.get('x-envoy-fault-abort-request-percentage') : undefined,
      )
    )
      return false;
    if (!this.startFault()) return false;
    this.shared.stats.abortsInjected.inc();
    this.callbacks.setResponseFlag('FI');
    // A gRPC abort's HTTP status is what the gRPC status maps back to for a non-gRPC client.
    this.callbacks.sendLocalReply(
      httpStatus ?? 503,
      'fault filter abort',
      'fault_filter_abort',
      undefined,
      grpcStatus ?? undefined,
    );
    return true;
  }

  private delayMs(config: FaultConfig, headers: HeaderMap): number | null {
    const delay = config.delay;
    if (delay === null) return null;
    const ms =
      delay.fixedMs ?? headerNumber(headers, 'x-envoy-fault-delay-request', 0, Number.MAX_SAFE_INTEGER);
    if (ms === null) return null;
    const percentHeader =
      delay.fixedMs === null ? headers.get('x-envoy-fault-delay-request-percentage') : undefined;
    return this.roll(delay.fraction, percentHeader) ? ms : null;
  }

  /** Whether this request is picked at `fraction` (a header percentage may lower it, never raise it). */
  private roll(fraction: number, headerPercent: string | undefined): boolean {
    let f = fraction;
    if (headerPercent !== undefined) {
      const p = Number(headerPercent);
      if (Number.isFinite(p) && p >= 0) f = Math.min(f, p / 100);
    }
    return f >= 1 || this.shared.random() < f;
  }

  /** Counts a fault in progress; false (faults_overflow) when max_active_faults are running. */
  private startFault(): boolean {
    if (this.counted) return true;
    const max = this.config!.maxActiveFaults;
    if (max > 0 && this.shared.active >= max) {
      this.shared.stats.faultsOverflow.inc();
      return false;
    }
    this.counted = true;
    this.shared.active++;
    this.shared.stats.activeFaults.inc();
    return true;
  }

  /** `upstream_cluster`, `downstream_nodes` and `headers`: whether the config applies to this request. */
  private applies(config: FaultConfig, headers: HeaderMap): boolean {
    if (config.delay === null && config.abort === null) return false;
    if (config.upstreamCluster !== '') {
      const action = this.callbacks.route()?.action;
      if (action?.kind !== 'route' || action.cluster !== config.upstreamCluster) return false;
    }
    if (config.downstreamNodes.length > 0) {
      const node = headers.get('x-envoy-downstream-service-node');
      if (node === undefined || !config.downstreamNodes.includes(node)) return false;
    }
    let matchers = this.shared.matchers.get(config);
    if (matchers === undefined) {
      matchers = config.headers.map((h) => new CompiledHeaderMatcher(h));
      this.shared.matchers.set(config, matchers);
    }
    return matchers.every((m) => m.matches(headers, this.head!));
  }
}

/** A request header holding an integer within [min, max], or null. */
function headerNumber(headers: HeaderMap, name: string, min: number, max: number): number | null {
  const text = headers.get(name)?.trim();
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}
