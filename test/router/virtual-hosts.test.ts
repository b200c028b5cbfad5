import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderMap } from '../../src/http/header-map';
import { compileRouteTable } from '../../src/router/route-table';
import { VirtualHostSelector, stripPort } from '../../src/router/virtual-hosts';
import { match, route, routeConfig, vhost } from './fixtures';

/** A table whose virtual hosts are named after their first domain. */
function tableOf(domainsPerHost: string[][], ignorePortInHostMatching = false) {
  const hosts = domainsPerHost.map((domains) =>
    vhost(domains[0]!, domains, [route('r', match('prefix', '/'))]),
  );
  return compileRouteTable(routeConfig(hosts), { ignorePortInHostMatching });
}

const PRECEDENCE_TABLE = tableOf([
  ['*'],
  ['foo.example.com'],
  ['*.example.com'],
  ['*-bar.example.com'],
  ['*.com'],
  ['foo.*'],
  ['foo.example.*'],
  ['example.com:8080'],
]);

const PRECEDENCE: [string, string | null][] = [
  ['foo.example.com', 'foo.example.com'], // exact beats every wildcard
  ['FOO.Example.COM', 'foo.example.com'], // case-insensitive
  ['x.example.com', '*.example.com'], // longest suffix wildcard
  ['a-bar.example.com', '*-bar.example.com'], // longer suffix beats *.example.com
  ['-bar.example.com', '*.example.com'], // the wildcard must match at least one character
  ['.example.com', '*.com'],
  ['x.y.com', '*.com'],
  ['foo.example.org', 'foo.example.*'], // longest prefix wildcard
  ['foo.net', 'foo.*'],
  ['foo.', '*'], // prefix wildcard needs one character after the fixed part
  ['other.org', '*'],
  ['example.com:8080', 'example.com:8080'], // a domain may carry a port
  ['example.com:9090', '*'], // port kept: no suffix wildcard ends in ':9090'
  ['foo.example.com:80', 'foo.example.*'], // port kept: exact fails, prefix wildcard still matches
  ['x.example.com:443', '*'],
  ['', '*'],
];

test('domain precedence: exact > longest *suffix > longest prefix* > *, case-insensitive', () => {
  for (const [authority, expected] of PRECEDENCE) {
    assert.equal(
      PRECEDENCE_TABLE.virtualHost(authority)?.name ?? null,
      expected,
      `authority ${JSON.stringify(authority)}`,
    );
  }
});

test('without a * virtual host an unmatched authority selects nothing (route_not_found)', () => {
  const table = tableOf([['a.com'], ['*.b.com']]);
  assert.equal(table.virtualHost('c.com'), null);
  assert.equal(table.route('c.com', '/', new HeaderMap()), null);
  assert.equal(table.virtualHost('x.b.com')?.name, '*.b.com');
});

test('only a * virtual host: chosen for any authority, even an empty one', () => {
  const table = tableOf([['*']]);
  assert.equal(table.virtualHost('anything:1234')?.name, '*');
  assert.equal(table.virtualHost('')?.name, '*');
});

test('ignore_port_in_host_matching strips the port (not IPv6 colons) before matching', () => {
  const table = tableOf([['example.com'], ['[::1]'], ['*']], true);
  assert.equal(table.virtualHost('example.com:8080')?.name, 'example.com');
  assert.equal(table.virtualHost('EXAMPLE.com:1')?.name, 'example.com');
  assert.equal(table.virtualHost('[::1]:10000')?.name, '[::1]');
  assert.equal(table.virtualHost('[::1]')?.name, '[::1]');
  const strict = tableOf([['example.com'], ['*']], false);
  assert.equal(strict.virtualHost('example.com:8080')?.name, '*');
});

test('stripPort', () => {
  assert.equal(stripPort('a.com:80'), 'a.com');
  assert.equal(stripPort('a.com'), 'a.com');
  assert.equal(stripPort('[::1]:80'), '[::1]');
  assert.equal(stripPort('[::1]'), '[::1]');
  assert.equal(stripPort('1.2.3.4:5'), '1.2.3.4');
});

test('duplicate domains are refused by the selector (first registration kept)', () => {
  const s = new VirtualHostSelector<string>(false);
  assert.equal(s.add('a.com', 'first'), true);
  assert.equal(s.add('a.com', 'second'), false);
  assert.equal(s.add('*', 'any'), true);
  assert.equal(s.add('*', 'any2'), false);
  assert.equal(s.add('*.a.com', 'w1'), true);
  assert.equal(s.add('*.a.com', 'w2'), false);
  assert.equal(s.select('a.com'), 'first');
  assert.equal(s.select('x.a.com'), 'w1');
});

test('100 virtual hosts: every domain kind resolves to its own host', () => {
  const domains: string[][] = [];
  for (let i = 0; i < 100; i++) {
    const kind = i % 3;
    domains.push([kind === 0 ? `svc${i}.example.com` : kind === 1 ? `*.zone${i}.example.com` : `api${i}.*`]);
  }
  domains.push(['*']);
  const table = tableOf(domains);
  for (let i = 0; i < 100; i++) {
    const kind = i % 3;
    const authority =
      kind === 0 ? `svc${i}.example.com` : kind === 1 ? `host.zone${i}.example.com` : `api${i}.internal`;
    assert.equal(table.virtualHost(authority)?.name, domains[i]![0], authority);
  }
  assert.equal(table.virtualHost('unknown.example.org')?.name, '*');
});
