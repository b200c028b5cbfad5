import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteConfig } from '../../src/config/bootstrap';
import type { HeaderMap } from '../../src/http/header-map';
import { compileRouteTable } from '../../src/router/route-table';
import { CompiledRouteMatch, pathPartEnd, regexLiteralHead } from '../../src/router/route-match';
import { header, headers, match, query, route, routeConfig, stringMatch, vhost } from './fixtures';

/** Name of the route that `path` (+ headers) selects in a one-host table, or null. */
function routeName(routes: RouteConfig[], path: string, h: HeaderMap = headers()): string | null {
  return compileRouteTable(routeConfig([vhost('vh', ['*'], routes)])).route('any', path, h)?.name ?? null;
}

type PathCase = [path: string, matches: boolean];

const PATH_MATCHERS: [string, RouteConfig['match'], PathCase[]][] = [
  [
    'prefix',
    match('prefix', '/api'),
    [
      ['/api', true],
      ['/api/v1', true],
      ['/apix', true],
      ['/api?x=1', true],
      ['/ap', false],
      ['/API', false],
      ['/x/api', false],
    ],
  ],
  [
    'prefix, case-insensitive',
    match('prefix', '/Api', { caseSensitive: false }),
    [
      ['/api/v1', true],
      ['/API', true],
      ['/aPi', true],
      ['/ap', false],
    ],
  ],
  [
    'prefix stops at the query',
    match('prefix', '/a?b'),
    [
      ['/a?b', false],
      ['/a?bc', false],
    ],
  ],
  [
    'path (exact, query and fragment ignored)',
    match('path', '/exact'),
    [
      ['/exact', true],
      ['/exact?q=1', true],
      ['/exact#frag', true],
      ['/exact/', false],
      ['/exactly', false],
      ['/EXACT', false],
    ],
  ],
  [
    'path, case-insensitive',
    match('path', '/Exact', { caseSensitive: false }),
    [
      ['/exact', true],
      ['/EXACT?x', true],
      ['/exact2', false],
    ],
  ],
  [
    'safe_regex (full match on the path without query)',
    match('safe_regex', '/users/[0-9]+'),
    [
      ['/users/42', true],
      ['/users/42?x=y', true],
      ['/users/42/x', false],
      ['/v1/users/42', false],
      ['/users/', false],
    ],
  ],
  [
    'safe_regex ignores case_sensitive',
    match('safe_regex', '/abc', { caseSensitive: false }),
    [
      ['/abc', true],
      ['/ABC', false],
    ],
  ],
  [
    'path_separated_prefix',
    match('path_separated_prefix', '/api'),
    [
      ['/api', true],
      ['/api/', true],
      ['/api/v1', true],
      ['/api?x', true],
      ['/api#x', true],
      ['/apix', false],
      ['/ap', false],
    ],
  ],
  [
    'path_separated_prefix, case-insensitive',
    match('path_separated_prefix', '/API', { caseSensitive: false }),
    [
      ['/api/x', true],
      ['/Api', true],
      ['/apis', false],
    ],
  ],
];

test('path matchers: conformance table', () => {
  for (const [label, m, cases] of PATH_MATCHERS) {
    for (const [path, expected] of cases) {
      assert.equal(routeName([route('r', m)], path) === 'r', expected, `${label}: ${path}`);
    }
  }
});

test('first matching route wins, in config order', () => {
  const routes = [
    route('exact', match('path', '/a/b')),
    route('prefix', match('prefix', '/a')),
    route('all', match('prefix', '/')),
  ];
  assert.equal(routeName(routes, '/a/b'), 'exact');
  assert.equal(routeName(routes, '/a/c'), 'prefix');
  assert.equal(routeName(routes, '/z'), 'all');
  const shadowed = [route('all', match('prefix', '/')), route('exact', match('path', '/a/b'))];
  assert.equal(routeName(shadowed, '/a/b'), 'all');
  assert.equal(routeName([route('a', match('prefix', '/a'))], '/b'), null);
});

type HeaderCase = [label: string, present: [string, string][], matches: boolean];

