/**
 * Envoy's `config.listener.v3.FilterChainMatch` (listener_components.proto): the criteria that pick
 * a listener's filter chain for a connection. Every field defaults to "any". Two chains of one
 * listener with the same criteria are an error, as in Envoy ("multiple filter chains with the same
 * matching rules are defined").
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { CidrRange, FilterChainMatch } from './bootstrap';
import type { ObjectReader } from './config-reader';
import { rejectUnsupported } from './unsupported';

const SOURCE_TYPES = ['ANY', 'SAME_IP_OR_LOOPBACK', 'EXTERNAL'] as const;
const UNSUPPORTED_MATCH_FIELDS = ['direct_source_prefix_ranges', 'address_suffix', 'suffix_len'] as const;

export const MATCH_ANY: FilterChainMatch = {
  destinationPort: 0,
  prefixRanges: [],
  serverNames: [],
  transportProtocol: '',
  applicationProtocols: [],
  sourceType: 'ANY',
  sourcePrefixRanges: [],
  sourcePorts: [],
};

export function parseFilterChainMatch(r: ObjectReader | null): FilterChainMatch {
  if (r === null) return MATCH_ANY;
  rejectUnsupported(r, UNSUPPORTED_MATCH_FIELDS);
  const match: FilterChainMatch = {
    destinationPort: r.wrappedUint('destination_port', 0, { min: 1, max: 65535 }),
    prefixRanges: parseCidrRanges(r, 'prefix_ranges'),
    serverNames: parseServerNames(r),
    transportProtocol: r.string('transport_protocol'),
    applicationProtocols: r.stringArray('application_protocols'),
    sourceType: r.enumValue('source_type', SOURCE_TYPES, 'ANY'),
    sourcePrefixRanges: parseCidrRanges(r, 'source_prefix_ranges'),
    sourcePorts: parsePorts(r, 'source_ports'),
  };
  return match;
}

/** `CidrRange[]`: `address_prefix` (an IP) and `prefix_len` (default: the whole address). */
export function parseCidrRanges(r: ObjectReader, field: string): CidrRange[] {
  return r.objectArray(field).map(parseCidrRange);
}

/** One `CidrRange`. */
export function parseCidrRange(range: ObjectReader): CidrRange {
  const address = range.requiredString('address_prefix');
  const v4 = isIPv4(address);
  if (address !== '' && !v4 && !isIPv6(address))
    range.error('address_prefix', `'${address}' is not an IP address`);
  const bits = v4 ? 32 : 128;
  return { address, prefixLen: range.wrappedUint('prefix_len', bits, { max: bits }) };
}

function parseServerNames(r: ObjectReader): string[] {
  const names = r.stringArray('server_names').map((n) => n.toLowerCase());
  names.forEach((name) => {
    // Envoy accepts only a leading "*." wildcard (partial wildcards such as "*w.example" are errors).
    if (name.includes('*') && !(name.startsWith('*.') && !name.slice(2).includes('*')))
      r.error('server_names', `'${name}': only a leading '*.' wildcard is supported, as in Envoy`);
  });
  return names;
}

function parsePorts(r: ObjectReader, field: string): number[] {
  const raw = r.raw(field);
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  const ports: number[] = [];
  for (const p of list) {
    const n = typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : p;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
      r.error(field, `expected ports (1..65535), found ${JSON.stringify(p)}`);
      return [];
    }
    ports.push(n);
  }
  return ports;
}

/** A canonical form of the criteria, for finding chains that match the same connections. */
export function matchKey(m: FilterChainMatch): string {
  const sorted = (xs: readonly (string | number)[]): string => [...xs].map(String).sort().join(',');
  const ranges = (rs: readonly CidrRange[]): string => sorted(rs.map((c) => `${c.address}/${c.prefixLen}`));
  return [
    m.destinationPort,
    ranges(m.prefixRanges),
    sorted(m.serverNames),
    m.transportProtocol,
    sorted(m.applicationProtocols),
    m.sourceType,
    ranges(m.sourcePrefixRanges),
    sorted(m.sourcePorts),
  ].join('|');
}
