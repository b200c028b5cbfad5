/**
 * Access loggers, in the shape of Envoy's `envoy/access_log/access_log.h`: an extension registered
 * under its Envoy name (category 'access_logger') parses its typed_config on the primary and makes
 * one logger per worker per owner (an HTTP connection manager), which is called once per finished
 * stream. A logger must never block or throw on the request path: it formats a line and hands it to
 * a buffered sink (sinks.ts).
 */
import type { DownstreamConnectionInfo } from '../transport/api';
import type { RequestHead } from '../http/codec';
import type { ExtensionFactory } from '../registry/registry';
import type { HeaderFormatContext } from '../router/header-format';
import type { MatchedRoute } from '../router/route-table';

/** What a logger may read about a finished stream (implemented by the connection manager's stream). */
export interface AccessLogStream extends HeaderFormatContext {
  /**
   * The connection's peer (no PROXY protocol yet). `remoteAddress` is the downstream client as
   * Envoy defines it, which x-forwarded-for may name instead (HCM `xff_num_trusted_hops`).
   */
  readonly directRemoteAddress: string;
  readonly directRemotePort: number;
  /** The request head, or null if the stream ended before it was parsed. */
  readonly request: RequestHead | null;
  /** A response header as sent downstream (lower-case `name`); undefined when absent or no response started. */
  responseHeader(name: string): string | undefined;
  /** Status sent downstream; 0 when none was. */
  readonly responseCode: number;
  /** Envoy's response flags, comma-separated (`UF,URX`), or '-' when none. */
  readonly responseFlags: string;
  /** Request body bytes received from the downstream. */
  readonly bytesReceived: number;
  /** Response body bytes sent to the downstream. */
  readonly bytesSent: number;
  /** From the start of the request to the end of the stream, in ms. */
  readonly durationMs: number;
  /** `ip:port` of the upstream host of the last attempt, '' if none was chosen. */
  readonly upstreamHost: string;
  /** The cluster the router chose, '' if none. */
  readonly upstreamCluster: string;
  /** SNI and TLS facts of the downstream connection (null: plaintext without tls_inspector). */
  readonly downstreamInfo: DownstreamConnectionInfo | null;
  /** The body of the local reply Legate sent (after `local_reply_config`), null when none was. */
  readonly localReplyBody: string | null;
  route(): MatchedRoute | null;
}

export interface AccessLogger {
  /** Called once per stream, when it is destroyed. */
  log(stream: AccessLogStream): void;
  /**
   * The response headers (lower case) `log` reads through `responseHeader`: a connection manager
   * that can answer these without a HeaderMap lets the codec write a proxied head natively.
   */
  readonly responseHeadersRead: readonly string[];
}

/** Where a logger's formatted lines go. */
export interface LogSink {
  write(line: string): void;
}

/**
 * Opens the sinks loggers write to: a worker's own buffered sinks (sinks.ts), or for the primary's
 * config check, sinks that only verify the destination can be opened (check-sinks.ts).
 */
export interface AccessLogSinks {
  file(path: string): LogSink;
  stdout(): LogSink;
  stderr(): LogSink;
}

export interface AccessLoggerFactory<C = unknown> extends ExtensionFactory<C> {
  readonly category: 'access_logger';
  /** Once per worker per owner (HCM): compile the format, open the sink. */
  createLogger(config: C, sinks: AccessLogSinks): AccessLogger;
}

export function isAccessLoggerFactory(f: ExtensionFactory): f is AccessLoggerFactory {
  return f.category === 'access_logger' && typeof (f as AccessLoggerFactory).createLogger === 'function';
}
