/**
 * The JS relay on real socket pairs in this process, for orderings an end-to-end client cannot
 * time reliably.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { test } from 'node:test';
import { JsRelay } from '../../src/filters/network/tcp-proxy/js-relay';
import type { RelayEnd } from '../../src/filters/network/tcp-proxy/relay';
import { TcpProxyStats, declareTcpProxyStats } from '../../src/filters/network/tcp-proxy/stats';
import { StatsLayout, StatsStore } from '../../src/stats/store';
import { within } from './fixtures';

/** A connected pair on 127.0.0.1: [the side a client holds, the side the server accepted]. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  const [serverSide] = await accepted;
  await once(client, 'connect');
  server.close();
  for (const s of [client, serverSide]) s.on('error', () => {});
  return [client, serverSide];
}

function relayStats(): TcpProxyStats {
  const layout = new StatsLayout();
  declareTcpProxyStats(layout, 'test');
  return new TcpProxyStats(new StatsStore(layout.allocate(1), 0), 'test');
}

test('a downstream reset in the same tick as its FIN still closes the upstream', async () => {
  const [client, downstream] = await socketPair();
  const [upstream, server] = await socketPair();
  const ended: RelayEnd[] = [];
  new JsRelay(downstream, upstream, 1 << 20, relayStats(), { onRelayEnd: (end) => ended.push(end) });
  // Right after the relay passed the client's FIN on (upstream.end()), the downstream fails: the
  // relay resets the upstream while its FIN is still being sent.
  downstream.once('end', () =>
    downstream.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })),
  );
  const upstreamClosed = once(upstream, 'close');
  const serverEnded = once(server, 'end');
  client.end();
  await within(upstreamClosed, "the upstream socket's close", 3000);
  await within(serverEnded, "the upstream peer gets the client's FIN", 3000);
  assert.equal(ended.length, 1, 'the relay reports its end once');
  client.destroy();
  server.destroy();
});
