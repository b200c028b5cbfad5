/** Route hash_policy: what each entry hashes, how entries combine, `terminal`, and its config. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HashPolicyConfig } from '../../src/config/bootstrap';
import type { RequestHead } from '../../src/http/codec';
import { HeaderMap } from '../../src/http/header-map';
import { cookieValue, HashPolicy, queryParameter } from '../../src/router/hash-policy';
import { combineHash, xxHash32 } from '../../src/upstream/lb/hash';
import { loadOk, issuesOf, minimalConfig } from '../config/helpers';

function head(path: string, headers: [string, string][] = []): RequestHead {
  const map = new HeaderMap();
  for (const [n, v] of headers) map.add(n, v);
  return {
    method: 'GET',
    path,
    protocol: 'HTTP/1.1',
    headers: map,
    keepAlive: true,
    contentLength: -1,
    chunked: false,
    upgrade: false,
  };
}

const header = (name: string, terminal = false): HashPolicyConfig => ({ kind: 'header', name, terminal });

test('each entry hashes its input; a request without any input has no hash', () => {
  const policy = (e: HashPolicyConfig) => new HashPolicy([e]);
  assert.equal(
    policy(header('x-user')).hash(head('/', [['x-user', 'alice']]), '10.1.1.1'),
    xxHash32('alice'),
  );
  assert.equal(policy(header('x-user')).hash(head('/'), '10.1.1.1'), null);
  assert.equal(
    policy({ kind: 'cookie', name: 'sid', terminal: false }).hash(
      head('/', [['cookie', 'a=1; sid="s-42"; b=2']]),
      '',
    ),
    xxHash32('s-42'),
  );
  assert.equal(
    policy({ kind: 'source_ip', terminal: false }).hash(head('/'), '10.1.1.1'),
    xxHash32('10.1.1.1'),
  );
  assert.equal(
    policy({ kind: 'query_parameter', name: 'u', terminal: false }).hash(head('/p?x=1&u=bob&u=eve'), ''),
    xxHash32('bob'),
  );
});

test('several fields of one header hash the same in any order', () => {
  const p = new HashPolicy([header('x-k')]);
  const ab = p.hash(
    head('/', [
      ['x-k', 'a'],
      ['x-k', 'b'],
    ]),
    '',
  );
  assert.equal(
    p.hash(
      head('/', [
        ['x-k', 'b'],
        ['x-k', 'a'],
      ]),
      '',
    ),
    ab,
  );
  assert.notEqual(ab, xxHash32('a'));
});

test('entries combine in order; a terminal entry that produced a hash ends the list', () => {
  const req = head('/', [
    ['x-a', '1'],
    ['x-b', '2'],
  ]);
  assert.equal(
    new HashPolicy([header('x-a'), header('x-b')]).hash(req, ''),
    combineHash(xxHash32('1'), xxHash32('2')),
  );
  assert.equal(new HashPolicy([header('x-a', true), header('x-b')]).hash(req, ''), xxHash32('1'));
  // A terminal entry without input does not stop the list.
  assert.equal(new HashPolicy([header('x-missing', true), header('x-b')]).hash(req, ''), xxHash32('2'));
  const ctx = new HashPolicy([header('x-a')]).lbContext(req, '');
  assert.equal(ctx.hashKey, xxHash32('1'));
});

test('cookie and query parameter parsing', () => {
  const h = new HeaderMap();
  h.add('cookie', 'sidx=1;  sid=abc ');
  h.add('cookie', 'other=2');
  assert.equal(cookieValue(h, 'sid'), 'abc');
  assert.equal(cookieValue(h, 'other'), '2');
  assert.equal(cookieValue(h, 'si'), null);
  assert.equal(queryParameter('/p?a=1&flag&b=2#frag', 'flag'), '');
  assert.equal(queryParameter('/p?a=1&b=2#x&c=3', 'c'), null);
  assert.equal(queryParameter('/p', 'a'), null);
});

test('hash_policy is read from the route action, with located errors for what is not supported', () => {
  const b = loadOk(
    minimalConfig({
      route: `route:
  cluster: c0
  hash_policy:
  - header: { header_name: X-User }
    terminal: true
  - cookie: { name: sid }
  - connection_properties: { source_ip: true }
  - query_parameter: { name: u }`,
    }),
  );
  const action = b.listeners[0]!.filterChains[0]!.filters[0]!.config as {
    routeConfig: { virtualHosts: { routes: { action: { hashPolicy: HashPolicyConfig[] } }[] }[] };
  };
  assert.deepEqual(action.routeConfig.virtualHosts[0]!.routes[0]!.action.hashPolicy, [
    { kind: 'header', name: 'x-user', terminal: true },
    { kind: 'cookie', name: 'sid', terminal: false },
    { kind: 'source_ip', terminal: false },
    { kind: 'query_parameter', name: 'u', terminal: false },
  ]);

  const issues = issuesOf(
    minimalConfig({
      route: `route:
  cluster: c0
  hash_policy:
  - cookie: { name: sid, ttl: 10s }
  - filter_state: { key: k }
  - header: { header_name: a }
    query_parameter: { name: b }`,
    }),
  ).filter((i) => i.severity === 'error');
  assert.ok(
    issues.some((i) => i.path.endsWith('hash_policy[0].cookie.ttl')),
    JSON.stringify(issues),
  );
  assert.ok(issues.some((i) => i.path.endsWith('hash_policy[1].filter_state')));
  assert.ok(issues.some((i) => i.path.includes('hash_policy[2]')));
});
