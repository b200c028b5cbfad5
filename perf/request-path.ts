/**
 * The JavaScript cost of one proxied request, without any socket: the real HTTP connection
 * manager, router, cluster, connection pool and stats, driven through the codec interfaces by a
 * fake downstream codec and a fake upstream connection that answers at once (13-byte body). This is
 * what the JS decides per request on either engine — the native engine removes Node's socket layer
 * around it, not this — so it bounds what the native engine can reach (issue 11's goal is ≤ 6.3 µs
 * of user CPU per request in total).
 *
 * `node dist/perf/request-path.js` (or `npm run perf -- request-path`).
 */
import { bench, do_not_optimize, run } from 'mitata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBuiltinRegistry } from '../src/registry/builtins';
import { loadBootstrap } from '../src/config/load';
import { StatsLayout, StatsStore } from '../src/stats/store';
import { declareBootstrapStats } from '../src/stats/declare';
import { HostTable } from '../src/upstream/host-table';
import { CircuitBreakerTable } from '../src/upstream/circuit-breakers';
import { ClusterManager } from '../src/upstream/cluster-manager';
import { ClusterStats } from '../src/stats/cluster-stats';
import { TimerWheel, monotonicMs } from '../src/common/timer-wheel';
import { DateCache } from '../src/common/date-cache';
import { SharedFlag } from '../src/worker/shared-flag';
import { HttpConnectionManager } from '../src/filters/network/http-connection-manager/connection-manager';
import { HeaderMap } from '../src/http/header-map';
import type {
  ClientConnection,
  ClientConnectionCallbacks,
  RequestEncoder,
  RequestHead,
  ResponseDecoder,
  ResponseEncoder,
  ResponseHead,
} from '../src/http/codec';
import type { HttpConnectionManagerConfig } from '../src/config/bootstrap';
import { BodyFraming, serializeRequestHead, serializeResponseHead } from '../src/http/h1-heads';
import type { WorkerServices } from '../src/worker/services';
import type { UpstreamConnector } from '../src/upstream/transport';
import { oneRouteProxyYaml } from './lib/proxy-yaml';

/** Port 9 (discard): the upstream here is InstantUpstream, never a socket. */
const YAML = oneRouteProxyYaml(0, 9);

const BODY = Buffer.from('hello world!\n');
let sink = 0;

/** An upstream connection that answers every request at once, as an nginx origin would (13 B). */
class InstantUpstream implements ClientConnection, RequestEncoder {
  busy = false;
  readonly reusable = true;
  private decoder: ResponseDecoder | null = null;
  private readonly framing = { framing: BodyFraming.NONE, closeRequested: false };
  constructor(private readonly callbacks: ClientConnectionCallbacks) {}
  newStream(decoder: ResponseDecoder): RequestEncoder {
    this.busy = true;
    this.decoder = decoder;
    return this;
  }
  close(): void {}
  encodeHeaders(head: RequestHead, contentLength: number, endStream: boolean): void {
    sink += serializeRequestHead(this.framing, head, contentLength, endStream).length;
    const headers = new HeaderMap();
    headers.add('server', 'nginx/1.22.1');
    headers.add('date', 'Mon, 07 Dec 2026 06:30:00 GMT');
    headers.add('content-type', 'text/plain');
    headers.add('content-length', '13');
    headers.add('connection', 'keep-alive');
    const decoder = this.decoder!;
    decoder.decodeHeaders({ status: 200, reason: 'OK', headers }, false);
    decoder.decodeData(BODY, true);
    this.busy = false;
    this.decoder = null;
    this.callbacks.onStreamComplete(true);
  }
  encodeData(): void {}
  encodeTrailers(): void {}
  resetStream(): void {}
  readDisable(): void {}
}

const instantConnector: UpstreamConnector = (_address, _port, handler) => {
  setImmediate(() => handler.onConnected(new InstantUpstream(handler)));
  return { bytesRead: 0, bytesWritten: 0, writable: true, destroy() {} };
};

/** The downstream side: what a codec would write, serialised as the codecs do. */
class FakeDownstream implements ResponseEncoder {
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  localAddress = '127.0.0.1';
  localPort = 10000;
  bufferedBytes = 0;
  headRequest = false;
  versionMinor = 1;
  requestKeepAlive = true;
  framing = BodyFraming.NONE;
  closeAfterResponse = false;
  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void {
    sink += serializeResponseHead(this, head, contentLength, endStream, false).length;
  }
  encodeData(data: Buffer): void {
    sink += data.length;
  }
  encodeTrailers(): void {}
  encode100Continue(): void {}
  resetStream(): void {}
  readDisable(): void {}
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-perf-'));
  fs.writeFileSync(path.join(dir, 'legate.yaml'), YAML);
  const registry = createBuiltinRegistry();
  const { bootstrap } = loadBootstrap({ path: path.join(dir, 'legate.yaml') }, registry);
  const layout = new StatsLayout();
  declareBootstrapStats(layout, bootstrap, registry, 1);
  const stats = new StatsStore(layout.allocate(2), 1);
  const hostTable = HostTable.allocate(bootstrap.clusters);
  const breakers = CircuitBreakerTable.allocate(bootstrap.clusters, 1);
  const clusterManager = new ClusterManager(bootstrap.clusters, {
    hostTable,
    registry,
    random: Math.random,
    nowMs: monotonicMs,
    connector: instantConnector,
    clusterStats: (name) => new ClusterStats(stats, name, true),
    circuitBreaker: (config) => breakers.breaker(config, 0, 0, (n) => stats.counter(n)),
  });
  const services: WorkerServices = {
    workerIndex: 0,
    registry,
    stats,
    timers: new TimerWheel(monotonicMs),
    clusterManager,
    hostTable,
    date: new DateCache(),
    random: Math.random,
    now: monotonicMs,
    healthCheckFailed: new SharedFlag(),
    nativeEngine: null,
  };
  const listener = bootstrap.listeners[0]!;
  const hcm = new HttpConnectionManager(
    listener.filterChains[0]!.filters[0]!.config as HttpConnectionManagerConfig,
    {
      workerIndex: 0,
      listener,
      chain: listener.filterChains[0]!,
      services,
    },
  );
  const callbacks = hcm.httpCallbacks();
  const downstream = new FakeDownstream();

  const request = (): void => {
    const headers = new HeaderMap();
    headers.add('host', '127.0.0.1:10000');
    const head: RequestHead = {
      method: 'GET',
      path: '/',
      protocol: 'HTTP/1.1',
      headers,
      keepAlive: true,
      contentLength: -1,
      chunked: false,
      upgrade: false,
    };
    callbacks.newStream(downstream).decodeHeaders(head, true);
  };
  // The first request opens the pooled connection (asynchronously); every later one reuses it.
  request();
  await new Promise((r) => setTimeout(r, 10));

  bench('one proxied GET through HCM + router + pool (13 B response)', () => {
    request();
    do_not_optimize(sink);
  });
  await run();
  services.timers.close();
  services.date.close();
  clusterManager.close();
}

void main();
