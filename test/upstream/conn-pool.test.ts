/** The HTTP/1.1 connection pool against real upstream servers on 127.0.0.1, through the real codec. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as net from 'node:net';
import type { PoolStats } from '../../src/stats/cluster-stats';
import { HostColumn } from '../../src/upstream/host-table';
import { until } from './helpers';
import { createClientConnection } from '../../src/http/client-connection';
import { tcpSocketConnector, withCodec } from '../../src/upstream/transport';
import { closedPort, makePool, send, startServer, TestRequest, unresponsiveListener } from './pool-harness';

test('sequential requests reuse one keep-alive connection; the host table counts them', async () => {
  const server = await startServer();
  const { pool, table, host } = makePool(server.port);
  try {
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await send(pool).done);
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.body, o.reused]),
      [
        [200, 'conn-1', false],
        [200, 'conn-1', true],
        [200, 'conn-1', true],
      ],
    );
    assert.equal(server.connections, 1);
    assert.equal(table.get(host.slot, HostColumn.TotalRequests), 3);
    assert.equal(table.activeRequests(host.slot), 0);
    assert.equal(table.get(host.slot, HostColumn.ActiveConnections), 1);
    assert.equal(pool.idleCount, 1);
  } finally {
    pool.close();
    await server.close();
  }
});

test('an idle connection is handed out synchronously, most recently used first', async () => {
  const server = await startServer({ delayMs: (path) => (path === '/slow' ? 60 : 0) });
  const { pool } = makePool(server.port);
  try {
    const slow = send(pool, '/slow');
    const fast = send(pool, '/fast');
    const [slowOutcome, fastOutcome] = await Promise.all([slow.done, fast.done]);
    assert.notEqual(slowOutcome.body, fastOutcome.body, 'two connections');
    // The slow request's connection went idle last, so it is on top of the stack.
    const next = new TestRequest();
    assert.equal(pool.newStream(next, next), null, 'no wait: an idle connection was attached');
    assert.equal(next.called, true);
    assert.equal((await next.done).body, slowOutcome.body);
  } finally {
    pool.close();
    await server.close();
  }
});

test('requests beyond max connections wait and are served in order on freed connections', async () => {
  const server = await startServer({ delayMs: () => 10 });
  const { pool, table, host } = makePool(server.port, { maxConnections: 1 });
  try {
    const outcomes = await Promise.all([send(pool).done, send(pool).done, send(pool).done]);
    assert.deepEqual(
      outcomes.map((o) => [o.body, o.reused]),
      [
        ['conn-1', false],
        ['conn-1', true],
        ['conn-1', true],
      ],
    );
    assert.equal(server.connections, 1);
    assert.equal(table.activeRequests(host.slot), 0);
  } finally {
    pool.close();
    await server.close();
  }
});

test('max_requests_per_connection closes a connection after that many requests', async () => {
  const server = await startServer();
  const { pool } = makePool(server.port, { maxRequestsPerConnection: 2 });
  try {
    const bodies = [];
    for (let i = 0; i < 5; i++) bodies.push((await send(pool).done).body);
    assert.deepEqual(bodies, ['conn-1', 'conn-1', 'conn-2', 'conn-2', 'conn-3']);
    await until(() => server.open === 1, 'the used-up connections to close');
  } finally {
    pool.close();
    await server.close();
  }
});

test('a full pending queue fails at once with overflow; a cancelled wait gets no callback', async () => {
  const server = await startServer();
  const { pool } = makePool(server.port, { maxPendingRequests: 1 });
  try {
    const waiting = new TestRequest();
    const handle = pool.newStream(waiting, waiting);
    assert.notEqual(handle, null);
    const overflow = new TestRequest();
    assert.equal(pool.newStream(overflow, overflow), null);
    const o = await overflow.done;
    assert.deepEqual([o.kind, o.reason], ['failure', 'overflow']);

    handle!.cancel();
    assert.equal(pool.pendingCount, 0);
    await until(() => pool.idleCount === 1, 'the connection opened for the cancelled request to go idle');
    assert.equal(waiting.called, false);
  } finally {
    pool.close();
    await server.close();
  }
});

test('connection refused fails every waiting request and counts a connect failure', async () => {
  const { pool, table, host } = makePool(await closedPort());
  try {
    const [a, b] = await Promise.all([send(pool).done, send(pool).done]);
    for (const o of [a, b]) {
      assert.deepEqual([o.kind, o.reason], ['failure', 'connection_failure']);
      assert.match(o.detail, /ECONNREFUSED/);
    }
    // Both requests fail with the first refusal; the second connection's refusal follows.
    await until(() => pool.connectionCount === 0, 'both connects to fail');
    assert.equal(table.get(host.slot, HostColumn.ConnectFailures), 2);
    assert.equal(table.get(host.slot, HostColumn.ActiveConnections), 0);
  } finally {
    pool.close();
  }
});

test('a connect that hangs fails with timeout after connect_timeout', async () => {
  const listener = await unresponsiveListener();
  const { pool, table, host } = makePool(listener.port, { connectTimeoutMs: 100 });
  try {
    const started = Date.now();
    const o = await send(pool).done;
    const elapsed = Date.now() - started;
    assert.deepEqual([o.kind, o.reason], ['failure', 'timeout']);
    assert.ok(elapsed >= 100 && elapsed < 1000, `timed out after ${elapsed} ms`);
    assert.equal(table.get(host.slot, HostColumn.ConnectFailures), 1);
    assert.equal(pool.connectionCount, 0);
  } finally {
    pool.close();
    await listener.release();
  }
});

test('an idle connection closed by the upstream is dropped; the next request connects anew', async () => {
  const server = await startServer({ closeIdleAfterMs: 20 });
  const { pool, table, host } = makePool(server.port);
  try {
    assert.equal((await send(pool).done).body, 'conn-1');
    await until(() => pool.connectionCount === 0, 'the upstream idle close');
    assert.equal(table.get(host.slot, HostColumn.ActiveConnections), 0);
    const next = await send(pool).done;
    assert.deepEqual([next.status, next.body, next.reused], [200, 'conn-2', false]);
  } finally {
    pool.close();
    await server.close();
  }
});

test('the pool closes connections idle for longer than idle_timeout', async () => {
  const server = await startServer();
  const { pool } = makePool(server.port, { idleTimeoutMs: 50 });
  try {
    await send(pool).done;
    assert.equal(server.open, 1);
    await until(() => server.open === 0, 'the pool to close the idle connection');
    assert.equal(pool.connectionCount, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

test('drain closes idle connections now and busy ones when they complete', async () => {
  const server = await startServer({ delayMs: (path) => (path === '/slow' ? 80 : 0) });
  const { pool } = makePool(server.port);
  try {
    await send(pool).done; // leaves conn-1 idle
    const slow = send(pool, '/slow'); // takes conn-1
    const busyToo = send(pool, '/slow'); // opens conn-2
    await until(() => server.connections === 2, 'two connections');
    await send(pool).done; // a third connection, idle afterwards
    assert.equal(pool.idleCount, 1);

    pool.drain();
    assert.equal(pool.idleCount, 0);
    const outcomes = await Promise.all([slow.done, busyToo.done]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      [200, 200],
      'busy requests finish',
    );
    await until(() => server.open === 0 && pool.connectionCount === 0, 'drained connections to close');

    const after = await send(pool).done;
    assert.deepEqual([after.status, after.reused], [200, false], 'new requests still work');
  } finally {
    pool.close();
    await server.close();
  }
});

test('close resets active streams and fails waiting ones', async () => {
  const server = await startServer({ delayMs: () => 1000 });
  const { pool, table, host } = makePool(server.port, { maxConnections: 1 });
  try {
    const active = send(pool);
    const waiting = send(pool);
    await until(() => active.request.called, 'the first request to start');
    pool.close();
    const [a, w] = await Promise.all([active.done, waiting.done]);
    assert.equal(a.kind, 'reset');
    assert.deepEqual([w.kind, w.reason], ['failure', 'connection_failure']);
    await until(() => table.get(host.slot, HostColumn.ActiveConnections) === 0, 'the connection to close');
    assert.equal(table.activeRequests(host.slot), 0);
  } finally {
    pool.close();
    await server.close();
  }
});

test('a connection whose codec is not reusable is closed instead of pooled, and never handed out', async () => {
  const server = await startServer();
  // The real codec, with `reusable` forced false while `dirty` is set (as a codec left paused or
  // holding unparsed bytes would report it).
  let dirty = false;
  const { pool } = makePool(server.port, {
    connector: withCodec(tcpSocketConnector, (socket, callbacks) => {
      const codec = createClientConnection(socket, callbacks);
      return {
        newStream: (decoder) => codec.newStream(decoder),
        close: () => codec.close(),
        get busy() {
          return codec.busy;
        },
        get reusable() {
          return codec.reusable && !dirty;
        },
      };
    }),
  });
  try {
    dirty = true;
    assert.equal((await send(pool).done).body, 'conn-1');
    await until(() => server.open === 0, 'the unclean connection to close');
    assert.equal(pool.idleCount, 0);
    dirty = false;
    assert.equal((await send(pool).done).body, 'conn-2');
    assert.equal(pool.idleCount, 1);
    // Pooled while clean, then unclean while idle: the next request gets a fresh connection.
    dirty = true;
    const next = send(pool);
    assert.equal(next.request.called, false, 'the idle connection was not handed out');
    assert.equal((await next.done).body, 'conn-3');
  } finally {
    pool.close();
    await server.close();
  }
});

/** A PoolStats that tallies what the pool reports. */
class RecordingStats implements PoolStats {
  protocolErrors = 0;
  queued = 0;
  pendingActive = 0;
  ejected = 0;
  connectionOpened(): void {}
  connected(): void {}
  connectFailed(): void {}
  bytes(): void {}
  connectionClosed(): void {}
  protocolError(): void {
    this.protocolErrors++;
  }
  requestQueued(): void {
    this.queued++;
    this.pendingActive++;
  }
  requestDequeued(ejected: boolean): void {
    this.pendingActive--;
    if (ejected) this.ejected++;
  }
}

