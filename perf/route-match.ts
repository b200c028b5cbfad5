/**
 * Route matching microbenchmarks: `node .build/<dir>/perf/route-match.js`.
 *
 * - 1,000 routes in one virtual host (a quarter each: prefix, exact path, safe_regex, prefix +
 *   header matcher), matched at the first, middle and last route and on a miss; the same lookups
 *   by a plain linear scan over the compiled matchers, to show what the route index buys.
 * - Virtual host selection among 100 hosts (exact, *.suffix, prefix.* domains, plus '*').
 * - normalize_path and a three-level header mutation, the other per-request router work.
 *
 * Prints mitata's table, then ops/s per case.
 */
import { bench, do_not_optimize, group } from 'mitata';
import { runAndPrintOpsPerSecond } from './lib/ops';
import type {
  HeaderMutations,
  RouteConfig,
  RouteConfiguration,
  VirtualHostConfig,
} from '../src/config/bootstrap';
import { HeaderMap } from '../src/http/header-map';
import { HeaderMutationApplier } from '../src/router/header-mutations';
import type { HeaderFormatContext } from '../src/router/header-format';
import { normalizePath } from '../src/router/path';
import { CompiledRouteMatch, pathPartEnd } from '../src/router/route-match';
import { compileRouteTable } from '../src/router/route-table';
// The same config builders the route tests use, so the benchmark matches what the tests check.
import { noMutations, route, routeAction } from '../test/router/fixtures';

const ROUTES = 1000;
const HOSTS = 100;

function makeRoute(i: number): RouteConfig {
  const kind = i % 4;
  const headers =
    kind === 3
      ? [
          {
            name: 'x-tenant',
            stringMatch: { kind: 'exact' as const, value: `t${i}`, ignoreCase: false },
            presentMatch: true,
            invertMatch: false,
            treatMissingHeaderAsEmpty: false,
          },
        ]
      : [];
  const [matchKind, value] =
    kind === 0
      ? (['prefix', `/svc${i}/`] as const)
      : kind === 1
        ? (['path', `/exact/${i}`] as const)
        : kind === 2
          ? (['safe_regex', `/re${i}/[0-9]+`] as const)
          : (['prefix', `/hdr${i}/`] as const);
  return route(
    `r${i}`,
    { kind: matchKind, value, caseSensitive: true, headers, queryParameters: [] },
    {
      action: routeAction({ cluster: `c${i}` }),
    },
  );
}

function vhost(name: string, domains: string[], routes: RouteConfig[]): VirtualHostConfig {
  return { at: name, name, domains, routes, ...noMutations() };
}

function config(virtualHosts: VirtualHostConfig[]): RouteConfiguration {
  return { at: 'route_config', name: 'bench', virtualHosts, internalOnlyHeaders: [], ...noMutations() };
}

const routes = Array.from({ length: ROUTES }, (_, i) => makeRoute(i));
const bigTable = compileRouteTable(config([vhost('big', ['*'], routes)]));
const linear = routes.map((r) => new CompiledRouteMatch(r.match));

const noHeaders = new HeaderMap();
const tenantHeaders = new HeaderMap();
tenantHeaders.add('x-tenant', `t${ROUTES - 1}`);

const cases: [label: string, path: string, headers: HeaderMap, expected: string | null][] = [
  ['first', '/svc0/items?id=1', noHeaders, 'r0'],
  ['middle', `/svc${ROUTES / 2}/items`, noHeaders, `r${ROUTES / 2}`],
  ['last', `/hdr${ROUTES - 1}/items`, tenantHeaders, `r${ROUTES - 1}`],
  ['regex', `/re${ROUTES - 2}/12345`, noHeaders, `r${ROUTES - 2}`],
  ['miss', '/nothing/here', noHeaders, null],
];

for (const [label, path, headers, expected] of cases) {
  const got = bigTable.route('any', path, headers)?.name ?? null;
  if (got !== expected) throw new Error(`${label}: expected ${expected}, got ${got}`);
}

function linearScan(path: string, headers: HeaderMap): number {
  const end = pathPartEnd(path);
  const q = path.indexOf('?');
  for (let i = 0; i < linear.length; i++)
    if (linear[i]!.matches(path, end, q === -1 ? -1 : q + 1, headers, false)) return i;
  return -1;
}

group(`${ROUTES} routes, indexed route table`, () => {
  for (const [label, path, headers] of cases)
    bench(`route ${label}`, () => do_not_optimize(bigTable.route('any', path, headers)));
});

group(`${ROUTES} routes, linear scan baseline`, () => {
  for (const [label, path, headers] of cases)
    bench(`scan ${label}`, () => do_not_optimize(linearScan(path, headers)));
});

const hostConfigs: VirtualHostConfig[] = [];
for (let i = 0; i < HOSTS; i++) {
  const domain = i % 3 === 0 ? `svc${i}.example.com` : i % 3 === 1 ? `*.zone${i}.example.com` : `api${i}.*`;
  hostConfigs.push(vhost(`vh${i}`, [domain], [makeRoute(0)]));
}
hostConfigs.push(vhost('default', ['*'], [makeRoute(0)]));
const hostTable = compileRouteTable(config(hostConfigs));
const authorities: [string, string][] = [
  ['exact', 'svc51.example.com'],
  ['exact, mixed case', 'SVC51.Example.com'],
  ['suffix wildcard', 'host.zone49.example.com'],
  ['prefix wildcard', 'api50.internal'],
  ['catch-all', 'unknown.example.org:8080'],
];

group(`virtual host selection among ${HOSTS} hosts`, () => {
  for (const [label, authority] of authorities)
    bench(`host ${label}`, () => do_not_optimize(hostTable.virtualHost(authority)));
});

const mutationLevel = (n: number): HeaderMutations => ({
  ...noMutations(),
  requestHeadersToAdd: [
    {
      key: `x-level-${n}`,
      value: n === 0 ? '%DOWNSTREAM_REMOTE_ADDRESS%' : `value-${n}`,
      appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD',
    },
  ],
  requestHeadersToRemove: [`x-drop-${n}`],
});
const applier = new HeaderMutationApplier([mutationLevel(0), mutationLevel(1), mutationLevel(2)]);
const requestHeaders = new HeaderMap();
const ctx: HeaderFormatContext = {
  remoteAddress: '10.0.0.1',
  remotePort: 5555,
  localAddress: '10.0.0.2',
  localPort: 10000,
  protocol: 'HTTP/1.1',
  startTimeMs: 0,
  requestHeaders,
};

group('other per-request router work', () => {
  bench('normalize_path (clean path)', () => do_not_optimize(normalizePath('/api/v1/users/42?x=1')));
  bench('normalize_path (dot segments, escapes)', () =>
    do_not_optimize(normalizePath('/api/./v1/../v2/%7Euser/a%2Fb')),
  );
  bench('header mutations, 3 levels', () => {
    requestHeaders.clear();
    requestHeaders.add('host', 'a.com');
    requestHeaders.add('x-drop-1', 'x');
    applier.applyRequest(requestHeaders, ctx);
    do_not_optimize(requestHeaders);
  });
});

async function main(): Promise<void> {
  await runAndPrintOpsPerSecond();
}

void main();
