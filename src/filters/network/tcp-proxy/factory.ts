/** Registry entry of the TCP proxy (`envoy.filters.network.tcp_proxy`). */
import type { NetworkFilterFactory } from '../api';
import { parseTcpProxy, type TcpProxyConfig } from './config';
import { declareTcpProxyStats } from './stats';
import { TcpProxyFilter } from './tcp-proxy';

export const tcpProxyFactory: NetworkFilterFactory<TcpProxyConfig> = {
  category: 'network_filter',
  name: 'envoy.filters.network.tcp_proxy',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy'],
  aliases: ['envoy.tcp_proxy'],
  isTerminal: true,
  parseConfig(reader, ctx) {
    // The loader passes an empty reader for a missing typed_config, so required fields are reported.
    if (!reader)
      throw new Error('tcp_proxy: parseConfig needs a reader (stat_prefix and cluster are required)');
    return parseTcpProxy(reader, ctx);
  },
  declareStats(config, layout) {
    declareTcpProxyStats(layout, config.statPrefix);
  },
  createFilter(config, ctx) {
    return new TcpProxyFilter(config, ctx);
  },
};
