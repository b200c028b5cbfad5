/**
 * Envoy's header sanitising ("HTTP header sanitizing" in its HTTP connection manager docs;
 * ConnectionManagerUtility::mutateRequestHeaders): whether a request is internal or arrives at the
 * edge, and what each means for x-envoy-internal, the x-envoy-* control headers, the caller's
 * description, x-envoy-external-address, x-request-id, `internal_only_headers` and Referer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CidrRange, HttpConnectionManagerConfig } from '../../src/config/bootstrap';
import {
  hostAddress,
  type ForwardingRules,
} from '../../src/filters/network/http-connection-manager/forwarding';
import { forwardingRules, requestHead } from './forwarding-fixtures';

const TEN_8: CidrRange = { address: '10.0.0.0', prefixLen: 8 };
const V6_ULA: CidrRange = { address: 'fd00::', prefixLen: 8 };

function rules(fields: Partial<HttpConnectionManagerConfig>, internal: CidrRange[] = []): ForwardingRules {
  return forwardingRules({ generateRequestId: true, ...fields }, internal, ['x-internal-secret']);
}

const head = requestHead;

/** What a client (or a proxy in front) may send that sanitising is about. */
const SENT: [string, string][] = [
  ['x-envoy-internal', 'true'],
  ['x-envoy-retry-on', '5xx'],
  ['x-envoy-max-retries', '7'],
  ['x-envoy-upstream-rq-timeout-ms', '1'],
  ['x-envoy-expected-rq-timeout-ms', '1'],
  ['x-envoy-hedge-on-per-try-timeout', 'true'],
  ['x-envoy-downstream-service-cluster', 'frontend'],
  ['x-envoy-decorator-operation', 'op'],
  ['x-envoy-external-address', '192.0.2.99'],
  ['x-internal-secret', 's'],
  ['x-request-id', 'given-id'],
  ['x-envoy-custom', 'kept'],
];

interface Expect {
  internal: boolean;
  /** Whether the control headers (retry, timeouts, …) and internal_only_headers survive. */
  control: boolean;
  /** Whether the caller's description (downstream service cluster, decorator) survives. */
  caller: boolean;
  externalAddress: string;
  requestIdKept: boolean;
}

/** [case, config, internal ranges, peer, x-forwarded-for sent, expected] */
const CASES: [string, Partial<HttpConnectionManagerConfig>, CidrRange[], string, string | null, Expect][] = [
  [
    'edge, no internal_address_config (Envoy 1.36+: nothing is internal)',
    { useRemoteAddress: true },
    [],
    '10.0.0.1',
    null,
    { internal: false, control: false, caller: false, externalAddress: '10.0.0.1', requestIdKept: false },
  ],
  [
    'edge, peer in internal_address_config',
    { useRemoteAddress: true },
    [TEN_8],
    '10.0.0.1',
    null,
    { internal: true, control: true, caller: true, externalAddress: '192.0.2.99', requestIdKept: true },
  ],
  [
    'edge, internal peer but the request brought its own x-forwarded-for',
    { useRemoteAddress: true },
    [TEN_8],
    '10.0.0.1',
    '10.0.0.5',
    { internal: false, control: false, caller: false, externalAddress: '10.0.0.1', requestIdKept: false },
  ],
  [
    'edge behind one trusted hop: the external address is the client from x-forwarded-for',
    { useRemoteAddress: true, xffNumTrustedHops: 1 },
    [],
    '10.0.0.1',
    '203.0.113.9',
    { internal: false, control: false, caller: false, externalAddress: '203.0.113.9', requestIdKept: false },
  ],
  [
    'edge, preserve_external_request_id',
    { useRemoteAddress: true, preserveExternalRequestId: true },
    [],
    '192.0.2.10',
    null,
    { internal: false, control: false, caller: false, externalAddress: '192.0.2.10', requestIdKept: true },
  ],
  [
    'edge, IPv6 peer in an IPv6 range',
    { useRemoteAddress: true },
    [V6_ULA],
    'fd12::1',
    null,
    { internal: true, control: true, caller: true, externalAddress: '192.0.2.99', requestIdKept: true },
  ],
  [
    'behind a proxy: a lone internal x-forwarded-for address',
    {},
    [TEN_8],
    '192.0.2.10',
    '10.0.0.5',
    { internal: true, control: true, caller: true, externalAddress: '192.0.2.99', requestIdKept: true },
  ],
  [
    'behind a proxy: two x-forwarded-for addresses are never internal',
    {},
    [TEN_8],
    '10.0.0.1',
    '10.0.0.4, 10.0.0.5',
    { internal: false, control: false, caller: true, externalAddress: '192.0.2.99', requestIdKept: true },
  ],
  [
    'behind a proxy: no x-forwarded-for is external, whatever the peer',
    {},
    [TEN_8],
    '10.0.0.1',
    null,
    { internal: false, control: false, caller: true, externalAddress: '192.0.2.99', requestIdKept: true },
  ],
  [
    'behind a proxy with trusted hops: the lone address is not the client',
    { xffNumTrustedHops: 1 },
    [TEN_8],
    '10.0.0.1',
    '10.0.0.5',
    { internal: false, control: false, caller: true, externalAddress: '192.0.2.99', requestIdKept: true },
  ],
];

