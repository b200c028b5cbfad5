/**
 * The connection manager's host normalisation before routing, as Envoy's maybeNormalizeHost:
 * `strip_trailing_host_dot` (`example.com.` routes and goes upstream as `example.com`, a port kept),
 * `strip_any_host_port` (any port off), `strip_matching_host_port` (only the listener's own port
 * off). The origin answers with the Host it received; hosts no route's domains name get a 404.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { httpProxyYaml, legateSet, request, startOrigin, staticCluster, type Origin } from './harness';

let origin: Origin;
const legates = legateSet();

before(async () => {
  origin = await startOrigin((req, res) => res.end(String(req.headers.host)));
});

after(async () => {
  await legates.stopAll();
  await origin.close();
});

async function proxyWith(hcmExtra: string): Promise<number> {
  const lp = await legates.start(
    httpProxyYaml({
      hcmExtra,
      virtualHosts: `
- name: named
  domains: ["example.com", "example.com:8080", "[::1]"]
  routes: [{ match: { prefix: "/" }, route: { cluster: o } }]
- name: rest
  domains: ["*"]
  routes: [{ match: { prefix: "/" }, direct_response: { status: 404, body: { inline_string: unmatched } } }]`,
      clusters: staticCluster('o', [origin.port]),
    }),
  );
  return lp.ports.get('proxy')!;
}

/** What the origin saw as Host, or the 404's body. */
async function upstreamHost(port: number, host: string): Promise<string> {
  const r = await request(port, { headers: { host } });
  return r.body.toString();
}

test('strip_trailing_host_dot and strip_any_host_port: the host routes and goes upstream without them', async () => {
  const port = await proxyWith('strip_trailing_host_dot: true\nstrip_any_host_port: true');
  assert.equal(await upstreamHost(port, 'example.com.'), 'example.com');
  assert.equal(await upstreamHost(port, 'example.com.:8080'), 'example.com');
  assert.equal(await upstreamHost(port, 'example.com:1234'), 'example.com');
  assert.equal(await upstreamHost(port, '[::1]:443'), '[::1]', "an IPv6 literal's colons are not a port");
  assert.equal(await upstreamHost(port, 'other.example:80'), 'unmatched');
});

test('strip_trailing_host_dot alone keeps the port; without options nothing changes', async () => {
  const dotOnly = await proxyWith('strip_trailing_host_dot: true');
  assert.equal(await upstreamHost(dotOnly, 'example.com.:8080'), 'example.com:8080');
  const none = await proxyWith('');
  assert.equal(await upstreamHost(none, 'example.com.'), 'unmatched');
  assert.equal(await upstreamHost(none, 'example.com:8080'), 'example.com:8080');
});

test("strip_matching_host_port: only the listener's own port comes off", async () => {
  const port = await proxyWith('strip_matching_host_port: true');
  assert.equal(await upstreamHost(port, `example.com:${port}`), 'example.com');
  assert.equal(await upstreamHost(port, 'example.com:1234'), 'unmatched');
  assert.equal(await upstreamHost(port, 'example.com:8080'), 'example.com:8080');
});
