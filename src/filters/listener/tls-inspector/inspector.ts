/**
 * `envoy.filters.listener.tls_inspector`: reads the start of each connection until it holds a
 * complete ClientHello (or is clearly not TLS), and records SNI, ALPN and transport protocol 'tls'
 * for filter chain matching. The bytes read are kept in `facts.peeked`: nothing is consumed, so a
 * TLS passthrough chain (tcp_proxy) sends the ClientHello on unchanged. Stats are Envoy's
 * (`tls_inspector.*`); a ClientHello over 64 KiB closes the connection, as in Envoy.
 */
import type * as net from 'node:net';
import { stopReading } from '../../../native';
import type { Counter, StatsLayout, StatsStore } from '../../../stats/store';
import { ListenerFilterResult, type ConnectionFacts, type ListenerFilter } from '../api';
import { HelloStatus, parseClientHello } from './client-hello';

/** Envoy's default max_client_hello_size. */
const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

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

export class TlsInspector implements ListenerFilter {
  private readonly counters: Record<(typeof TLS_INSPECTOR_COUNTERS)[number], Counter>;

  constructor(stats: StatsStore) {
    this.counters = Object.fromEntries(
      TLS_INSPECTOR_COUNTERS.map((name) => [name, stats.counter(PREFIX + name)]),
    ) as TlsInspector['counters'];
  }

  onAccept(
    socket: net.Socket,
    facts: ConnectionFacts,
    done: (result: ListenerFilterResult) => void,
  ): () => void {
    const chunks: Buffer[] = facts.peeked === null ? [] : [facts.peeked];
    let buffered = facts.peeked === null ? 0 : facts.peeked.length;
    const { counters } = this;
    const stop = (): void => {
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.removeListener('error', onEnd);
      // The rest stays in the kernel for whatever serves the connection (possibly splice).
      stopReading(socket);
    };
    /** Stops, keeping what was read for whoever serves the connection. */
    const keep = (): void => {
      stop();
      facts.peeked =
        buffered === 0 ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
    };
    const finish = (result: ListenerFilterResult): void => {
      keep();
      done(result);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      buffered += chunk.length;
      const hello = parseClientHello(
        chunks.length === 1 ? chunk : Buffer.concat(chunks, buffered),
        MAX_CLIENT_HELLO_BYTES,
      );
      switch (hello.status) {
        case HelloStatus.NeedMore:
          return;
        case HelloStatus.TooLarge:
          counters.client_hello_too_large.inc();
          stop();
          socket.destroy();
          done(ListenerFilterResult.Closed);
          return;
        case HelloStatus.NotTls:
          counters.tls_not_found.inc();
          finish(ListenerFilterResult.Continue);
          return;
        case HelloStatus.Found:
          counters.tls_found.inc();
          facts.transportProtocol = 'tls';
          facts.serverName = hello.serverName;
          facts.applicationProtocols = hello.alpn;
          (hello.serverName === '' ? counters.sni_not_found : counters.sni_found).inc();
          (hello.alpn.length === 0 ? counters.alpn_not_found : counters.alpn_found).inc();
          finish(ListenerFilterResult.Continue);
      }
    };
    // The peer closed (or failed) before a verdict: nothing can be served.
    const onEnd = (): void => {
      counters.connection_closed.inc();
      stop();
      socket.destroy();
      done(ListenerFilterResult.Closed);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
    // Abandoned at listener_filters_timeout: the bytes read so far still go first.
    return keep;
  }
}