for (const [name, config, ranges, peer, xff, expect] of CASES) {
  test(`sanitising: ${name}`, () => {
    const h = head(xff === null ? SENT : [...SENT, ['x-forwarded-for', xff]]);
    rules(config, ranges).apply(h, peer, 'http');
    const got = (field: string): string | undefined => h.headers.get(field);
    assert.equal(got('x-envoy-internal'), expect.internal ? 'true' : undefined, 'x-envoy-internal');
    assert.equal(h.headers.count('x-envoy-internal'), expect.internal ? 1 : 0);
    for (const field of [
      'x-envoy-retry-on',
      'x-envoy-max-retries',
      'x-envoy-upstream-rq-timeout-ms',
      'x-envoy-expected-rq-timeout-ms',
      'x-envoy-hedge-on-per-try-timeout',
      'x-internal-secret',
    ])
      assert.equal(got(field) !== undefined, expect.control, field);
    for (const field of ['x-envoy-downstream-service-cluster', 'x-envoy-decorator-operation'])
      assert.equal(got(field) !== undefined, expect.caller, field);
    assert.equal(got('x-envoy-external-address'), expect.externalAddress);
    assert.equal(
      got('x-request-id') === 'given-id',
      expect.requestIdKept,
      `x-request-id ${got('x-request-id')}`,
    );
    assert.match(got('x-request-id')!, /./);
    // Not a header Envoy knows: it passes, internal or not.
    assert.equal(got('x-envoy-custom'), 'kept');
  });
}

test('a repeated control header goes entirely, and the others keep their order', () => {
  const h = head([
    ['a', '1'],
    ['x-envoy-retry-on', '5xx'],
    ['b', '2'],
    ['x-envoy-retry-on', 'reset'],
    ['x-envoy-max-retries', '3'],
    ['c', '3'],
  ]);
  rules({ useRemoteAddress: true, generateRequestId: false }).apply(h, '192.0.2.10', 'http');
  assert.deepEqual(h.headers.names, [
    'a',
    'b',
    'c',
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-envoy-external-address',
  ]);
});

test('skip_xff_append leaves x-forwarded-for as received; a loopback peer is appended as the host address', () => {
  const skip = head([['x-forwarded-for', '203.0.113.1']]);
  rules({ useRemoteAddress: true, skipXffAppend: true }).apply(skip, '192.0.2.10', 'http');
  assert.deepEqual(skip.headers.getAll('x-forwarded-for'), ['203.0.113.1']);
  const loopback = head([]);
  rules({ useRemoteAddress: true }).apply(loopback, '127.0.0.1', 'http');
  assert.equal(loopback.headers.get('x-forwarded-for'), '198.51.100.7');
  // The edge's external address is still the peer's: only the appended entry is replaced.
  assert.equal(loopback.headers.get('x-envoy-external-address'), '127.0.0.1');
  assert.match(hostAddress(), /^\d+\.\d+\.\d+\.\d+$/);
});

test('Referer: one absolute http(s) URL passes; repeated, relative or another scheme is removed', () => {
  const cases: [string[], boolean][] = [
    [['https://example.com/page?q=1'], true],
    [['http://example.com'], true],
    [['/relative/path'], false],
    [['ftp://example.com/file'], false],
    [['not a url'], false],
    [['https://a.example/', 'https://b.example/'], false],
  ];
  for (const [values, kept] of cases) {
    const h = head(values.map((v) => ['referer', v]));
    rules({}).apply(h, '192.0.2.10', 'http');
    assert.deepEqual(h.headers.getAll('referer'), kept ? values : [], values.join(' + '));
  }
});