const HEADER_MATCHERS: [string, ReturnType<typeof header>, HeaderCase[]][] = [
  [
    'exact',
    header('x-env', { stringMatch: stringMatch('exact', 'prod') }),
    [
      ['equal', [['x-env', 'prod']], true],
      ['different case', [['x-env', 'PROD']], false],
      ['missing', [], false],
      [
        'joined values',
        [
          ['x-env', 'prod'],
          ['x-env', 'dev'],
        ],
        false,
      ],
    ],
  ],
  [
    'exact ignore_case',
    header('x-env', { stringMatch: stringMatch('exact', 'Prod', true) }),
    [
      ['different case', [['x-env', 'pROD']], true],
      ['other', [['x-env', 'dev']], false],
    ],
  ],
  [
    'prefix',
    header('x-v', { stringMatch: stringMatch('prefix', 'v1.') }),
    [
      ['match', [['x-v', 'v1.2']], true],
      ['no', [['x-v', 'v2.1']], false],
    ],
  ],
  [
    'suffix ignore_case',
    header('x-v', { stringMatch: stringMatch('suffix', '-BETA', true) }),
    [
      ['match', [['x-v', '2.0-beta']], true],
      ['no', [['x-v', '2.0']], false],
    ],
  ],
  [
    'contains',
    header('user-agent', { stringMatch: stringMatch('contains', 'curl') }),
    [
      ['match', [['user-agent', 'my curl/8']], true],
      ['no', [['user-agent', 'wget']], false],
    ],
  ],
  [
    'contains over joined values',
    header('x-tags', { stringMatch: stringMatch('contains', 'a,b') }),
    [
      [
        'two fields joined with ,',
        [
          ['x-tags', 'a'],
          ['x-tags', 'b'],
        ],
        true,
      ],
      ['one field', [['x-tags', 'a']], false],
    ],
  ],
  [
    'safe_regex (full match)',
    header('x-id', { stringMatch: stringMatch('safe_regex', '[0-9]{3}') }),
    [
      ['match', [['x-id', '123']], true],
      ['too long', [['x-id', '1234']], false],
    ],
  ],
  [
    'safe_regex inverted',
    header('x-id', { stringMatch: stringMatch('safe_regex', '[0-9]{3}'), invertMatch: true }),
    [
      ['inverted match', [['x-id', '1234']], true],
      ['inverted no', [['x-id', '123']], false],
      ['missing fails even inverted', [], false],
    ],
  ],
  [
    'treat_missing_header_as_empty',
    header('x-opt', { stringMatch: stringMatch('exact', ''), treatMissingHeaderAsEmpty: true }),
    [
      ['missing → ""', [], true],
      ['present empty', [['x-opt', '']], true],
      ['present', [['x-opt', 'v']], false],
    ],
  ],
  [
    'treat_missing_header_as_empty + invert',
    header('x-opt', {
      stringMatch: stringMatch('prefix', 'a'),
      treatMissingHeaderAsEmpty: true,
      invertMatch: true,
    }),
    [
      ['missing → "" → no prefix → inverted', [], true],
      ['a', [['x-opt', 'abc']], false],
    ],
  ],
  [
    'present_match',
    header('x-p'),
    [
      ['present', [['x-p', '']], true],
      ['missing', [], false],
    ],
  ],
  [
    'present_match inverted (= absent)',
    header('x-p', { invertMatch: true }),
    [
      ['present', [['x-p', 'v']], false],
      ['missing', [], true],
    ],
  ],
  [
    'present_match: false (= absent)',
    header('x-p', { presentMatch: false }),
    [
      ['present', [['x-p', 'v']], false],
      ['missing', [], true],
    ],
  ],
];

test('header matchers: conformance table', () => {
  for (const [label, matcher, cases] of HEADER_MATCHERS) {
    const routes = [route('r', match('prefix', '/', { headers: [matcher] }))];
    for (const [caseLabel, present, expected] of cases) {
      assert.equal(routeName(routes, '/', headers(...present)) === 'r', expected, `${label}: ${caseLabel}`);
    }
  }
});

test('all header and query conditions must hold', () => {
  const routes = [
    route(
      'both',
      match('prefix', '/', { headers: [header('a'), header('b')], queryParameters: [query('q')] }),
    ),
    route('fallback', match('prefix', '/')),
  ];
  assert.equal(routeName(routes, '/?q', headers(['a', '1'], ['b', '2'])), 'both');
  assert.equal(routeName(routes, '/?q', headers(['a', '1'])), 'fallback');
  assert.equal(routeName(routes, '/', headers(['a', '1'], ['b', '2'])), 'fallback');
});

test('header matchers on pseudo-headers (:method, :path, :authority, :scheme), as Envoy matches them on HTTP/1', () => {
  const routes = [
    route(
      'post',
      match('prefix', '/', { headers: [header(':method', { stringMatch: stringMatch('exact', 'POST') })] }),
    ),
    route(
      'admin-path',
      match('prefix', '/', { headers: [header(':path', { stringMatch: stringMatch('prefix', '/admin') })] }),
    ),
    route(
      'host',
      match('prefix', '/', {
        headers: [header(':authority', { stringMatch: stringMatch('exact', 'a.example') })],
      }),
    ),
    route(
      'https',
      match('prefix', '/', { headers: [header(':scheme', { stringMatch: stringMatch('exact', 'https') })] }),
    ),
    route(
      'not-get',
      match('prefix', '/', {
        headers: [header(':method', { stringMatch: stringMatch('exact', 'GET'), invertMatch: true })],
      }),
    ),
    route('fallback', match('prefix', '/')),
  ];
  const table = compileRouteTable(routeConfig([vhost('vh', ['*'], routes)]));
  const pick = (method: string, path: string, ...fields: [string, string][]): string | null =>
    table.route('any', path, headers(...fields), false, { method, path })?.name ?? null;
  assert.equal(pick('POST', '/x'), 'post');
  assert.equal(pick('GET', '/admin/users'), 'admin-path');
  assert.equal(pick('GET', '/x', ['host', 'a.example']), 'host');
  assert.equal(pick('GET', '/x', ['x-forwarded-proto', 'https']), 'https');
  assert.equal(pick('PUT', '/x'), 'not-get');
  assert.equal(pick('GET', '/x'), 'fallback');
  // Without the request, pseudo-headers are absent: a missing header fails even an inverted matcher.
  assert.equal(table.route('any', '/x', headers())?.name ?? null, 'fallback');
});

