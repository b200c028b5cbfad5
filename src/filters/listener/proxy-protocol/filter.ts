/**
 * `envoy.filters.listener.proxy_protocol`: reads the PROXY protocol header (v1 or v2) at the start
 * of each connection, consumes it, and restores the client's addresses it names: they become the
 * downstream remote and local addresses (x-forwarded-for, %DOWNSTREAM_REMOTE_ADDRESS%, filter
 * chain matching on source and destination). Bytes read past the header go first to what serves
 * the connection. A malformed header, one of a disallowed version, or none at all (unless
 * `allow_requests_without_proxy_protocol`) closes the connection, counted as Envoy does.
 */
import type { Counter, StatsLayout, StatsStore } from '../../../stats/store';
import type { ConnectionFacts } from '../api';
import { CLOSE, NEED_MORE, PeekingListenerFilter, type PeekCallbacks } from '../peek';
import { parseProxyHeader, ProxyHeaderStatus, type ProxyProtocolVersion } from './header';

export interface ProxyProtocolConfig {
  allowRequestsWithoutProxyProtocol: boolean;
  disallowedVersions: ProxyProtocolVersion[];
  /** `proxy_proto.` or `proxy_proto.<stat_prefix>.`. */
  statPrefix: string;
}

const VERSION_COUNTERS = ['found', 'disallowed', 'error'] as const;
const GENERAL_COUNTERS = ['not_found_allowed', 'not_found_disallowed'] as const;
/** Envoy's older total of errors, kept beside the per-version ones (at the root, as Envoy's). */
const LEGACY_ERROR = 'downstream_cx_proxy_proto_error';

type VersionCounters = Record<(typeof VERSION_COUNTERS)[number], Counter>;

export function declareProxyProtocolStats(config: ProxyProtocolConfig, layout: StatsLayout): void {
  layout.declareAll(config.statPrefix, GENERAL_COUNTERS, 'counter');
  for (const v of ['v1', 'v2'])
    layout.declareAll(`${config.statPrefix}versions.${v}.`, VERSION_COUNTERS, 'counter');
  layout.declare(LEGACY_ERROR, 'counter');
}

export class ProxyProtocolFilter extends PeekingListenerFilter {
  private readonly versions: Record<ProxyProtocolVersion, VersionCounters>;
  private readonly notFoundAllowed: Counter;
  private readonly notFoundDisallowed: Counter;
  private readonly legacyErrors: Counter;

  constructor(
    private readonly config: ProxyProtocolConfig,
    stats: StatsStore,
  ) {
    super();
    const versionCounters = (v: string): VersionCounters =>
      Object.fromEntries(
        VERSION_COUNTERS.map((name) => [name, stats.counter(`${config.statPrefix}versions.${v}.${name}`)]),
      ) as VersionCounters;
    this.versions = { 1: versionCounters('v1'), 2: versionCounters('v2') };
    this.notFoundAllowed = stats.counter(config.statPrefix + 'not_found_allowed');
    this.notFoundDisallowed = stats.counter(config.statPrefix + 'not_found_disallowed');
    this.legacyErrors = stats.counter(LEGACY_ERROR);
  }

  protected callbacks(facts: ConnectionFacts): PeekCallbacks {
    const { config } = this;
    /** The version whose signature the bytes so far start with (for a close mid-header). */
    let seen: ProxyProtocolVersion | 0 = 0;
    return {
      examine: (data) => {
        const header = parseProxyHeader(data);
        seen = header.version;
        switch (header.status) {
          case ProxyHeaderStatus.NeedMore:
            return NEED_MORE;
          case ProxyHeaderStatus.NotFound:
            if (config.allowRequestsWithoutProxyProtocol) {
              this.notFoundAllowed.inc();
              return 0;
            }
            this.notFoundDisallowed.inc();
            this.legacyErrors.inc();
            return CLOSE;
          case ProxyHeaderStatus.Malformed:
            this.countError(header.version as ProxyProtocolVersion);
            return CLOSE;
          case ProxyHeaderStatus.Found: {
            const version = header.version as ProxyProtocolVersion;
            if (config.disallowedVersions.includes(version)) {
              this.versions[version].disallowed.inc();
              this.legacyErrors.inc();
              return CLOSE;
            }
            this.versions[version].found.inc();
            facts.addresses = header.addresses;
            return header.length;
          }
        }
      },
      // A peer that closes mid-header sent a truncated one; one that sent no signature sent none.
      peerClosed: () => {
        if (seen !== 0) this.countError(seen);
      },
    };
  }

  private countError(version: ProxyProtocolVersion): void {
    this.versions[version].error.inc();
    this.legacyErrors.inc();
  }
}
