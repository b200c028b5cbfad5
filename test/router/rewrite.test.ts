import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestHead } from '../../src/http/codec';
import type { HeaderMap } from '../../src/http/header-map';
import type { RedirectActionConfig, RouteConfig } from '../../src/config/bootstrap';
import { compileRouteTable, type MatchedRoute } from '../../src/router/route-table';
import {
  PathRewrite,
  pickWeightedIndex,
  re2SubstitutionToJs,
  redirectLocation,
  validateRegexRewrite,
} from '../../src/router/rewrite';
import { compileRe2, translateRe2, validateRe2 } from '../../src/router/re2';
import {
  fields,
  formatContext,
  headers,
  match,
  noMutations,
  redirectAction,
  route,
  routeAction,
  routeConfig,
  vhost,
} from './fixtures';

function head(path: string, h: HeaderMap = headers()): RequestHead {
  return {
    method: 'GET',
    path,
    protocol: 'HTTP/1.1',
    headers: h,
    keepAlive: true,
    contentLength: -1,
    chunked: false,
    upgrade: false,
  };
}

function only(r: RouteConfig, path: string): MatchedRoute {
  const matched = compileRouteTable(routeConfig([vhost('vh', ['*'], [r])])).route('h', path, headers());
  assert.ok(matched, `route matches ${path}`);
  return matched;
}

/** The path the upstream sees for `path` through route `r`. */
function rewritten(r: RouteConfig, path: string): string {
  const h = head(path);
  only(r, path).rewriteRequest(h, formatContext(), null, false);
  return h.path;
}

test('prefix_rewrite replaces the matched prefix and keeps the query', () => {
  const r = route('r', match('prefix', '/api/'), { action: routeAction({ prefixRewrite: '/' }) });
  assert.equal(rewritten(r, '/api/v1/users?x=1'), '/v1/users?x=1');
  assert.equal(rewritten(r, '/api/'), '/');
  const ci = route('r', match('prefix', '/API', { caseSensitive: false }), {
    action: routeAction({ prefixRewrite: '/v2' }),
  });
  assert.equal(rewritten(ci, '/api/x'), '/v2/x');
  const sep = route('r', match('path_separated_prefix', '/old'), {
    action: routeAction({ prefixRewrite: '/new' }),
  });
  assert.equal(rewritten(sep, '/old/a?b'), '/new/a?b');
  assert.equal(rewritten(sep, '/old'), '/new');
});

test('prefix_rewrite on path and regex routes replaces the whole path', () => {
  const exact = route('r', match('path', '/a/b'), { action: routeAction({ prefixRewrite: '/c' }) });
  assert.equal(rewritten(exact, '/a/b?q'), '/c?q');
  const re = route('r', match('safe_regex', '/x/[0-9]+'), { action: routeAction({ prefixRewrite: '/n' }) });
  assert.equal(rewritten(re, '/x/12?y=1'), '/n?y=1');
});

test('regex_rewrite substitutes every match of the path part, with \\N groups', () => {
  const r = (pattern: string, substitution: string) =>
    route('r', match('prefix', '/'), { action: routeAction({ regexRewrite: { pattern, substitution } }) });
  assert.equal(
    rewritten(r('^/service/([^/]+)(/.*)$', '\\2/instance/\\1'), '/service/foo/v1/api?x=/service/'),
    '/v1/api/instance/foo?x=/service/',
  );
  assert.equal(rewritten(r('one', 'two'), '/xxx/one/yyy/one/zzz'), '/xxx/two/yyy/two/zzz');
  assert.equal(rewritten(r('^/(.*)$', '/\\1$'), '/a'), '/a$');
  assert.equal(rewritten(r('(a)', '\\10'), '/a'), '/a0');
  assert.equal(rewritten(r('a+', '[\\0]'), '/caaab'), '/c[aaa]b');
  assert.equal(rewritten(r('x', '\\\\'), '/x'), '/\\');
});

