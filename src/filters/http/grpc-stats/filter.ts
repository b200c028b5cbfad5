/**
 * The gRPC statistics filter (Envoy's `grpc_stats`): counts each gRPC call of a route's cluster
 * under `cluster.<c>.grpc.` — `total`, `success` / `failure` and the grpc-status (`.0`, `.14`, …)
 * once the status arrives (trailers, or a trailers-only head), and the messages each way as they
 * stream (`request_message_count`, `response_message_count`). Calls to an allowlisted method are
 * counted under `cluster.<c>.grpc.<service>.<method>.` instead; with `enable_upstream_stats`, those
 * names also get `upstream_rq_time`, the milliseconds from the request's end to the response's
 * trailers.
 */
import { grpcStatusOf, isGrpcRequest, isGrpcResponse } from '../../../http/grpc';
import type { RequestHead, ResponseHead } from '../../../http/codec';
import type { HeaderMap } from '../../../http/header-map';
import type { Counter, StatsStore } from '../../../stats/store';
import type { Histogram } from '../../../stats/histogram';
import type { WorkerServices } from '../../../worker/services';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  PassThroughFilter,
  type FilterFactoryContext,
  type StreamFilter,
} from '../api';
import type { GrpcStatsConfig } from './config';
import { GrpcFrameCounter } from './frame-counter';

export const GRPC_STATS_COUNTERS = [
  'success',
  'failure',
  'total',
  'request_message_count',
  'response_message_count',
] as const;
/** The grpc-status values counted by name (gRPC's codes 0–16); others count in total and failure only. */
export const GRPC_STATUS_COUNTERS = Array.from({ length: 17 }, (_, code) => String(code));
export const GRPC_STATS_HISTOGRAMS = ['upstream_rq_time'] as const;

/** The stat name prefixes of `cluster`: the one for every call, then one per allowlisted method. */
export function grpcStatPrefixes(config: GrpcStatsConfig, cluster: string): string[] {
  return [
    `cluster.${cluster}.grpc.`,
    ...config.allowlist.map((m) => `cluster.${cluster}.grpc.${methodStatName(config, m)}.`),
  ];
}

/** `service/method` as a stat name part: `service.method`, the service's dots replaced if asked. */
function methodStatName(config: GrpcStatsConfig, serviceMethod: string): string {
  const slash = serviceMethod.lastIndexOf('/');
  const service = serviceMethod.slice(0, slash);
  return `${config.replaceDots ? service.replaceAll('.', '_') : service}.${serviceMethod.slice(slash + 1)}`;
}

/**
 * The service and method of a gRPC request path (`/package.Service/Method`, query aside), as
 * `service/method`; null for any other shape (Envoy's Grpc::Common::resolveServiceAndMethod).
 */
export function serviceMethodOf(path: string): string | null {
  const query = path.indexOf('?');
  const parts = (query === -1 ? path : path.slice(0, query)).split('/').filter((p) => p !== '');
  return parts.length === 2 ? `${parts[0]!}/${parts[1]!}` : null;
}

/** The stats of one prefix, bound once per worker. */
class CallStats {
  readonly success: Counter;
  readonly failure: Counter;
  readonly total: Counter;
  readonly requestMessages: Counter;
  readonly responseMessages: Counter;
  readonly statuses: Counter[];
  readonly upstreamRqTime: Histogram | null;

  constructor(stats: StatsStore, prefix: string, upstreamStats: boolean) {
    this.success = stats.counter(`${prefix}success`);
    this.failure = stats.counter(`${prefix}failure`);
    this.total = stats.counter(`${prefix}total`);
    this.requestMessages = stats.counter(`${prefix}request_message_count`);
    this.responseMessages = stats.counter(`${prefix}response_message_count`);
    this.statuses = GRPC_STATUS_COUNTERS.map((code) => stats.counter(prefix + code));
    this.upstreamRqTime = upstreamStats ? stats.histogram(`${prefix}upstream_rq_time`) : null;
  }
}

/** What the streams of one configured filter (in one worker) share: the stats, bound on first use. */
class Shared {
  private readonly allowlist: ReadonlySet<string>;
  /** By cluster, then by `service/method` ('' for calls counted without one). */
  private readonly byCluster = new Map<string, Map<string, CallStats | null>>();

  constructor(
    readonly config: GrpcStatsConfig,
    private readonly stats: StatsStore,
    readonly now: () => number,
  ) {
    this.allowlist = new Set(config.allowlist);
  }

  /** The name a call is counted under: its `service/method` if allowlisted, else ''. */
  statKey(serviceMethod: string): string {
    return this.allowlist.has(serviceMethod) ? serviceMethod : '';
  }

