/**
 * `admin.access_log`: the admin's requests are logged by the same access loggers as proxied ones
 * (Envoy's admin does so too). This is the access-log view of one admin request; there is no
 * upstream, so %UPSTREAM_HOST% and %UPSTREAM_CLUSTER% print '-'.
 */
import type * as http from 'node:http';
import type { AccessLogger, AccessLogStream } from '../access-log/api';
import { HeaderMap } from '../http/header-map';
import type { RequestHead } from '../http/codec';

class AdminRequestLog implements AccessLogStream {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly directRemoteAddress: string;
  readonly directRemotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly protocol: string;
  readonly startTimeMs = Date.now();
  readonly requestHeaders = new HeaderMap();
  readonly request: RequestHead;
  responseHeaders: HeaderMap | null = null;
  responseCode = 0;
  readonly responseFlags = '-';
  readonly bytesReceived = 0;
  bytesSent = 0;
  durationMs = 0;
  readonly upstreamHost = '';
  readonly upstreamCluster = '';
  readonly downstreamInfo = null;
  readonly localReplyBody = null;

  constructor(req: http.IncomingMessage) {
    const socket = req.socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    // The admin does not apply x-forwarded-for: the peer is the client.
    this.directRemoteAddress = this.remoteAddress;
    this.directRemotePort = this.remotePort;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.protocol = `HTTP/${req.httpVersion}`;
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
      this.requestHeaders.add(req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!);
    this.request = {
      method: req.method ?? '',
      path: req.url ?? '',
      protocol: req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
      headers: this.requestHeaders,
      keepAlive: true,
      contentLength: -1,
      chunked: false,
      upgrade: false,
    };
  }

  responseHeader(name: string): string | undefined {
    return this.responseHeaders?.get(name);
  }

  route(): null {
    return null;
  }
}

/** Logs `req` to every logger once its response is written. */
export function logAdminRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  loggers: readonly AccessLogger[],
): void {
  if (loggers.length === 0) return;
  const entry = new AdminRequestLog(req);
  const start = performance.now();
  res.once('finish', () => {
    entry.durationMs = Math.round(performance.now() - start);
    entry.responseCode = res.statusCode;
    entry.responseHeaders = new HeaderMap();
    for (const [name, value] of Object.entries(res.getHeaders()))
      if (value !== undefined) entry.responseHeaders.add(name, String(value));
    entry.bytesSent = Number(res.getHeader('content-length') ?? 0);
    for (const logger of loggers) logger.log(entry);
  });
}
