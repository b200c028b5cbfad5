import { test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  AppendAction,
  HeaderMutations,
  HeaderValueOption,
  RouteConfig,
} from '../../src/config/bootstrap';
import type { RequestHead } from '../../src/http/codec';
import type { HeaderMap } from '../../src/http/header-map';
import { HeaderFormat } from '../../src/router/header-format';
import { HeaderMutationApplier } from '../../src/router/header-mutations';
import { compileRouteTable } from '../../src/router/route-table';
import {
  fields,
  formatContext,
  headers,
  match,
  noMutations,
  route,
  routeAction,
  routeConfig,
  vhost,
} from './fixtures';

function add(
  key: string,
  value: string,
  appendAction: AppendAction = 'APPEND_IF_EXISTS_OR_ADD',
): HeaderValueOption {
  return { key, value, appendAction };
}

function requestLevel(adds: HeaderValueOption[], removes: string[] = []): HeaderMutations {
  return { ...noMutations(), requestHeadersToAdd: adds, requestHeadersToRemove: removes };
}

function responseLevel(adds: HeaderValueOption[], removes: string[] = []): HeaderMutations {
  return { ...noMutations(), responseHeadersToAdd: adds, responseHeadersToRemove: removes };
}

function applyRequest(levels: HeaderMutations[], h: HeaderMap): [string, string][] {
  new HeaderMutationApplier(levels).applyRequest(h, formatContext(h));
  return fields(h);
}

type ActionCase = [action: AppendAction, before: [string, string][], after: [string, string][]];

const APPEND_ACTIONS: ActionCase[] = [
  ['APPEND_IF_EXISTS_OR_ADD', [], [['x', 'new']]],
  [
    'APPEND_IF_EXISTS_OR_ADD',
    [['x', 'old']],
    [
      ['x', 'old'],
      ['x', 'new'],
    ],
  ],
  ['ADD_IF_ABSENT', [], [['x', 'new']]],
  ['ADD_IF_ABSENT', [['x', 'old']], [['x', 'old']]],
  ['OVERWRITE_IF_EXISTS_OR_ADD', [], [['x', 'new']]],
  [
    'OVERWRITE_IF_EXISTS_OR_ADD',
    [
      ['x', 'old'],
      ['y', '1'],
      ['x', 'old2'],
    ],
    [
      ['x', 'new'],
      ['y', '1'],
    ],
  ],
  ['OVERWRITE_IF_EXISTS', [], []],
  ['OVERWRITE_IF_EXISTS', [['x', 'old']], [['x', 'new']]],
];

test('append_action: conformance table', () => {
  for (const [action, before, after] of APPEND_ACTIONS) {
    assert.deepEqual(
      applyRequest([requestLevel([add('x', 'new', action)])], headers(...before)),
      after,
      `${action} on ${JSON.stringify(before)}`,
    );
  }
});

test('removes run before adds within a level', () => {
  assert.deepEqual(applyRequest([requestLevel([add('x', 'added')], ['x'])], headers(['x', 'old'])), [
    ['x', 'added'],
  ]);
});

test('within a level, conditions see the headers before that level added anything', () => {
  // Both ADD_IF_ABSENT entries see "x" absent, so both add (as Envoy's two-phase evaluation does).
  const level = requestLevel([add('x', '1', 'ADD_IF_ABSENT'), add('x', '2', 'ADD_IF_ABSENT')]);
  assert.deepEqual(applyRequest([level], headers()), [
    ['x', '1'],
    ['x', '2'],
  ]);
  // Overwrites are applied before appends.
  const mixed = requestLevel([add('y', 'appended'), add('y', 'overwritten', 'OVERWRITE_IF_EXISTS_OR_ADD')]);
  assert.deepEqual(applyRequest([mixed], headers(['y', 'old'])), [
    ['y', 'overwritten'],
    ['y', 'appended'],
  ]);
});

test('levels run most specific first, so the least specific overwrite wins', () => {
  const routeLvl = requestLevel([
    add('x-level', 'route', 'OVERWRITE_IF_EXISTS_OR_ADD'),
    add('x-only-route', 'r'),
  ]);
  const vhostLvl = requestLevel([add('x-level', 'vhost', 'OVERWRITE_IF_EXISTS_OR_ADD')]);
  const globalLvl = requestLevel([
    add('x-level', 'global', 'OVERWRITE_IF_EXISTS_OR_ADD'),
    add('x-only-route', 'g', 'ADD_IF_ABSENT'),
  ]);
  assert.deepEqual(applyRequest([routeLvl, vhostLvl, globalLvl], headers()), [
    ['x-level', 'global'],
    ['x-only-route', 'r'],
  ]);
  // A less specific level can remove what a more specific one added.
  assert.deepEqual(applyRequest([requestLevel([add('x-a', '1')]), requestLevel([], ['x-a'])], headers()), []);
});