  /**
   * The stats of calls to `cluster` under `key`; null when the cluster's names were not laid out
   * (a cluster only a `cluster_header` route reaches: the config does not name it).
   */
  statsFor(cluster: string, key: string): CallStats | null {
    let byKey = this.byCluster.get(cluster);
    if (byKey === undefined) this.byCluster.set(cluster, (byKey = new Map()));
    let stats = byKey.get(key);
    if (stats === undefined) {
      const prefix = `cluster.${cluster}.grpc.${key === '' ? '' : `${methodStatName(this.config, key)}.`}`;
      stats =
        this.stats.value(`${prefix}total`) !== undefined
          ? new CallStats(this.stats, prefix, this.config.upstreamStats)
          : null;
      byKey.set(key, stats);
    }
    return stats;
  }
}

class GrpcStatsFilter extends PassThroughFilter {
  /** The call's `service/method` stat key, or null: not a gRPC call (nothing counted). */
  private key: string | null = null;
  /** Bound once the cluster is known (the router may pick it after decodeHeaders). */
  private stats: CallStats | null = null;
  private requestFrames: GrpcFrameCounter | null = null;
  private responseFrames: GrpcFrameCounter | null = null;
  /** When the request ended (the upstream had all of it), for upstream_rq_time; -1 before. */
  private requestEndMs = -1;

  constructor(private readonly shared: Shared) {
    super();
  }

  override decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus {
    if (!isGrpcRequest(head.headers)) return FilterHeadersStatus.Continue;
    const serviceMethod = serviceMethodOf(head.path);
    if (serviceMethod === null) return FilterHeadersStatus.Continue;
    this.key = this.shared.statKey(serviceMethod);
    this.requestFrames = new GrpcFrameCounter();
    if (endStream) this.requestEndMs = this.shared.now();
    return FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    if (this.requestFrames === null) return FilterDataStatus.Continue;
    const frames = this.requestFrames.inspect(data);
    if (frames > 0) this.callStats()?.requestMessages.add(frames);
    if (endStream) this.requestEndMs = this.shared.now();
    return FilterDataStatus.Continue;
  }

  override decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus {
    if (this.key !== null) this.requestEndMs = this.shared.now();
    return FilterTrailersStatus.Continue;
  }

  override encodeHeaders(head: ResponseHead, endStream: boolean): FilterHeadersStatus {
    if (this.key === null) return FilterHeadersStatus.Continue;
    if (isGrpcResponse(head.status, head.headers, endStream)) this.responseFrames = new GrpcFrameCounter();
    this.countStatus(head.headers, false);
    return FilterHeadersStatus.Continue;
  }

  override encodeData(data: Buffer, _endStream: boolean): FilterDataStatus {
    if (this.responseFrames === null) return FilterDataStatus.Continue;
    const frames = this.responseFrames.inspect(data);
    if (frames > 0) this.callStats()?.responseMessages.add(frames);
    return FilterDataStatus.Continue;
  }

  override encodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (this.key !== null) this.countStatus(trailers, true);
    return FilterTrailersStatus.Continue;
  }

  /** The call's end, told by a grpc-status: in a trailers-only head, or in the trailers. */
  private countStatus(fields: HeaderMap, trailers: boolean): void {
    const code = grpcStatusOf(fields);
    if (code === -1) return;
    const stats = this.callStats();
    if (stats === null) return;
    if (code < stats.statuses.length) stats.statuses[code]!.inc();
    (code === 0 ? stats.success : stats.failure).inc();
    stats.total.inc();
    // As Envoy, upstream_rq_time is recorded when trailers arrive.
    if (trailers && stats.upstreamRqTime !== null && this.requestEndMs >= 0)
      stats.upstreamRqTime.record(this.shared.now() - this.requestEndMs);
  }

  private callStats(): CallStats | null {
    if (this.stats !== null) return this.stats;
    const route = this.callbacks.route();
    const action = route?.action;
    const cluster =
      action?.kind === 'route' && action.cluster !== null ? action.cluster : this.callbacks.upstreamCluster;
    if (cluster === '') return null;
    this.stats = this.shared.statsFor(cluster, this.key!);
    return this.stats;
  }
}

export function createGrpcStatsFilterFactory(
  config: GrpcStatsConfig,
  ctx: FilterFactoryContext,
): () => StreamFilter {
  const services = ctx.services as WorkerServices;
  const shared = new Shared(config, services.stats, services.now);
  return () => new GrpcStatsFilter(shared);
}
