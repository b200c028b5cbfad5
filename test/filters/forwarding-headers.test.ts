/**
 * x-forwarded-for, x-forwarded-proto and the trusted client address, on the examples of Envoy's
 * "x-forwarded-for" documentation (HTTP connection manager, header manipulation) and the edges of
 * its getLastAddressFromXFF.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressFromRight,
  type ForwardingRules,
} from '../../src/filters/network/http-connection-manager/forwarding';
import { forwardingRules, requestHead } from './forwarding-fixtures';

function rules(useRemoteAddress: boolean, xffNumTrustedHops: number): ForwardingRules {
  return forwardingRules({ useRemoteAddress, xffNumTrustedHops });
}

const head = requestHead;

const EXTERNAL = '203.0.113.128, 203.0.113.10, 203.0.113.1';

/** [case, use_remote_address, xff_num_trusted_hops, peer, XFF fields, trusted client (null: peer), XFF sent on] */
const CASES: [string, boolean, number, string, string[], string | null, string | undefined][] = [
  [
    'Envoy example 1: edge, no trusted proxy',
    true,
    0,
    '192.0.2.10',
    [EXTERNAL],
    null,
    `${EXTERNAL},192.0.2.10`,
  ],
  [
    'Envoy example 2: internal proxy behind that edge',
    false,
    0,
    '10.11.12.13',
    [`${EXTERNAL},192.0.2.10`],
    '192.0.2.10',
    `${EXTERNAL},192.0.2.10`,
  ],
  [
    'Envoy example 3: edge behind two trusted proxies',
    true,
    2,
    '192.0.2.10',
    [EXTERNAL],
    '203.0.113.10',
    `${EXTERNAL},192.0.2.10`,
  ],
  [
    'Envoy example 4: internal proxy behind that edge',
    false,
    2,
    '10.11.12.13',
    [`${EXTERNAL},192.0.2.10`],
    '203.0.113.10',
    `${EXTERNAL},192.0.2.10`,
  ],
  ['edge, one trusted hop', true, 1, '192.0.2.10', [EXTERNAL], '203.0.113.1', `${EXTERNAL},192.0.2.10`],
  ['edge, no XFF', true, 0, '192.0.2.10', [], null, '192.0.2.10'],
  ['edge, trusted hops but no XFF', true, 1, '192.0.2.10', [], null, '192.0.2.10'],
  ['edge, more trusted hops than entries', true, 4, '192.0.2.10', [EXTERNAL], null, `${EXTERNAL},192.0.2.10`],
  ['internal, no XFF', false, 0, '10.0.0.1', [], null, undefined],
  ['internal, too few entries', false, 3, '10.0.0.1', [EXTERNAL], null, EXTERNAL],
  [
    'internal, the entry is not an address',
    false,
    0,
    '10.0.0.1',
    ['203.0.113.1, unknown'],
    null,
    '203.0.113.1, unknown',
  ],
  [
    'internal, IPv6 entry',
    false,
    1,
    '10.0.0.1',
    ['2001:db8::1 , 203.0.113.1'],
    '2001:db8::1',
    '2001:db8::1 , 203.0.113.1',
  ],
  [
    'edge, repeated XFF fields form one list',
    true,
    2,
    '192.0.2.10',
    ['203.0.113.128', '203.0.113.10, 203.0.113.1'],
    '203.0.113.10',
    '203.0.113.128,203.0.113.10, 203.0.113.1,192.0.2.10',
  ],
];

for (const [name, useRemote, hops, peer, xff, client, sent] of CASES) {
  test(`x-forwarded-for: ${name}`, () => {
    const h = head(xff.map((v) => ['x-forwarded-for', v]));
    assert.equal(rules(useRemote, hops).apply(h, peer, 'http'), client);
    const forwarded = h.headers.getAll('x-forwarded-for');
    if (sent === undefined) assert.deepEqual(forwarded, []);
    // Appending leaves one field; without append the fields pass as received.
    else assert.equal(forwarded.join(','), sent);
  });
}

test('x-forwarded-proto: an edge overwrites it unless a trusted hop set it; an internal proxy keeps it', () => {
  const xfp = (useRemote: boolean, hops: number, given?: string): string[] => {
    const h = head(given === undefined ? [] : [['x-forwarded-proto', given]]);
    rules(useRemote, hops).apply(h, '192.0.2.10', 'http');
    return h.headers.getAll('x-forwarded-proto');
  };
  assert.deepEqual(xfp(true, 0, 'https'), ['http']);
  assert.deepEqual(xfp(true, 1, 'https'), ['https']);
  assert.deepEqual(xfp(true, 1), ['http']);
  assert.deepEqual(xfp(false, 0, 'https'), ['https']);
  assert.deepEqual(xfp(false, 0), ['http']);
});

test('addressFromRight: entries counted from the right, trimmed, and only IP addresses', () => {
  assert.equal(addressFromRight('a, 10.0.0.2 ,10.0.0.3', 0), '10.0.0.3');
  assert.equal(addressFromRight('a, 10.0.0.2 ,10.0.0.3', 1), '10.0.0.2');
  assert.equal(addressFromRight('a, 10.0.0.2 ,10.0.0.3', 2), null);
  assert.equal(addressFromRight('a, 10.0.0.2 ,10.0.0.3', 3), null);
  assert.equal(addressFromRight('10.0.0.1', 0), '10.0.0.1');
  assert.equal(addressFromRight('10.0.0.1', 1), null);
  assert.equal(addressFromRight('', 0), null);
  assert.equal(addressFromRight(',10.0.0.1', 1), null);
  assert.equal(addressFromRight('10.0.0.1,', 0), null);
});
