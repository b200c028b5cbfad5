/**
 * `envoy.filters.listener.http_inspector`: on a connection no earlier filter found to be TLS, reads
 * until it knows whether the client speaks HTTP, and which version, and sets the connection's
 * application protocols (`http/1.0`, `http/1.1` or `h2c`) for `filter_chain_match`'s
 * `application_protocols`. Nothing is consumed. Stats are Envoy's (`http_inspector.*`).
 */
import type { Counter, StatsLayout, StatsStore } from '../../../stats/store';
import type { ConnectionFacts } from '../api';
import { NEED_MORE, PeekingListenerFilter, type PeekCallbacks } from '../peek';
import { detectHttp } from './detect';

export const HTTP_INSPECTOR_COUNTERS = [
  'read_error',
  'http10_found',
  'http11_found',
  'http2_found',
  'http_not_found',
] as const;
const PREFIX = 'http_inspector.';

export function declareHttpInspectorStats(layout: StatsLayout): void {
  layout.declareAll(PREFIX, HTTP_INSPECTOR_COUNTERS, 'counter');
}

const FOUND_COUNTER = {
  h2c: 'http2_found',
  'http/1.0': 'http10_found',
  'http/1.1': 'http11_found',
} as const;

export class HttpInspector extends PeekingListenerFilter {
  private readonly counters: Record<(typeof HTTP_INSPECTOR_COUNTERS)[number], Counter>;

  constructor(stats: StatsStore) {
    super();
    this.counters = Object.fromEntries(
      HTTP_INSPECTOR_COUNTERS.map((name) => [name, stats.counter(PREFIX + name)]),
    ) as HttpInspector['counters'];
  }

  protected callbacks(facts: ConnectionFacts): PeekCallbacks | null {
    const { counters } = this;
    // As Envoy: a connection already known to be TLS is not looked at (its bytes are encrypted).
    if (facts.transportProtocol === 'tls') return null;
    return {
      examine(data) {
        const protocol = detectHttp(data);
        if (protocol === null) return NEED_MORE;
        if (protocol === '') counters.http_not_found.inc();
        else {
          counters[FOUND_COUNTER[protocol]].inc();
          facts.applicationProtocols = [protocol];
        }
        return 0;
      },
      peerClosed() {
        counters.read_error.inc();
      },
    };
  }
}
