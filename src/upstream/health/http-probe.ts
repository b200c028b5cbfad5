/**
 * One HTTP/1.1 health check request (Envoy's HttpHealthCheckerImpl): `method path` with Host set
 * to `host` (default: the cluster name) and `user-agent: Envoy/HC` (services that filter health
 * checks by it keep working), judged by status. Runs on the primary thread, off the data path,
 * so it uses node:http; with reuse_connection one keep-alive socket per host is kept between checks.
 */
import * as http from 'node:http';
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
): Probe {
  const agent = reuseConnection ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  const headers = requestHeaders(config, clusterName, reuseConnection);
  return {
    check: (timeoutMs) =>
      new Promise<CheckOutcome>((resolve) => {
        const req = http.request(
          { host: address, port, method: config.method, path: config.path, headers, agent },
          (res) => {
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
          },
        );
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
