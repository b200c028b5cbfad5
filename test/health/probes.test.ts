/** The HTTP and TCP checks against real sockets on 127.0.0.1. */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { httpProbe } from '../../src/upstream/health/http-probe';
import { containsInOrder, tcpProbe } from '../../src/upstream/health/tcp-probe';
import { startOrigin } from '../integration/harness';
import { checkConfig } from './helpers';

const http = checkConfig().http!;

test('HTTP check: status judged against expected and retriable ranges; Host, user-agent and configured headers sent', async () => {
  let status = 200;
  const origin = await startOrigin((_req, res) => {
    res.statusCode = status;
    res.end('x');
  });
  const probe = httpProbe(
    {
      ...http,
      path: '/healthz',
      expectedStatuses: [
        [200, 201],
        [204, 205],
      ],
      retriableStatuses: [[503, 504]],
      requestHeadersToAdd: [{ key: 'x-hc', value: 'yes', appendAction: 'APPEND_IF_EXISTS_OR_ADD' }],
      requestHeadersToRemove: ['user-agent'],
    },
    'web',
    '127.0.0.1',
    origin.port,
    true,
  );
  try {
    assert.equal(await probe.check(1000), 'success');
    status = 204;
    assert.equal(await probe.check(1000), 'success');
    status = 503;
    assert.equal(await probe.check(1000), 'retriable_failure');
    status = 500;
    assert.equal(await probe.check(1000), 'failure');
    const seen = origin.requests[0]!;
    assert.equal(seen.url, '/healthz');
    assert.equal(seen.headers.host, 'web');
    assert.equal(seen.headers['x-hc'], 'yes');
    assert.equal(seen.headers['user-agent'], undefined);
    assert.equal(origin.connections, 1, 'reuse_connection keeps one connection');
  } finally {
    probe.close();
    await origin.close();
  }
});

test('HTTP check: a refused connection is a network failure, no answer within the timeout a network timeout', async () => {
  const origin = await startOrigin(() => {
    /* never answers */
  });
  const slow = httpProbe(http, 'web', '127.0.0.1', origin.port, false);
  const started = Date.now();
  assert.equal(await slow.check(100), 'network_timeout');
  assert.ok(Date.now() - started < 2000);
  slow.close();
  const port = origin.port;
  await origin.close();
  const refused = httpProbe(http, 'web', '127.0.0.1', port, false);
  assert.equal(await refused.check(1000), 'network_failure');
  refused.close();
});

test('TCP check: send, then every receive payload in order; connect-only without payloads', async () => {
  const server = net.createServer((s) => {
    s.on('data', (d) => {
      if (d.toString() === 'PING') {
        s.write('PO');
        setTimeout(() => s.write('NG'), 10);
      } else s.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const hex = (s: string): string => Buffer.from(s).toString('hex');
    assert.equal(
      await tcpProbe({ send: hex('PING'), receive: [hex('PO'), hex('NG')] }, '127.0.0.1', port).check(1000),
      'success',
    );
    assert.equal(
      await tcpProbe({ send: hex('PING'), receive: [hex('NOPE')] }, '127.0.0.1', port).check(200),
      'network_timeout',
    );
    assert.equal(
      await tcpProbe({ send: hex('HELO'), receive: [hex('PO')] }, '127.0.0.1', port).check(1000),
      'network_failure',
    );
    assert.equal(await tcpProbe({ send: '', receive: [] }, '127.0.0.1', port).check(1000), 'success');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const port2 = port;
  assert.equal(await tcpProbe({ send: '', receive: [] }, '127.0.0.1', port2).check(1000), 'network_failure');
});

test('containsInOrder matches payloads in order with gaps, as Envoy does', () => {
  const b = Buffer.from;
  assert.equal(containsInOrder(b('xxABxCDx'), [b('AB'), b('CD')]), true);
  assert.equal(containsInOrder(b('CDxAB'), [b('AB'), b('CD')]), false);
  assert.equal(containsInOrder(b(''), []), true);
});
