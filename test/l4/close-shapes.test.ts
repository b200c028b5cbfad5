/**
 * Every way a tcp_proxy session can end, on every path: the native engine and the splice relay
 * (with the addon), and the JS relay (LEGATE_NATIVE=0, always run). Each shape must end with both of the proxy's sockets
 * closed within a bound: the listener's `downstream_cx_active` and the clusters'
 * `upstream_cx_active` back where they were before the shape, and the upstream server's own
 * sockets closed. A session that leaks (e.g. a FIN that never reaches the other side) keeps a
 * gauge up and fails its shape.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type * as net from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startLegate, stat, type LegateProcess } from '../integration/harness';
import {
  collect,
  connect,
  l4Paths,
  refusedPort,
  startStalledUpstream,
  startUpstream,
  within,
  type StalledUpstream,
  type Upstream,
} from './fixtures';

/** How long a finished shape may take to close both sockets. */
const CLOSE_BOUND_MS = 3_000;
/** A connect that was stalled is retried by the kernel 1 s after its first SYN. */
const STALLED_CLOSE_BOUND_MS = 6_000;
const CLUSTERS = ['up', 'refused', 'stalled', 'stalled_timeout'];

const RELAYS = l4Paths();

function listenerYaml(name: string, cluster: string): string {
  return `  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${name}
          cluster: ${cluster}`;
}

