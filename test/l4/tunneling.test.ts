/**
 * tcp_proxy `tunneling_config`: each TCP connection becomes an HTTP/1.1 CONNECT to the cluster (an
 * HTTP proxy) and, once the proxy answers 2xx, a relay through that tunnel. Peers: a Legate whose
 * HCM terminates CONNECT (connect_config) to a TCP echo server, and a tiny Node forward proxy.
 * Each runs on whatever engine this pass uses (a tunneling tcp_proxy is never on the native one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { httpProxyYaml, runLegate, startLegate, staticCluster, stat } from '../integration/harness';
import { collect, connect, startEcho, tcpProxyYaml } from './fixtures';
import { startConnectProxy } from '../support/tunnel-peers';

const TUNNELING = `
tunneling_config:
  hostname: echo.test:7
  headers_to_add:
  - header: { key: x-tunnel, value: from-legate }`;

/** A Legate whose HCM terminates CONNECT to echo.test:7 by relaying it to `echoPort`. */
function terminatorYaml(echoPort: number): string {
  return httpProxyYaml({
    hcmExtra: 'upgrade_configs: [{ upgrade_type: CONNECT }]',
    virtualHosts: `
- name: echo
  domains: ["echo.test:7"]
  routes:
  - match: { connect_matcher: {} }
    route:
      cluster: echo
      upgrade_configs: [{ upgrade_type: CONNECT, connect_config: {} }]`,
    clusters: staticCluster('echo', [echoPort]),
  });
}

/** Writes `message` through the listener at `port`, half-closes, and returns what came back. */
async function echoThrough(port: number, message: string): Promise<{ text: string; ended: boolean }> {
  const socket = await connect(port);
  const outcome = collect(socket, 'the tunnel to close');
  socket.write(message.slice(0, 5));
  socket.end(message.slice(5));
  const { data, ended } = await outcome;
  return { text: data.toString('latin1'), ended };
}

test('tunneling_config: TCP through Legate’s own CONNECT terminator and through a Node forward proxy, half-close included', async () => {
  const echo = await startEcho();
  const terminator = await startLegate(terminatorYaml(echo.port), { concurrency: 1 });
  const proxy = await startConnectProxy();
  const viaLegate = await startLegate(
    tcpProxyYaml({ upstreamPorts: [terminator.ports.get('proxy')!], tcpProxyExtra: TUNNELING }),
    { concurrency: 1 },
  );
  try {
    const message = 'hello through two proxies';
    const first = await echoThrough(viaLegate.ports.get('tcp')!, message);
    assert.deepEqual(first, { text: message, ended: true });
    assert.equal(await stat(terminator, 'http.ingress_http.downstream_cx_upgrades_total'), 1);
    assert.equal(await stat(viaLegate, 'tcp.l4.downstream_cx_total'), 1);

    // The same through a Node forward proxy, which dials the CONNECT target itself: the echo server.
    const viaNode = await startLegate(
      tcpProxyYaml({
        upstreamPorts: [proxy.port],
        tcpProxyExtra: TUNNELING.replace('echo.test:7', `127.0.0.1:${echo.port}`),
      }),
      { concurrency: 1 },
    );
    try {
      const second = await echoThrough(viaNode.ports.get('tcp')!, 'via node');
      assert.deepEqual(second, { text: 'via node', ended: true });
      assert.equal(proxy.requests.length, 1);
      assert.equal(proxy.requests[0]!.target, `127.0.0.1:${echo.port}`);
      assert.equal(proxy.requests[0]!.headers.host, `127.0.0.1:${echo.port}`);
      assert.equal(proxy.requests[0]!.headers['x-tunnel'], 'from-legate');

      // A proxy that refuses: the client's connection is closed, nothing relayed.
      proxy.refuseWith = 403;
      const refused = await echoThrough(viaNode.ports.get('tcp')!, 'never echoed');
      assert.equal(refused.text, '');
      assert.equal(proxy.requests.length, 2);
    } finally {
      await viaNode.stop();
    }
  } finally {
    await viaLegate.stop();
    await terminator.stop();
    await proxy.close();
    await echo.close();
  }
});

test('tunneling_config: command operators in hostname and headers_to_add, evaluated per connection', async () => {
  const echo = await startEcho();
  const proxy = await startConnectProxy();
  const legate = await startLegate(
    tcpProxyYaml({
      upstreamPorts: [proxy.port],
      tcpProxyExtra: `
tunneling_config:
  hostname: "%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%:${echo.port}"
  headers_to_add:
  - header: { key: x-client, value: "%DOWNSTREAM_REMOTE_ADDRESS%" }
  - header: { key: x-listener-port, value: "port %DOWNSTREAM_LOCAL_PORT% (100%% literal)" }`,
    }),
    { concurrency: 1 },
  );
  try {
    const port = legate.ports.get('tcp')!;
    const socket = await connect(port);
    const clientPort = socket.localPort!;
    const outcome = collect(socket, 'the tunnel to close');
    socket.end('evaluated');
    assert.deepEqual(
      { text: (await outcome).data.toString(), ended: (await outcome).ended },
      { text: 'evaluated', ended: true },
    );
    assert.equal(proxy.requests.length, 1);
    const { target, headers } = proxy.requests[0]!;
    assert.equal(target, `127.0.0.1:${echo.port}`);
    assert.equal(headers.host, `127.0.0.1:${echo.port}`);
    assert.equal(headers['x-client'], `127.0.0.1:${clientPort}`);
    assert.equal(headers['x-listener-port'], `port ${port} (100% literal)`);
  } finally {
    await legate.stop();
    await proxy.close();
    await echo.close();
  }
});

test('tunneling_config: POST tunnels, propagated response headers and unknown command operators are clear errors', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-tunneling-'));
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(
    file,
    tcpProxyYaml({
      upstreamPorts: [1],
      tcpProxyExtra: `
tunneling_config:
  hostname: "%NO_SUCH_OPERATOR%:443"
  use_post: true
  propagate_response_headers: true
  headers_to_add:
  - header: { key: x-client, value: "%UPSTREAM_PEER_SUBJECT(x)%" }`,
    }),
  );
  const r = await runLegate(['-c', file, '--mode', 'validate']);
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 1, out);
  assert.match(out, /tunneling_config\.use_post: not supported by Legate yet/);
  assert.match(out, /tunneling_config\.propagate_response_headers: not supported by Legate yet/);
  assert.match(out, /tunneling_config\.hostname: unsupported command operator %NO_SUCH_OPERATOR%/);
  assert.match(
    out,
    /tunneling_config\.headers_to_add: unsupported command operator %UPSTREAM_PEER_SUBJECT\(x\)%/,
  );
});
