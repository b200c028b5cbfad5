import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRouteConfiguration } from '../../src/router/validate';
import { compileRouteTable } from '../../src/router/route-table';
import {
  header,
  match,
  noMutations,
  query,
  route,
  routeAction,
  routeConfig,
  stringMatch,
  vhost,
} from './fixtures';

/** "at field: message" lines, for readable assertions. */
function problems(config: ReturnType<typeof routeConfig>): string[] {
  return checkRouteConfiguration(config).map((p) => `${p.severity} ${p.at} ${p.field}: ${p.message}`);
}

test('a valid configuration has no problems and compiles', () => {
  const config = routeConfig([
    vhost(
      'a',
      ['a.com', '*.a.com'],
      [route('r1', match('safe_regex', '/x/[0-9]+')), route('r2', match('prefix', '/'))],
    ),
    vhost('any', ['*'], [route('r3', match('path_separated_prefix', '/api'))]),
  ]);
  assert.deepEqual(problems(config), []);
  assert.ok(compileRouteTable(config));
});

test('duplicate domains across virtual hosts and a second * are errors', () => {
  const config = routeConfig([vhost('a', ['a.com', '*'], []), vhost('b', ['a.com', '*', 'x*y.com'], [])]);
  const found = problems(config);
  assert.equal(found.length, 3, found.join('\n'));
  assert.match(
    found[0]!,
    /^error virtual_hosts\.b domains\[0\]: duplicate domain 'a\.com' \(also in virtual host 'a'\)/,
  );
  assert.match(found[1]!, /^error virtual_hosts\.b domains\[1\]: duplicate domain '\*'/);
  assert.match(found[2]!, /^warning virtual_hosts\.b domains\[2\]: .*matches literally/);
});

test('RE2-incompatible regexes are reported where they are', () => {
  const config = routeConfig([
    vhost(
      'v',
      ['*'],
      [
        route('bad-path', match('safe_regex', '/(?=x)')),
        route(
          'bad-header',
          match('prefix', '/', {
            headers: [header('x', { stringMatch: stringMatch('safe_regex', '(a)\\1') })],
          }),
        ),
        route(
          'bad-query',
          match('prefix', '/', { queryParameters: [query('q', stringMatch('safe_regex', '['))] }),
        ),
        route('bad-rewrite', match('prefix', '/'), {
          action: routeAction({ regexRewrite: { pattern: '(a)', substitution: '\\3' } }),
        }),
      ],
    ),
  ]);
  const found = problems(config);
  assert.equal(found.length, 4, found.join('\n'));
  assert.match(found[0]!, /routes\.bad-path match\.safe_regex\.regex: invalid regex: lookahead/);
  assert.match(
    found[1]!,
    /routes\.bad-header match\.headers\[0\]\.string_match\.safe_regex\.regex: invalid regex: backreferences/,
  );
  assert.match(found[2]!, /routes\.bad-query match\.query_parameters\[0\]\.string_match\.safe_regex\.regex/);
  assert.match(found[3]!, /routes\.bad-rewrite route\.regex_rewrite: .*group \\3/);
});

test('header mutations: bad formats and forbidden names at every level', () => {
  const bad = { key: 'x-a', value: '%NOPE%', appendAction: 'APPEND_IF_EXISTS_OR_ADD' as const };
  const pseudo = { key: ':path', value: '/', appendAction: 'APPEND_IF_EXISTS_OR_ADD' as const };
  const config = routeConfig(
    [
      vhost(
        'v',
        ['*'],
        [
          route('r', match('prefix', '/'), {
            responseHeadersToAdd: [bad],
            action: routeAction({
              cluster: null,
              weightedClusters: [
                { name: 'c', weight: 1, ...noMutations(), requestHeadersToRemove: ['host'] },
              ],
            }),
          }),
        ],
        { requestHeadersToAdd: [pseudo] },
      ),
    ],
    { responseHeadersToRemove: [':status'] },
  );
  const found = problems(config);
  assert.deepEqual(
    found.map((f) => f.replace(/: .*/, '')),
    [
      'error route_config response_headers_to_remove[0]',
      'error virtual_hosts.v request_headers_to_add[0].header.key',
      'error routes.r response_headers_to_add[0].header.value',
      'error routes.r route.weighted_clusters.clusters[0].request_headers_to_remove[0]',
    ],
  );
});

test('other route checks: weights summing to 0, both rewrites, path_separated_prefix shape', () => {
  const config = routeConfig([
    vhost(
      'v',
      ['*'],
      [
        route('w', match('prefix', '/'), {
          action: routeAction({
            cluster: null,
            weightedClusters: [{ name: 'c', weight: 0, ...noMutations() }],
          }),
        }),
        route('two', match('prefix', '/'), {
          action: routeAction({ prefixRewrite: '/a', regexRewrite: { pattern: 'a', substitution: 'b' } }),
        }),
        route('sep', match('path_separated_prefix', '/api/')),
        route('sep2', match('path_separated_prefix', '/a?b')),
      ],
    ),
  ]);
  const found = problems(config);
  assert.equal(found.length, 4, found.join('\n'));
  assert.match(found[0]!, /routes\.w route\.weighted_clusters: the sum of weights/);
  assert.match(found[1]!, /routes\.two route\.prefix_rewrite: only one of/);
  assert.match(found[2]!, /routes\.sep match\.path_separated_prefix/);
  assert.match(found[3]!, /routes\.sep2 match\.path_separated_prefix/);
});