test('pending stats: requests waiting for a connection, and those a failed connect ejects', async () => {
  const server = await startServer();
  const okStats = new RecordingStats();
  const failStats = new RecordingStats();
  const served = makePool(server.port, { stats: okStats });
  const refused = makePool(await closedPort(), { stats: failStats });
  try {
    await Promise.all([send(served.pool).done, send(served.pool).done]);
    // Both waited for a connection; an idle one then serves without waiting.
    await send(served.pool).done;
    assert.deepEqual([okStats.queued, okStats.pendingActive, okStats.ejected], [2, 0, 0]);
    const outcomes = await Promise.all([send(refused.pool).done, send(refused.pool).done]);
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['failure', 'failure'],
    );
    assert.deepEqual([failStats.queued, failStats.pendingActive, failStats.ejected], [2, 0, 2]);
  } finally {
    served.pool.close();
    refused.pool.close();
    await server.close();
  }
});

test('a malformed upstream response counts a protocol error', async () => {
  const upstream = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () =>
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n'),
    );
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const stats = new RecordingStats();
  const { pool } = makePool((upstream.address() as net.AddressInfo).port, { stats });
  try {
    const o = await send(pool).done;
    assert.deepEqual([o.kind, o.reason], ['reset', 'protocol_error']);
    assert.equal(stats.protocolErrors, 1);
  } finally {
    pool.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