test('re2 substitution translation and validation', () => {
  assert.equal(re2SubstitutionToJs('\\1-\\2'), '$01-$02');
  assert.equal(re2SubstitutionToJs('$1'), '$$1');
  assert.equal(validateRegexRewrite('(a)(b)', '\\2\\1'), null);
  assert.match(validateRegexRewrite('(a)', '\\2') ?? '', /group \\2/);
  assert.match(validateRegexRewrite('a', '\\x') ?? '', /invalid rewrite escape/);
  assert.match(validateRegexRewrite('(?=a)', 'b') ?? '', /lookahead/);
});

test('RE2 → JS regex translation and rejection', () => {
  assert.deepEqual(translateRe2('(?P<id>[0-9]+)'), { source: '(?<id>[0-9]+)', flags: '' });
  assert.deepEqual(translateRe2('(?i)abc'), { source: 'abc', flags: 'i' });
  assert.deepEqual(translateRe2('\\Aab\\z'), { source: '^ab$', flags: '' });
  assert.deepEqual(translateRe2('[]a]'), { source: '[\\]a]', flags: '' });
  assert.equal(compileRe2('[]a]+', true).test(']a]'), true);
  assert.equal(compileRe2('(?i)/ABC', true).test('/abc'), true);
  assert.equal(compileRe2('a|ab', true).test('ab'), true, 'full match tries every alternative');
  for (const bad of [
    '(a)\\1',
    '(?=x)',
    '(?!x)',
    '(?<=x)',
    '(?<!x)',
    '(?P=n)',
    '\\Qa\\E',
    '[[:alpha:]]',
    '\\pL',
    'a(?i)b',
    '(?m)^a',
    '(',
    'a{2,1}',
  ]) {
    assert.notEqual(validateRe2(bad), null, `rejects ${bad}`);
  }
  for (const good of ['/api/v[0-9]+/.*', '^/x$', '[\\d\\w-]+', '(?:a|b)*', '(?<name>x)', '\\.', '[(]']) {
    assert.equal(validateRe2(good), null, `accepts ${good}`);
  }
});

test('host_rewrite_literal and auto_host_rewrite', () => {
  const literal = route('r', match('prefix', '/'), {
    action: routeAction({ hostRewriteLiteral: 'internal.svc' }),
  });
  const h = head('/', headers(['host', 'public.example.com']));
  only(literal, '/').rewriteRequest(h, formatContext(), null, false);
  assert.deepEqual(fields(h.headers), [['host', 'internal.svc']]);

  const auto = only(
    route('r', match('prefix', '/'), { action: routeAction({ autoHostRewrite: true }) }),
    '/',
  );
  const h2 = head('/', headers(['host', 'public']));
  auto.rewriteHost(h2, '');
  assert.equal(h2.headers.get('host'), 'public', 'no hostname (STATIC endpoint): Host kept');
  auto.rewriteHost(h2, 'backend.internal');
  assert.equal(h2.headers.get('host'), 'backend.internal');
  const off = only(route('r', match('prefix', '/')), '/');
  off.rewriteHost(h2, 'other');
  assert.equal(h2.headers.get('host'), 'backend.internal', 'auto_host_rewrite off: unchanged');
});

test('x-envoy-original-path is set only when the path is rewritten and asked for', () => {
  const r = only(route('r', match('prefix', '/a'), { action: routeAction({ prefixRewrite: '/b' }) }), '/a/x');
  const h = head('/a/x?y');
  r.rewriteRequest(h, formatContext(), null, true);
  assert.equal(h.path, '/b/x?y');
  assert.equal(h.headers.get('x-envoy-original-path'), '/a/x?y');
  const h2 = head('/a/x');
  r.rewriteRequest(h2, formatContext(), null, false);
  assert.equal(h2.headers.has('x-envoy-original-path'), false);
  const plain = only(route('p', match('prefix', '/')), '/a');
  const h3 = head('/a');
  plain.rewriteRequest(h3, formatContext(), null, true);
  assert.equal(h3.headers.has('x-envoy-original-path'), false);
});

type RedirectCase = [
  label: string,
  config: Partial<RedirectActionConfig>,
  scheme: string,
  host: string,
  path: string,
  location: string,
];

