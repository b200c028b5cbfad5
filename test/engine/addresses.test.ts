/**
 * The downstream addresses a request sees (%DOWNSTREAM_REMOTE_ADDRESS%, %DOWNSTREAM_LOCAL_ADDRESS%)
 * are the connection's own, whether the listener is bound to one address (the native engine takes
 * the local address from the listener then, and the peer from accept4, instead of asking each
 * socket) or to the wildcard (the socket is asked). Each case checks them against what the client's
 * own socket says, over several connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  catchAllVirtualHost,
  httpProxyYaml,
  startLegate,
  startOrigin,
  staticCluster,
} from '../integration/harness';

/** One request on a fresh connection; the client's view of its socket's two ends. */
function requestOnNewConnection(port: number, path: string): Promise<{ local: string; remote: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', reject);
    let ends = { local: '', remote: '' };
    socket.on('connect', () => {
      // Read now: a closed socket no longer knows its addresses.
      ends = {
        local: `${socket.localAddress}:${socket.localPort}`,
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
      };
      socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
    });
    let response = '';
    socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
    socket.on('close', () => {
      if (!response.startsWith('HTTP/1.1 200')) reject(new Error(`unexpected response: ${response}`));
      else resolve(ends);
    });
  });
}

for (const bind of ['127.0.0.1', '0.0.0.0']) {
  test(`request addresses are the connection's own, listener bound to ${bind}`, async () => {
    const origin = await startOrigin();
    const yaml = httpProxyYaml({
      admin: false,
      virtualHosts: catchAllVirtualHost({
        routeFields: `
request_headers_to_add:
- header: { key: x-downstream-remote, value: "%DOWNSTREAM_REMOTE_ADDRESS%" }
- header: { key: x-downstream-local, value: "%DOWNSTREAM_LOCAL_ADDRESS%" }`,
      }),
      clusters: staticCluster('o', [origin.port]),
    }).replace(
      'socket_address: { address: 127.0.0.1, port_value: 0 }',
      `socket_address: { address: ${bind}, port_value: 0 }`,
    );
    const legate = await startLegate(yaml, { concurrency: 1 });
    try {
      const port = legate.ports.get('proxy')!;
      for (let i = 0; i < 5; i++) {
        const client = await requestOnNewConnection(port, `/c${i}`);
        const seen = origin.requests.at(-1)!;
        assert.equal(seen.url, `/c${i}`);
        assert.equal(seen.headers['x-downstream-remote'], client.local, `connection ${i}: the client's end`);
        assert.equal(seen.headers['x-downstream-local'], client.remote, `connection ${i}: the proxy's end`);
      }
    } finally {
      await legate.stop();
      await origin.close();
    }
  });
}
