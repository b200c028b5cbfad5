/**
 * `match_typed_subject_alt_names`: a peer certificate passes when one of its SANs of a matcher's
 * type matches that matcher (Envoy: any matcher, any SAN). Compiled once per context.
 */
import type * as tls from 'node:tls';
import { CompiledStringMatcher } from '../../router/string-matcher';
import type { SanMatcherConfig, SanType } from './config';

/** How Node's `subjectaltname` names each SAN type ("DNS:a.example, IP Address:10.0.0.1"). */
const SAN_PREFIXES: Record<SanType, string> = {
  DNS: 'DNS:',
  URI: 'URI:',
  EMAIL: 'email:',
  IP_ADDRESS: 'IP Address:',
};

export class SanMatchers {
  private readonly matchers: readonly { prefix: string; matcher: CompiledStringMatcher }[];

  constructor(configs: readonly SanMatcherConfig[]) {
    this.matchers = configs.map((m) => ({
      prefix: SAN_PREFIXES[m.sanType],
      matcher: new CompiledStringMatcher(m.matcher),
    }));
  }

  get empty(): boolean {
    return this.matchers.length === 0;
  }

  /** Whether the certificate passes (always, when there are no matchers). */
  accept(cert: tls.PeerCertificate): boolean {
    if (this.matchers.length === 0) return true;
    const names = cert.subjectaltname;
    const sans = names === undefined || names === '' ? [] : names.split(', ');
    for (const { prefix, matcher } of this.matchers) {
      for (const san of sans)
        if (san.startsWith(prefix) && matcher.match(san.slice(prefix.length))) return true;
    }
    return false;
  }
}
