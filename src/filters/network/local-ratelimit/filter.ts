/**
 * The network local rate limit filter (Envoy's `envoy.filters.network.local_ratelimit`): every new
 * downstream connection takes a token from the process-wide bucket; without one the connection is
 * closed at once, before the next filter (tcp_proxy, http_connection_manager) sees it.
 */
import type * as net from 'node:net';
import type { Counter } from '../../../stats/store';
import type { WorkerServices } from '../../../worker/services';
import { TokenBucket } from '../../common/local-ratelimit/token-bucket';
import { FilterStatus, type NetworkFilter, type NetworkFilterContext } from '../api';
import type { NetworkLocalRateLimitConfig } from './config';

/** Envoy's names, under `local_rate_limit.<stat_prefix>.`. */
export const NETWORK_LOCAL_RATE_LIMIT_COUNTERS = ['rate_limited'] as const;

export function networkLocalRateLimitStatPrefix(statPrefix: string): string {
  return `local_rate_limit.${statPrefix}.`;
}

export class NetworkLocalRateLimitFilter implements NetworkFilter {
  private readonly bucket: TokenBucket;
  private readonly enabled: boolean;
  private readonly rateLimited: Counter;

  constructor(config: NetworkLocalRateLimitConfig, ctx: NetworkFilterContext) {
    const services = ctx.services as WorkerServices;
    this.bucket = new TokenBucket(config.bucket, config.bucket.sab);
    this.enabled = config.enabled;
    this.rateLimited = services.stats.counter(
      `${networkLocalRateLimitStatPrefix(config.statPrefix)}rate_limited`,
    );
  }

  onNewConnection(socket: net.Socket): FilterStatus {
    if (this.admitsConnection()) return FilterStatus.Continue;
    // Envoy closes with NoFlush: nothing was written, so destroy() is a plain close.
    socket.destroy();
    return FilterStatus.StopIteration;
  }

  /** Takes a token, or counts the connection as rate limited. */
  admitsConnection(): boolean {
    if (!this.enabled || this.bucket.consume(Date.now())) return true;
    this.rateLimited.inc();
    return false;
  }
}
