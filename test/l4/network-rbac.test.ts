/**
 * The network RBAC filter in front of tcp_proxy: a connection from an allowed peer is relayed, one
 * from elsewhere is closed before the upstream sees it; shadow rules count; the listener leaves the
 * engine's L4 sessions (the filter needs the connection's addresses) and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { admin, startLegate, stat, staticCluster } from '../integration/harness';
import { startEcho } from './fixtures';

const RBAC = `- name: envoy.filters.network.rbac
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
    stat_prefix: tcp_guard
    rules:
      action: ALLOW
      policies:
        loopback-one:
          permissions: [{ any: true }]
          principals: [{ direct_remote_ip: { address_prefix: 127.0.0.1, prefix_len: 32 } }]
    shadow_rules:
      action: DENY
      policies:
        everyone:
          permissions: [{ any: true }]
          principals: [{ any: true }]`;

/** Sends `text` from `localAddress` and resolves with what came back before the close. */
function exchange(port: number, localAddress: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => socket.write(text));
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      if (got === text) socket.end();
    });
    socket.on('close', () => resolve(got));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? resolve(got) : reject(err),
    );
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer, no close')));
  });
}

test('network RBAC: the allowed peer is relayed, any other is closed; stats; the data path says why', async () => {
  const echo = await startEcho();
  const legate = await startLegate(
    `admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
${RBAC.replace(/^/gm, '      ')}
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: l4
          cluster: echo
  clusters:
${staticCluster('echo', [echo.port]).replace(/^/gm, '  ')}
`,
    { concurrency: 1 },
  );
  try {
    const port = legate.ports.get('tcp')!;
    assert.equal(await exchange(port, '127.0.0.1', 'hello'), 'hello');
    assert.equal(await exchange(port, '127.0.0.2', 'hello'), '', 'closed without a relay');
    assert.equal(await stat(legate, 'tcp_guard.rbac.allowed'), 1);
    assert.equal(await stat(legate, 'tcp_guard.rbac.denied'), 1);
    assert.equal(await stat(legate, 'tcp_guard.rbac.shadow_denied'), 2);
    const listeners = JSON.parse((await admin(legate, '/listeners?format=json')).body.toString()) as {
      listener_statuses: { name: string; legate_data_path: string }[];
    };
    assert.equal(listeners.listener_statuses[0]!.legate_data_path, 'js');
  } finally {
    await legate.stop();
    await echo.close();
  }
});
