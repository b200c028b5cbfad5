/**
 * Chooses a listener's filter chain for a connection the way Envoy does (FilterChainMatch docs):
 * criteria are taken in order — destination port, destination IP, server name, transport
 * protocol, application protocols, source type, source IP, source port — and at each step only
 * the chains with the most specific match for that criterion stay (a chain that leaves it empty
 * matches anything, least specifically). There is no backtracking: if the chains left after one
 * step all fail a later one, nothing matches (the default chain then serves, if any).
 */
import { CompiledCidr } from '../common/cidr';
import type { FilterChainMatch } from '../config/bootstrap';

/** What a connection offers to the criteria (addresses as `ipBytes` gives them). */
export interface ConnectionKeys {
  destinationPort: number;
  destinationIp: Uint8Array | null;
  serverName: string;
  transportProtocol: string;
  applicationProtocols: readonly string[];
  sourceIp: Uint8Array | null;
  sourcePort: number;
  /** Loopback source, or the same IP as the destination (Envoy's SAME_IP_OR_LOOPBACK). */
  sourceIsLocal: boolean;
}

const NO_MATCH = -1;
const ANY = 0;
/** An exact server name beats every wildcard (whose score is its suffix length). */
const EXACT_NAME = 1 << 16;

type Criterion = (m: CompiledMatch, keys: ConnectionKeys) => number;

interface CompiledMatch {
  readonly config: FilterChainMatch;
  readonly prefixRanges: CompiledCidr[];
  readonly sourcePrefixRanges: CompiledCidr[];
}

function longestPrefix(ranges: readonly CompiledCidr[], ip: Uint8Array | null): number {
  if (ranges.length === 0) return ANY;
  let best = NO_MATCH;
  if (ip !== null) for (const r of ranges) if (r.bits + 1 > best && r.contains(ip)) best = r.bits + 1;
  return best;
}

function serverNameScore(names: readonly string[], sni: string): number {
  if (names.length === 0) return ANY;
  let best = NO_MATCH;
  if (sni === '') return best;
  for (const name of names) {
    if (name === sni) return EXACT_NAME;
    // '*.example.com' matches any name ending in '.example.com' (Envoy tries ever shorter suffixes).
    if (name.startsWith('*.') && sni.length > name.length - 1 && sni.endsWith(name.slice(1)))
      best = Math.max(best, name.length);
  }
  return best;
}

const CRITERIA: readonly Criterion[] = [
  (m, k) =>
    m.config.destinationPort === 0 ? ANY : m.config.destinationPort === k.destinationPort ? 1 : NO_MATCH,
  (m, k) => longestPrefix(m.prefixRanges, k.destinationIp),
  (m, k) => serverNameScore(m.config.serverNames, k.serverName),
  (m, k) =>
    m.config.transportProtocol === ''
      ? ANY
      : m.config.transportProtocol === k.transportProtocol
        ? 1
        : NO_MATCH,
  (m, k) => {
    const wanted = m.config.applicationProtocols;
    if (wanted.length === 0) return ANY;
    return k.applicationProtocols.some((p) => wanted.includes(p)) ? 1 : NO_MATCH;
  },
  (m, k) => {
    const type = m.config.sourceType;
    if (type === 'ANY') return ANY;
    return (type === 'SAME_IP_OR_LOOPBACK') === k.sourceIsLocal ? 1 : NO_MATCH;
  },
  (m, k) => longestPrefix(m.sourcePrefixRanges, k.sourceIp),
  (m, k) => {
    const ports = m.config.sourcePorts;
    return ports.length === 0 ? ANY : ports.includes(k.sourcePort) ? 1 : NO_MATCH;
  },
];

export class FilterChainSelector<T> {
  private readonly entries: { match: CompiledMatch; value: T }[];

  constructor(
    chains: readonly { match: FilterChainMatch; value: T }[],
    private readonly fallback: T | null,
  ) {
    this.entries = chains.map(({ match, value }) => ({
      match: {
        config: match,
        prefixRanges: match.prefixRanges.map((r) => new CompiledCidr(r)),
        sourcePrefixRanges: match.sourcePrefixRanges.map((r) => new CompiledCidr(r)),
      },
      value,
    }));
  }

  /** The chain for a connection, or the default chain, or null: no chain serves it. */
  select(keys: ConnectionKeys): T | null {
    let candidates = this.entries;
    for (const criterion of CRITERIA) {
      let best = NO_MATCH;
      let kept: typeof candidates = [];
      for (const entry of candidates) {
        const score = criterion(entry.match, keys);
        if (score > best) {
          best = score;
          kept = [entry];
        } else if (score === best && score !== NO_MATCH) kept.push(entry);
      }
      if (kept.length === 0) return this.fallback;
      candidates = kept;
    }
    return candidates[0]!.value;
  }
}