function clusterYaml(name: string, port: number, connectTimeout: string): string {
  return `  - name: ${name}
    connect_timeout: ${connectTimeout}
    type: STATIC
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
}

function configYaml(upPort: number, refused: number, stalledPort: number): string {
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
${listenerYaml('tcp', 'up')}
${listenerYaml('refused', 'refused')}
${listenerYaml('stalled', 'stalled')}
${listenerYaml('stalled_timeout', 'stalled_timeout')}
  clusters:
${clusterYaml('up', upPort, '5s')}
${clusterYaml('refused', refused, '5s')}
${clusterYaml('stalled', stalledPort, '5s')}
${clusterYaml('stalled_timeout', stalledPort, '0.3s')}
`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const relay of RELAYS) {
  describe(`tcp_proxy close shapes, ${relay.name} relay`, () => {
    /** What the scripted upstream does with each connection; set by each shape. */
    let behaviour: (s: net.Socket) => void = echo;
    let upstream: Upstream;
    let stalled: StalledUpstream;
    let proxy: LegateProcess;

    before(async () => {
      upstream = await startUpstream((s) => behaviour(s));
      stalled = await startStalledUpstream();
      proxy = await startLegate(configYaml(upstream.port, await refusedPort(), stalled.port), {
        concurrency: 1,
        env: relay.env,
      });
    });

    after(async () => {
      await proxy?.stop();
      await upstream?.close();
      await stalled?.close();
    });

    const port = (listener: string): number => proxy.ports.get(listener)!;

    interface OpenCounts {
      downstream: number;
      upstream: number;
      serverSide: number;
    }

    async function openCounts(): Promise<OpenCounts> {
      let upstreamCx = 0;
      for (const c of CLUSTERS) upstreamCx += await stat(proxy, `cluster.${c}.upstream_cx_active`);
      return {
        downstream: await stat(proxy, 'listener.127.0.0.1_0.downstream_cx_active'),
        upstream: upstreamCx,
        serverSide: upstream.sockets.size,
      };
    }

    /** What a shape found open when it began: 0 unless an earlier shape leaked. */
    let baseline: OpenCounts = { downstream: 0, upstream: 0, serverSide: 0 };
    beforeEach(async () => {
      baseline = await openCounts();
    });

    /**
     * Waits until the proxy holds no more downstream or upstream sockets, and the upstream server
     * no more sockets, than when the shape began (so a leak fails the shape that leaked, not the
     * ones after it).
     */
    async function allClosed(what: string, ms = CLOSE_BOUND_MS): Promise<void> {
      const deadline = Date.now() + ms;
      for (;;) {
        const now = await openCounts();
        if (
          now.downstream <= baseline.downstream &&
          now.upstream <= baseline.upstream &&
          now.serverSide <= baseline.serverSide
        )
          return;
        if (Date.now() > deadline) {
          assert.fail(
            `${what}: still open after ${ms} ms: downstream_cx_active ${now.downstream}, ` +
              `upstream_cx_active ${now.upstream}, upstream server sockets ${now.serverSide} ` +
              `(before the shape: ${baseline.downstream}, ${baseline.upstream}, ${baseline.serverSide})`,
          );
        }
        await sleep(50);
      }
    }

    test('the proxy runs the relay under test', () => {
      assert.match(proxy.output(), new RegExp(`tcp_proxy 'tcp' ${relay.log}\\b`));
    });

    test('20 clients that connect and close at once without sending (FIN racing the upstream connect)', async () => {
      behaviour = echo;
      const clients = await Promise.all(Array.from({ length: 20 }, () => connect(port('tcp'), false)));
      const outcomes = clients.map((c) => collect(c, 'client close', CLOSE_BOUND_MS));
      for (const c of clients) c.end();
      for (const o of await Promise.all(outcomes)) assert.equal(o.errorCode, null);
      await allClosed('FIN at once');
    });

    test('client FIN after the upstream connected, nothing sent', async () => {
      const accepted = nextUpstreamSocket((s) => echo(s));
      const client = await connect(port('tcp'), false);
      const outcome = collect(client, 'client close', CLOSE_BOUND_MS);
      await within(accepted, 'upstream accept');
      client.end();
      assert.equal((await outcome).data.length, 0);
      await allClosed('FIN after connect');
    });

    test('client half-closes after sending; the upstream answers after the FIN, then closes', async () => {
      behaviour = (s) => {
        s.resume();
        s.on('end', () => setTimeout(() => s.end('pong'), 100));
      };
      const client = await connect(port('tcp'), false);
      const outcome = collect(client, 'client close', CLOSE_BOUND_MS);
      client.end('ping');
      const { data, ended, errorCode } = await outcome;
      assert.equal(data.toString(), 'pong');
      assert.equal(ended, true);
      assert.equal(errorCode, null);
      await allClosed('half-close');
    });

    test('client closes while its upload is in flight', async () => {
      behaviour = echo;
      const client = await connect(port('tcp'), false);
      const done = collect(client, 'client close', CLOSE_BOUND_MS).catch(() => null);
      client.write(Buffer.alloc(4 << 20, 'u'));
      client.destroy();
      await done;
      await allClosed('close during upload');
    });

    test('client resets while the upstream is sending a lot', async () => {
      behaviour = (s) => {
        s.resume();
        s.write(Buffer.alloc(8 << 20, 'd'));
      };
      const client = await connect(port('tcp'), false);
      await within(once(client, 'data'), 'first downstream bytes');
      client.resetAndDestroy();
      await allClosed('client reset during download');
    });

    test('the upstream closes first; the client closes on its FIN', async () => {
      behaviour = (s) => {
        s.resume();
        s.end('bye');
      };
      const client = await connect(port('tcp'), false);
      const { data, errorCode } = await collect(client, 'client close', CLOSE_BOUND_MS);
      assert.equal(data.toString(), 'bye');
      assert.equal(errorCode, null);
      await allClosed('upstream FIN first');
    });

    test('the upstream closes while its download is in flight', async () => {
      behaviour = (s) => {
        s.resume();
        s.write(Buffer.alloc(8 << 20, 'd'));
        s.destroy();
      };
      const client = await connect(port('tcp'), false);
      await collect(client, 'client close', CLOSE_BOUND_MS);
      await allClosed('upstream close during download');
    });

    test('client reset after an exchange', async () => {
      behaviour = echo;
      const client = await connect(port('tcp'), false);
      client.on('error', () => {});
      client.write('x');
      await within(once(client, 'data'), 'echo');
      client.resetAndDestroy();
      await allClosed('client reset');
    });

    test('upstream reset', async () => {
      behaviour = (s) => s.once('data', () => s.resetAndDestroy());
      const client = await connect(port('tcp'), false);
      const outcome = collect(client, 'client close', CLOSE_BOUND_MS);
      client.write('provoke');
      assert.equal((await outcome).errorCode, 'ECONNRESET');
      await allClosed('upstream reset');
    });

    test('the upstream refuses', async () => {
      const client = await connect(port('refused'), false);
      const { data } = await collect(client, 'client close', CLOSE_BOUND_MS);
      assert.equal(data.length, 0);
      await allClosed('refused');
    });

    test('client FIN while the upstream connect hangs, and the connect then times out', async () => {
      const client = await connect(port('stalled_timeout'), false);
      const outcome = collect(client, 'client close', CLOSE_BOUND_MS);
      client.end();
      assert.equal((await outcome).data.length, 0);
      await allClosed('FIN before a connect that fails');
    });

    // The JS relay sees the reset at once; the splice relay does not read the downstream before
    // it relays (so the bytes stay in the kernel for splice), and sees it when the connect ends:
    // here at this cluster's 0.3 s connect_timeout, at most at connect_timeout.
    test('client reset while the upstream connect hangs, until connect_timeout', async () => {
      const client = await connect(port('stalled_timeout'), false);
      client.on('error', () => {});
      await sleep(100);
      client.resetAndDestroy();
      await allClosed('reset before connect');
    });

    test('client FIN while the upstream connect hangs, and the connect then completes', async () => {
      const client = await connect(port('stalled'), false);
      const outcome = collect(client, 'client close', STALLED_CLOSE_BOUND_MS);
      client.end();
      await sleep(300);
      stalled.release();
      const { data, errorCode } = await outcome;
      assert.equal(data.length, 0);
      assert.equal(errorCode, null);
      await allClosed('FIN before a connect that succeeds', STALLED_CLOSE_BOUND_MS);
    });

    /** Resolves with the next connection the scripted upstream accepts (handled by `handle`). */
    function nextUpstreamSocket(handle: (s: net.Socket) => void): Promise<net.Socket> {
      return new Promise((resolve) => {
        behaviour = (s) => {
          handle(s);
          resolve(s);
        };
      });
    }
  });
}

/** Echoes every byte; half-closes after the peer's FIN. */
function echo(s: net.Socket): void {
  s.pipe(s);
}