const REDIRECTS: RedirectCase[] = [
  ['nothing set: same URL', {}, 'http', 'a.com', '/p?q', 'http://a.com/p?q'],
  ['https_redirect drops :80', { httpsRedirect: true }, 'http', 'a.com:80', '/p', 'https://a.com/p'],
  [
    'https_redirect keeps other ports',
    { httpsRedirect: true },
    'http',
    'a.com:8080',
    '/p',
    'https://a.com:8080/p',
  ],
  ['https_redirect, no port', { httpsRedirect: true }, 'http', 'a.com', '/p?q=1', 'https://a.com/p?q=1'],
  ['https → https keeps :443', { httpsRedirect: true }, 'https', 'a.com:443', '/p', 'https://a.com:443/p'],
  [
    'scheme_redirect http from https drops :443',
    { schemeRedirect: 'http' },
    'https',
    'a.com:443',
    '/',
    'http://a.com/',
  ],
  [
    'scheme_redirect wins over https_redirect',
    { schemeRedirect: 'ws', httpsRedirect: true },
    'http',
    'a.com',
    '/',
    'ws://a.com/',
  ],
  [
    'host_redirect replaces host and port',
    { hostRedirect: 'b.com' },
    'http',
    'a.com:8080',
    '/p',
    'http://b.com/p',
  ],
  [
    'host_redirect verbatim with its port',
    { hostRedirect: 'b.com:9000' },
    'http',
    'a.com',
    '/p',
    'http://b.com:9000/p',
  ],
  [
    'port_redirect replaces the port',
    { portRedirect: 8443 },
    'http',
    'a.com:8080',
    '/p',
    'http://a.com:8443/p',
  ],
  ['port_redirect adds a port', { portRedirect: 8443 }, 'http', 'a.com', '/p', 'http://a.com:8443/p'],
  [
    'port_redirect + host_redirect',
    { hostRedirect: 'b.com', portRedirect: 81 },
    'http',
    'a.com',
    '/p',
    'http://b.com:81/p',
  ],
  [
    'https + port_redirect',
    { httpsRedirect: true, portRedirect: 8443 },
    'http',
    'a.com:80',
    '/p',
    'https://a.com:8443/p',
  ],
  ['IPv6 host port dropped', { httpsRedirect: true }, 'http', '[::1]:80', '/p', 'https://[::1]/p'],
  ['IPv6 host without port kept', { httpsRedirect: true }, 'http', '[::1]', '/p', 'https://[::1]/p'],
  [
    'path_redirect keeps the request query',
    { pathRedirect: '/new' },
    'http',
    'a.com',
    '/old?x=1',
    'http://a.com/new?x=1',
  ],
  [
    'path_redirect with its own query replaces it',
    { pathRedirect: '/new?y=2' },
    'http',
    'a.com',
    '/old?x=1',
    'http://a.com/new?y=2',
  ],
  [
    'path_redirect without leading slash',
    { pathRedirect: 'new' },
    'http',
    'a.com',
    '/old',
    'http://a.com/new',
  ],
  ['strip_query', { stripQuery: true }, 'http', 'a.com', '/p?x=1', 'http://a.com/p'],
  [
    'strip_query + path_redirect',
    { stripQuery: true, pathRedirect: '/n' },
    'http',
    'a.com',
    '/p?x=1',
    'http://a.com/n',
  ],
  [
    'strip_query does not strip a path_redirect query',
    { stripQuery: true, pathRedirect: '/n?k=v' },
    'http',
    'a.com',
    '/p?x=1',
    'http://a.com/n?k=v',
  ],
  [
    'uppercase request scheme still drops its default port',
    { httpsRedirect: true },
    'HTTP',
    'a.com:80',
    '/',
    'https://a.com/',
  ],
];

test('redirect Location: conformance table for every RedirectAction field', () => {
  for (const [label, config, scheme, host, path, location] of REDIRECTS) {
    assert.equal(redirectLocation(redirectAction(config), scheme, host, path), location, label);
  }
});