const QUERY_CASES: [string, ReturnType<typeof query>, [string, boolean][]][] = [
  [
    'present',
    query('debug'),
    [
      ['/?debug', true],
      ['/?debug=1', true],
      ['/?x=1&debug=', true],
      ['/?debugx=1', false],
      ['/?xdebug=1', false],
      ['/', false],
      ['/#?debug', true],
    ],
  ],
  [
    'exact (raw, first occurrence)',
    query('v', stringMatch('exact', '2')),
    [
      ['/?v=2', true],
      ['/?a=1&v=2&b=3', true],
      ['/?v=1&v=2', false],
      ['/?v=2&v=1', true],
      ['/?v', false],
      ['/?v=%32', false],
    ],
  ],
  [
    'exact empty value',
    query('flag', stringMatch('exact', '')),
    [
      ['/?flag', true],
      ['/?flag=', true],
      ['/?flag=x', false],
    ],
  ],
  [
    'regex',
    query('id', stringMatch('safe_regex', '[a-f0-9]+')),
    [
      ['/?id=beef', true],
      ['/?id=xyz', false],
    ],
  ],
  [
    'prefix ignore_case',
    query('lang', stringMatch('prefix', 'EN', true)),
    [
      ['/?lang=en-US', true],
      ['/?lang=fr', false],
    ],
  ],
];

test('query parameter matchers: conformance table', () => {
  for (const [label, qm, cases] of QUERY_CASES) {
    const routes = [route('r', match('prefix', '/', { queryParameters: [qm] }))];
    for (const [path, expected] of cases)
      assert.equal(routeName(routes, path) === 'r', expected, `${label}: ${path}`);
  }
});

test('pathPartEnd and regexLiteralHead', () => {
  assert.equal(pathPartEnd('/a?b#c'), 2);
  assert.equal(pathPartEnd('/a#b?c'), 2);
  assert.equal(pathPartEnd('/abc'), 4);
  assert.equal(regexLiteralHead('/users/[0-9]+'), '/users/');
  assert.equal(regexLiteralHead('^/users/\\d+'), '/users/');
  assert.equal(regexLiteralHead('/ab?c'), '/a');
  assert.equal(regexLiteralHead('/a|/b'), '');
  assert.equal(regexLiteralHead('(?i)/abc'), '');
  assert.equal(regexLiteralHead('.*'), '');
});

test('CompiledRouteMatch.rewriteLength: prefix length for prefixes, whole path otherwise', () => {
  assert.equal(new CompiledRouteMatch(match('prefix', '/api/')).rewriteLength, 5);
  assert.equal(new CompiledRouteMatch(match('path_separated_prefix', '/api')).rewriteLength, 4);
  assert.equal(new CompiledRouteMatch(match('path', '/api')).rewriteLength, -1);
  assert.equal(new CompiledRouteMatch(match('safe_regex', '/api')).rewriteLength, -1);
});

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the route index returns exactly what a linear first-match scan returns', () => {
  const rnd = prng(7);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const segments = ['a', 'ab', 'abc', 'API', 'api', 'v1', 'users', 'x', '42', ''];
  const randomPath = (): string =>
    '/' + Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(segments)).join('/');
  for (let round = 0; round < 20; round++) {
    const routes: RouteConfig[] = [];
    for (let i = 0; i < 60; i++) {
      const kind = pick(['prefix', 'prefix', 'path', 'safe_regex', 'path_separated_prefix'] as const);
      const base = randomPath();
      const value =
        kind === 'safe_regex'
          ? base + pick(['', '/[0-9]+', '.*'])
          : kind === 'path_separated_prefix' && base.endsWith('/')
            ? base + 'z'
            : base;
      const hs = rnd() < 0.2 ? [header('x-h', { stringMatch: stringMatch('exact', '1') })] : [];
      routes.push(route(`r${i}`, match(kind, value, { caseSensitive: rnd() < 0.7, headers: hs })));
    }
    if (rnd() < 0.5) routes.push(route('catch-all', match('prefix', '/')));
    const matchers = routes.map((r) => new CompiledRouteMatch(r.match));
    const table = compileRouteTable(routeConfig([vhost('vh', ['*'], routes)]));
    for (let i = 0; i < 300; i++) {
      const path = randomPath() + pick(['', '?q=1', '#f']);
      const h = rnd() < 0.5 ? headers(['x-h', '1']) : headers();
      const end = pathPartEnd(path);
      const q = path.indexOf('?');
      const scanned = matchers.findIndex((m) => m.matches(path, end, q === -1 ? -1 : q + 1, h, false));
      const expected = scanned === -1 ? null : routes[scanned]!.name;
      assert.equal(table.route('any', path, h)?.name ?? null, expected, `round ${round}, path ${path}`);
    }
  }
});
