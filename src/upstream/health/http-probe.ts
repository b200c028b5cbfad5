/**
 * One HTTP/1.1 health check request (Envoy's HttpHealthCheckerImpl): `method path` with Host set
 * to `host` (default: the cluster name) and `user-agent: Envoy/HC` (services that filter health
 * checks by it keep working), judged by status. Runs on the primary thread, off the data path,
 * so it uses node:http; with reuse_connection one keep-alive socket per host is kept between checks.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { UpstreamTlsClient } from '../../transport/tls/upstream';
import type { HttpHealthCheckConfig } from '../../config/bootstrap';
import type { CheckOutcome } from './health-state';
import type { Probe } from './probe';

function inRanges(status: number, ranges: readonly [number, number][]): boolean {
  for (const [start, end] of ranges) if (status >= start && status < end) return true;
  return false;
}

/** The request headers: Envoy's defaults, then request_headers_to_remove, then _to_add. */
function requestHeaders(
  config: HttpHealthCheckConfig,
  clusterName: string,
  reuse: boolean,
): http.OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = {
    host: config.host || clusterName,
    'user-agent': 'Envoy/HC',
  };
  if (!reuse) headers['connection'] = 'close';
  for (const name of config.requestHeadersToRemove) delete headers[name];
  for (const { key, value, appendAction } of config.requestHeadersToAdd) {
    const old = headers[key];
    switch (appendAction) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        headers[key] = old === undefined ? value : [...(Array.isArray(old) ? old : [old]), value];
        break;
      case 'ADD_IF_ABSENT':
        if (old === undefined) headers[key] = value;
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        headers[key] = value;
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (old !== undefined) headers[key] = value;
        break;
    }
  }
  return headers;
}

export function httpProbe(
  config: HttpHealthCheckConfig,
  clusterName: string,
  address: string,
  port: number,
  reuseConnection: boolean,
  /** The cluster's TLS, when it has a transport socket: checks go over it, as Envoy's do. */
  tls: UpstreamTlsClient | null = null,
): Probe {
  const agentOptions = { keepAlive: true, maxSockets: 1 };
  const agent = !reuseConnection
    ? false
    : tls === null
      ? new http.Agent(agentOptions)
      : new https.Agent(agentOptions);
  const headers = requestHeaders(config, clusterName, reuseConnection);
  const options = { host: address, port, method: config.method, path: config.path, headers, agent };
  return {
    check: (timeoutMs) =>
      new Promise<CheckOutcome>((resolve) => {
        const req = tls === null ? http.request(options) : https.request({ ...tls.options, ...options });
        if (tls !== null) refuseUnverified(req, tls);
        req.on('response', (res: http.IncomingMessage) => {
          const status = res.statusCode ?? 0;
          res.resume();
          res.on('end', () => {
            clearTimeout(timer);
            if (inRanges(status, config.expectedStatuses)) resolve('success');
            else resolve(inRanges(status, config.retriableStatuses) ? 'retriable_failure' : 'failure');
          });
          res.on('error', () => {
            clearTimeout(timer);
            resolve(timedOut ? 'network_timeout' : 'network_failure');
          });
        });
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          req.destroy(new Error('health check timeout'));
        }, timeoutMs);
        req.on('error', () => {
          clearTimeout(timer);
          resolve(timedOut ? 'network_timeout' : 'network_failure');
        });
        req.end();
      }),
    close: () => {
      if (agent) agent.destroy();
    },
  };
}

/** A host whose certificate the cluster's TLS refuses fails the check (a network failure). */
function refuseUnverified(req: http.ClientRequest, tls: UpstreamTlsClient): void {
  req.once('socket', (socket) => {
    // A kept-alive socket was judged when it connected.
    if (judged.has(socket)) return;
    judged.add(socket);
    const secured = socket as TLSSocket;
    secured.once('secureConnect', () => {
      const refused = tls.refusal(secured);
      if (refused !== null) req.destroy(new Error(refused));
    });
  });
}

const judged = new WeakSet<object>();