test('redirect through a route: prefix_rewrite, x-forwarded-proto as the scheme, response code', () => {
  const r = route('r', match('prefix', '/old/'), {
    action: redirectAction({ prefixRewrite: '/new/', responseCode: 302 }),
  });
  const matched = only(r, '/old/page?x=1');
  assert.equal(matched.redirectLocation(head('/old/page?x=1'), 'a.com:80'), 'http://a.com:80/new/page?x=1');
  const https = only(
    route('r', match('prefix', '/'), { action: redirectAction({ httpsRedirect: true }) }),
    '/',
  );
  assert.equal(
    https.redirectLocation(head('/p', headers(['x-forwarded-proto', 'http'])), 'a.com:80'),
    'https://a.com/p',
  );
  assert.equal(
    https.redirectLocation(head('/p', headers(['x-forwarded-proto', 'https'])), 'a.com:443'),
    'https://a.com:443/p',
  );
  assert.equal(matched.action.kind === 'redirect' && matched.action.responseCode, 302);
  assert.throws(
    () => only(route('x', match('prefix', '/')), '/').redirectLocation(head('/'), 'a'),
    /not a redirect/,
  );
});

test('weighted pick: Envoy intervals over random % total', () => {
  const weights = [1, 2, 3];
  const picks = [0, 1, 2, 3, 4, 5, 6, 7, 11].map((r) => pickWeightedIndex(weights, 6, r));
  assert.deepEqual(picks, [0, 1, 1, 2, 2, 2, 0, 1, 2]);
  assert.equal(pickWeightedIndex([0, 5], 5, 0), 1, 'zero weight is never picked');
});

test('weighted clusters: distribution follows the weights', () => {
  const entries = [
    { name: 'a', weight: 10, ...noMutations() },
    { name: 'b', weight: 30, ...noMutations() },
    { name: 'c', weight: 60, ...noMutations() },
  ];
  const r = only(
    route('r', match('prefix', '/'), { action: routeAction({ cluster: null, weightedClusters: entries }) }),
    '/',
  );
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const counts = new Map<string, number>();
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const name = r.pickCluster(headers(), random)!;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  for (const e of entries) {
    const share = (counts.get(e.name) ?? 0) / n;
    assert.ok(Math.abs(share - e.weight / 100) < 0.01, `${e.name}: ${share}`);
  }
  // Interval edges: the random source is scaled to a 32-bit integer, then taken modulo the total.
  const edge = (value: number) => r.pickCluster(headers(), () => value / 4294967296);
  assert.deepEqual([0, 9, 10, 39, 40, 99, 100].map(edge), ['a', 'a', 'b', 'b', 'c', 'c', 'a']);
});

test('pickCluster: cluster, cluster_header, and non-route actions', () => {
  const plain = only(route('r', match('prefix', '/'), { action: routeAction({ cluster: 'svc' }) }), '/');
  assert.equal(plain.pickCluster(headers(), Math.random), 'svc');
  const byHeader = only(
    route('r', match('prefix', '/'), { action: routeAction({ cluster: null, clusterHeader: 'x-cluster' }) }),
    '/',
  );
  assert.equal(
    byHeader.pickCluster(headers(['x-cluster', 'blue'], ['x-cluster', 'green']), Math.random),
    'blue',
  );
  assert.equal(byHeader.pickCluster(headers(), Math.random), null);
  assert.equal(byHeader.pickCluster(headers(['x-cluster', '']), Math.random), null);
  const redirect = only(route('r', match('prefix', '/'), { action: redirectAction() }), '/');
  assert.equal(redirect.pickCluster(headers(), Math.random), null);
});

test('PathRewrite.apply never touches the query', () => {
  assert.equal(PathRewrite.prefix(2, '/z').apply('/a?/a'), '/z?/a');
  assert.equal(PathRewrite.regex('a', 'b').apply('/a?a'), '/b?a');
  assert.equal(PathRewrite.prefix(-1, '/z').apply('/a/b#f'), '/z#f');
});
