/** Registry entry of `envoy.filters.listener.proxy_protocol`. */
import type { ListenerFilterFactory } from '../api';
import { declareProxyProtocolStats, ProxyProtocolFilter, type ProxyProtocolConfig } from './filter';
import type { ProxyProtocolVersion } from './header';

const VERSIONS: Record<string, ProxyProtocolVersion> = { V1: 1, V2: 2 };

export const proxyProtocolFactory: ListenerFilterFactory<ProxyProtocolConfig> = {
  category: 'listener_filter',
  name: 'envoy.filters.listener.proxy_protocol',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol'],
  aliases: ['envoy.listener.proxy_protocol'],
  parseConfig(reader) {
    const config: ProxyProtocolConfig = {
      allowRequestsWithoutProxyProtocol: false,
      disallowedVersions: [],
      statPrefix: 'proxy_proto.',
    };
    if (!reader) return config;
    const why = 'TLVs are skipped; Legate has no dynamic metadata or filter state to put them in';
    if (reader.objectArray('rules').length > 0) reader.unsupported('rules', why);
    reader.unsupported('pass_through_tlvs', why);
    config.allowRequestsWithoutProxyProtocol = reader.bool('allow_requests_without_proxy_protocol', false);
    for (const name of reader.stringArray('disallowed_versions')) {
      const version = VERSIONS[name];
      if (version === undefined) reader.error('disallowed_versions', `'${name}' is not a version: V1 or V2`);
      else config.disallowedVersions.push(version);
    }
    const prefix = reader.string('stat_prefix');
    if (prefix !== '') config.statPrefix = `proxy_proto.${prefix}.`;
    return config;
  },
  declareStats(config, layout) {
    declareProxyProtocolStats(config, layout);
  },
  createFilter(config, stats) {
    return new ProxyProtocolFilter(config, stats);
  },
};
