/**
 * `envoy.filters.listener.tls_inspector`: reads the start of each connection until it holds a
 * complete ClientHello (or is clearly not TLS), and records SNI, ALPN and transport protocol 'tls'
 * for filter chain matching. The bytes read are kept in `facts.peeked`: nothing is consumed, so a
 * TLS passthrough chain (tcp_proxy) sends the ClientHello on unchanged. Bytes an earlier filter
 * peeked (proxy_protocol's read-ahead) are examined first. Stats are Envoy's
 * (`tls_inspector.*`); a ClientHello over 64 KiB closes the connection, as in Envoy.
 */
import type { Counter, StatsLayout, StatsStore } from '../../../stats/store';
import type { ConnectionFacts } from '../api';
import { CLOSE, NEED_MORE, PeekingListenerFilter, type PeekCallbacks } from '../peek';
import { HelloStatus, parseClientHello } from './client-hello';

/** Envoy's default max_client_hello_size. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

export const TLS_INSPECTOR_COUNTERS = [
  'connection_closed',
  'client_hello_too_large',
  'tls_found',
  'tls_not_found',
  'alpn_found',
  'alpn_not_found',
  'sni_found',
  'sni_not_found',
] as const;
const PREFIX = 'tls_inspector.';

export function declareTlsInspectorStats(layout: StatsLayout): void {
  layout.declareAll(PREFIX, TLS_INSPECTOR_COUNTERS, 'counter');
}

export class TlsInspector extends PeekingListenerFilter {
  private readonly counters: Record<(typeof TLS_INSPECTOR_COUNTERS)[number], Counter>;

  constructor(stats: StatsStore) {
    super();
    this.counters = Object.fromEntries(
      TLS_INSPECTOR_COUNTERS.map((name) => [name, stats.counter(PREFIX + name)]),
    ) as TlsInspector['counters'];
  }

  protected callbacks(facts: ConnectionFacts): PeekCallbacks {
    const { counters } = this;
    return {
      examine(data) {
        const hello = parseClientHello(data, MAX_CLIENT_HELLO_BYTES);
        switch (hello.status) {
          case HelloStatus.NeedMore:
            return NEED_MORE;
          case HelloStatus.TooLarge:
            counters.client_hello_too_large.inc();
            return CLOSE;
          case HelloStatus.NotTls:
            counters.tls_not_found.inc();
            return 0;
          case HelloStatus.Found:
            counters.tls_found.inc();
            facts.transportProtocol = 'tls';
            facts.serverName = hello.serverName;
            facts.applicationProtocols = hello.alpn;
            (hello.serverName === '' ? counters.sni_not_found : counters.sni_found).inc();
            (hello.alpn.length === 0 ? counters.alpn_not_found : counters.alpn_found).inc();
            return 0;
        }
      },
      peerClosed() {
        counters.connection_closed.inc();
      },
    };
  }
}
