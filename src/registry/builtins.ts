/**
 * The one list of built-in extensions. Adding an extension is one line here (plus its folder);
 * nothing else in Legate switches over extension names.
 */
import { fileAccessLoggerFactory } from '../access-log/file/factory';
import { stderrAccessLoggerFactory, stdoutAccessLoggerFactory } from '../access-log/stream/factory';
import { grpcStatsFactory } from '../filters/http/grpc-stats/factory';
import { grpcWebFactory } from '../filters/http/grpc-web/factory';
import { corsFactory } from '../filters/http/cors/factory';
import { compressorFactory } from '../filters/http/compressor/factory';
import { faultFactory } from '../filters/http/fault/factory';
import { csrfFactory } from '../filters/http/csrf/factory';
import { rbacFactory } from '../filters/http/rbac/factory';
import { bufferFactory } from '../filters/http/buffer/factory';
import { healthCheckFactory } from '../filters/http/health-check/factory';
import { localRateLimitFactory } from '../filters/http/local-ratelimit/factory';
import { routerFactory } from '../filters/http/router/factory';
import { httpConnectionManagerFactory } from '../filters/network/http-connection-manager/factory';
import { networkLocalRateLimitFactory } from '../filters/network/local-ratelimit/factory';
import { networkRbacFactory } from '../filters/network/rbac/factory';
import { tcpProxyFactory } from '../filters/network/tcp-proxy/factory';
import { tlsInspectorFactory } from '../filters/listener/tls-inspector/factory';
import { proxyProtocolFactory } from '../filters/listener/proxy-protocol/factory';
import { httpInspectorFactory } from '../filters/listener/http-inspector/factory';
import { rawBufferFactory, upstreamRawBufferFactory } from '../transport/raw-buffer';
import { downstreamTlsFactory, upstreamTlsFactory } from '../transport/tls/factory';
import { leastRequestFactory } from '../upstream/lb/least-request';
import { maglevFactory } from '../upstream/lb/maglev';
import { peakEwmaFactory } from '../upstream/lb/peak-ewma';
import { randomFactory } from '../upstream/lb/random';
import { ringHashFactory } from '../upstream/lb/ring-hash';
import { roundRobinFactory } from '../upstream/lb/round-robin';
import { staticClusterFactory } from '../upstream/discovery/static';
import { edsClusterFactory } from '../upstream/discovery/eds';
import { strictDnsClusterFactory } from '../upstream/discovery/strict-dns';
import { logicalDnsClusterFactory } from '../upstream/discovery/logical-dns';
import { type ExtensionFactory, Registry } from './registry';

const BUILTIN_FACTORIES: readonly ExtensionFactory[] = [
  httpConnectionManagerFactory,
  tcpProxyFactory,
  networkLocalRateLimitFactory,
  networkRbacFactory,
  routerFactory,
  localRateLimitFactory,
  healthCheckFactory,
  grpcWebFactory,
  corsFactory,
  compressorFactory,
  faultFactory,
  csrfFactory,
  rbacFactory,
  bufferFactory,
  grpcStatsFactory,
  roundRobinFactory,
  leastRequestFactory,
  randomFactory,
  ringHashFactory,
  maglevFactory,
  peakEwmaFactory,
  fileAccessLoggerFactory,
  stdoutAccessLoggerFactory,
  stderrAccessLoggerFactory,
  tlsInspectorFactory,
  proxyProtocolFactory,
  httpInspectorFactory,
  rawBufferFactory,
  downstreamTlsFactory,
  upstreamRawBufferFactory,
  upstreamTlsFactory,
  staticClusterFactory,
  edsClusterFactory,
  strictDnsClusterFactory,
  logicalDnsClusterFactory,
];

/** A registry holding every built-in extension. */
export function createBuiltinRegistry(): Registry {
  const registry = new Registry();
  for (const factory of BUILTIN_FACTORIES) registry.register(factory);
  return registry;
}
