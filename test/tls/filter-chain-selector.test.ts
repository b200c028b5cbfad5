/**
 * Filter chain matching, each criterion of FilterChainMatch × match / no match / more specific,
 * and Envoy's no-backtracking rule, on the selector alone (no sockets).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipBytes } from '../../src/common/cidr';
import type { FilterChainMatch } from '../../src/config/bootstrap';
import { MATCH_ANY } from '../../src/config/filter-chain-match';
import { FilterChainSelector, type ConnectionKeys } from '../../src/listener/filter-chain-selector';

const keys = (
  k: Partial<Omit<ConnectionKeys, 'destinationIp' | 'sourceIp'>> & { dst?: string; src?: string } = {},
): ConnectionKeys => ({
  destinationPort: k.destinationPort ?? 443,
  destinationIp: ipBytes(k.dst ?? '10.0.0.1'),
  serverName: k.serverName ?? '',
  transportProtocol: k.transportProtocol ?? 'raw_buffer',
  applicationProtocols: k.applicationProtocols ?? [],
  sourceIp: ipBytes(k.src ?? '192.168.1.10'),
  sourcePort: k.sourcePort ?? 40000,
  sourceIsLocal: k.sourceIsLocal ?? false,
});

const m = (fields: Partial<FilterChainMatch>): FilterChainMatch => ({ ...MATCH_ANY, ...fields });

function selector(chains: Record<string, Partial<FilterChainMatch>>, fallback: string | null = null) {
  return new FilterChainSelector(
    Object.entries(chains).map(([value, match]) => ({ match: m(match), value })),
    fallback,
  );
}

/** Each criterion: [chain fields, keys that match it, keys that do not]. */
const CRITERIA: [
  string,
  Partial<FilterChainMatch>,
  Parameters<typeof keys>[0],
  Parameters<typeof keys>[0],
][] = [
  ['destination_port', { destinationPort: 8443 }, { destinationPort: 8443 }, { destinationPort: 443 }],
  [
    'prefix_ranges',
    { prefixRanges: [{ address: '10.0.0.0', prefixLen: 8 }] },
    { dst: '10.1.2.3' },
    { dst: '11.0.0.1' },
  ],
  [
    'prefix_ranges v6',
    { prefixRanges: [{ address: 'fd00::', prefixLen: 16 }] },
    { dst: 'fd00::5' },
    { dst: 'fe80::1' },
  ],
  [
    'server_names exact',
    { serverNames: ['a.example'] },
    { serverName: 'a.example' },
    { serverName: 'b.example' },
  ],
  [
    'server_names wildcard',
    { serverNames: ['*.example.com'] },
    { serverName: 'x.y.example.com' },
    { serverName: 'example.com' },
  ],
  [
    'server_names without SNI',
    { serverNames: ['a.example'] },
    { serverName: 'a.example' },
    { serverName: '' },
  ],
  [
    'transport_protocol',
    { transportProtocol: 'tls' },
    { transportProtocol: 'tls' },
    { transportProtocol: 'raw_buffer' },
  ],
  [
    'application_protocols',
    { applicationProtocols: ['h2', 'http/1.1'] },
    { applicationProtocols: ['http/1.1'] },
    { applicationProtocols: ['acme'] },
  ],
  [
    'source_type local',
    { sourceType: 'SAME_IP_OR_LOOPBACK' },
    { sourceIsLocal: true },
    { sourceIsLocal: false },
  ],
  ['source_type external', { sourceType: 'EXTERNAL' }, { sourceIsLocal: false }, { sourceIsLocal: true }],
  [
    'source_prefix_ranges',
    { sourcePrefixRanges: [{ address: '192.168.0.0', prefixLen: 16 }] },
    { src: '192.168.7.7' },
    { src: '172.16.0.1' },
  ],
  [
    'source_prefix_ranges /32',
    { sourcePrefixRanges: [{ address: '192.168.1.10', prefixLen: 32 }] },
    { src: '::ffff:192.168.1.10' },
    { src: '192.168.1.11' },
  ],
  ['source_ports', { sourcePorts: [1234, 5678] }, { sourcePort: 5678 }, { sourcePort: 1 }],
];

for (const [name, fields, yes, no] of CRITERIA) {
  test(`filter_chain_match ${name}: match, no match (default chain), no default (null)`, () => {
    assert.equal(selector({ specific: fields }, 'default').select(keys(yes)), 'specific');
    assert.equal(selector({ specific: fields }, 'default').select(keys(no)), 'default');
    assert.equal(selector({ specific: fields }).select(keys(no)), null);
    // A chain without the criterion matches anything, but less specifically.
    assert.equal(selector({ any: {}, specific: fields }).select(keys(yes)), 'specific');
    assert.equal(selector({ any: {}, specific: fields }).select(keys(no)), 'any');
  });
}

test('server_names: exact beats the longest wildcard, which beats a shorter one', () => {
  const s = selector({
    short: { serverNames: ['*.example.com'] },
    long: { serverNames: ['*.b.example.com'] },
    exact: { serverNames: ['a.b.example.com'] },
  });
  assert.equal(s.select(keys({ serverName: 'a.b.example.com' })), 'exact');
  assert.equal(s.select(keys({ serverName: 'c.b.example.com' })), 'long');
  assert.equal(s.select(keys({ serverName: 'c.example.com' })), 'short');
});

test('prefix ranges: the longest prefix wins', () => {
  const s = selector({
    wide: { prefixRanges: [{ address: '10.0.0.0', prefixLen: 8 }] },
    narrow: { prefixRanges: [{ address: '10.1.0.0', prefixLen: 16 }] },
  });
  assert.equal(s.select(keys({ dst: '10.1.2.3' })), 'narrow');
  assert.equal(s.select(keys({ dst: '10.2.2.3' })), 'wide');
});

test('no backtracking: the port narrows the chains first, even if the survivors then fail', () => {
  const s = selector(
    { port: { destinationPort: 443, serverNames: ['a.example'] }, sni: { serverNames: ['b.example'] } },
    'default',
  );
  // b.example would match `sni`, but `port` is more specific on the first criterion and fails later.
  assert.equal(s.select(keys({ destinationPort: 443, serverName: 'b.example' })), 'default');
  assert.equal(s.select(keys({ destinationPort: 80, serverName: 'b.example' })), 'sni');
});

test('criteria are taken in order: server name before transport protocol before source', () => {
  const s = selector({
    tls: { transportProtocol: 'tls' },
    named: { serverNames: ['a.example'] },
    src: { sourcePorts: [5] },
  });
  assert.equal(s.select(keys({ serverName: 'a.example', transportProtocol: 'tls', sourcePort: 5 })), 'named');
  assert.equal(s.select(keys({ serverName: 'x.example', transportProtocol: 'tls', sourcePort: 5 })), 'tls');
  assert.equal(s.select(keys({ serverName: 'x.example', sourcePort: 5 })), 'src');
});
