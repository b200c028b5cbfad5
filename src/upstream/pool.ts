/**
 * The contract between the router and a host's connection pool (Envoy's `Http::ConnectionPool`):
 * the router asks for a stream and gets a request encoder once one is attached to a connection.
 * How connections carry streams is the pool's business: the HTTP/1.1 pool (conn-pool.ts) runs one
 * request per connection at a time; a multiplexing pool runs many on one connection.
 */
import type { RequestEncoder, ResponseDecoder } from '../http/codec';
import type { Host } from './host';

export type PoolFailureReason = 'connection_failure' | 'timeout' | 'overflow';

/** What a stream waiting for a connection (the router's upstream request) implements. */
export interface PoolCallbacks {
  /** A connection is ready and the stream is attached: write the request through `encoder`. */
  onPoolReady(encoder: RequestEncoder, host: Host, reused: boolean): void;
  /** No connection will come: connect failure or timeout, or the pending queue is full. */
  onPoolFailure(reason: PoolFailureReason, detail: string): void;
}

/** A pending `newStream`; cancelling guarantees no pool callback fires afterwards. */
export interface Cancellable {
  cancel(): void;
}

/** The connections of one host in one worker. */
export interface ConnPool {
  readonly host: Host;
  /**
   * Asks for a stream for one request. Returns null when a callback already ran (a connection was
   * attached, or the request failed at once); otherwise the request waits and the returned handle
   * cancels the wait.
   */
  newStream(decoder: ResponseDecoder, callbacks: PoolCallbacks): Cancellable | null;
  /** Closes idle connections now and busy ones when their streams complete; new streams still work. */
  drain(): void;
  /** Closes every connection now (active streams are reset) and fails waiting requests. Final. */
  close(): void;
}

/** The detail of a pool's `overflow` failure when the cluster's `max_requests` breaker is open. */
export const MAX_REQUESTS_OVERFLOW = 'too many requests in flight (max_requests)';

/**
 * How often a pool sweeps its connections for connect and idle timeouts: a tenth of the shorter
 * one, within 10 ms – 1 s (one timer per pool, not one per connection).
 */
export function sweepIntervalMs(connectTimeoutMs: number, idleTimeoutMs: number): number {
  const shortest = Math.min(connectTimeoutMs, idleTimeoutMs || Infinity);
  return Math.min(1000, Math.max(10, Math.floor(shortest / 10)));
}