test('route table wires weighted cluster → route → vhost → route config, both directions', () => {
  const tag = (v: string) => add('x-order', v);
  const r: RouteConfig = route('r', match('prefix', '/'), {
    ...requestLevel([tag('route')]),
    responseHeadersToAdd: [add('x-resp', 'route')],
    action: routeAction({
      cluster: null,
      weightedClusters: [
        {
          name: 'blue',
          weight: 1,
          ...requestLevel([tag('cluster-blue')]),
          responseHeadersToAdd: [add('x-resp', 'blue')],
        },
        { name: 'green', weight: 1, ...noMutations() },
      ],
    }),
  });
  const vh = vhost('vh', ['*'], [r], {
    ...requestLevel([tag('vhost')]),
    responseHeadersToRemove: ['server'],
  });
  const table = compileRouteTable(
    routeConfig([vh], { ...requestLevel([tag('global')]), responseHeadersToAdd: [add('x-resp', 'global')] }),
  );
  const matched = table.route('h', '/', headers())!;
  const head = (): RequestHead => ({
    method: 'GET',
    path: '/',
    protocol: 'HTTP/1.1',
    headers: headers(),
    keepAlive: true,
    contentLength: -1,
    chunked: false,
    upgrade: false,
  });

  const blue = head();
  matched.rewriteRequest(blue, formatContext(blue.headers), 'blue', false);
  assert.deepEqual(blue.headers.getAll('x-order'), ['cluster-blue', 'route', 'vhost', 'global']);
  const green = head();
  matched.rewriteRequest(green, formatContext(green.headers), 'green', false);
  assert.deepEqual(green.headers.getAll('x-order'), ['route', 'vhost', 'global']);

  const resp = headers(['server', 'upstream']);
  matched.applyResponseHeaders(resp, formatContext(), 'blue');
  assert.deepEqual(fields(resp), [
    ['x-resp', 'blue'],
    ['x-resp', 'route'],
    ['x-resp', 'global'],
  ]);
  const resp2 = headers();
  matched.applyResponseHeaders(resp2, formatContext(), null);
  assert.deepEqual(resp2.getAll('x-resp'), ['route', 'global']);
});

test('formatter operators', () => {
  const req = headers(['user-agent', 'curl/8'], ['host', 'a.com'], ['x-long', 'abcdef']);
  const ctx = formatContext(req);
  const resp = headers(['content-type', 'text/plain']);
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['100%% sure', '100% sure'],
    ['%DOWNSTREAM_REMOTE_ADDRESS%', '10.1.2.3:40000'],
    ['%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '10.1.2.3'],
    ['%DOWNSTREAM_LOCAL_ADDRESS%', '127.0.0.1:10000'],
    ['%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%', '127.0.0.1'],
    ['%PROTOCOL%', 'HTTP/1.1'],
    ['%START_TIME%', '2024-01-02T03:04:05.678Z'],
    ['ua=%REQ(User-Agent)%;', 'ua=curl/8;'],
    ['%REQ(:authority)%', 'a.com'],
    ['%REQ(x-missing?user-agent)%', 'curl/8'],
    ['%REQ(x-missing)%', ''],
    ['%REQ(x-long):3%', 'abc'],
    ['%RESP(content-type)%', 'text/plain'],
    ['[%PROTOCOL%|%REQ(host)%]', '[HTTP/1.1|a.com]'],
  ];
  for (const [format, expected] of cases) {
    assert.equal(new HeaderFormat(format).evaluate(ctx, req, resp), expected, format);
  }
  assert.equal(
    new HeaderFormat('%RESP(content-type)%').evaluate(ctx, req, null),
    '',
    'no response headers on requests',
  );
  const v6 = { ...ctx, remoteAddress: '::1' };
  assert.equal(new HeaderFormat('%DOWNSTREAM_REMOTE_ADDRESS%').evaluate(v6, req, null), '[::1]:40000');
});

test('formatter validation rejects unknown operators and stray %', () => {
  for (const bad of ['%UNKNOWN%', '100%', '%REQ(:path)%', '%REQ()%', '%REQ(a)b%', '%START_TIME(%s)%']) {
    assert.throws(() => new HeaderFormat(bad), /invalid header value format/, bad);
  }
});

test('values that format to empty are not added; request formatters read the headers being mutated', () => {
  const h = headers(['x-in', 'v']);
  assert.deepEqual(
    applyRequest([requestLevel([add('x-copy', '%REQ(x-in)%'), add('x-none', '%REQ(x-absent)%')])], h),
    [
      ['x-in', 'v'],
      ['x-copy', 'v'],
    ],
  );
  // A more specific level's output is visible to the next level's formatters.
  const h2 = headers();
  applyRequest([requestLevel([add('x-a', 'first')]), requestLevel([add('x-b', '%REQ(x-a)%')])], h2);
  assert.equal(h2.get('x-b'), 'first');
});

test('response mutations read %REQ()% from the request and %RESP()% from the response', () => {
  const req = headers(['x-request-id', 'rid']);
  const resp = headers(['x-up', 'u']);
  new HeaderMutationApplier([
    responseLevel([add('x-echo-id', '%REQ(x-request-id)%'), add('x-up-copy', '%RESP(x-up)%')], ['x-up']),
  ]).applyResponse(resp, formatContext(req));
  // x-up is removed first, so %RESP(x-up)% is empty and x-up-copy is skipped.
  assert.deepEqual(fields(resp), [['x-echo-id', 'rid']]);
});

test('an applier with no mutations reports itself empty', () => {
  const empty = new HeaderMutationApplier([noMutations(), noMutations()]);
  assert.equal(empty.hasRequestMutations, false);
  assert.equal(empty.hasResponseMutations, false);
  assert.equal(new HeaderMutationApplier([responseLevel([], ['server'])]).hasResponseMutations, true);
});
