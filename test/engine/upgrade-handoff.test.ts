/**
 * A listener whose HTTP connection manager enables upgrades is served by the native engine like any
 * other; the engine hands a connection to Legate's JS codec, which tunnels, when a request on it asks
 * for an upgrade (its head as parsed and every byte after it go along). What must hold on every
 * engine (this file runs in each pass; with the engine off the listener is JS from the start): the
 * upgrade after plain requests on one connection, a head split across reads with tunnel bytes right
 * behind it, a refused upgrade followed by more requests, and an upgrade request with a body.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { NativeEngine } from '../../src/engine/native-engine';
import { admin, httpProxyYaml, startLegate, staticCluster, type LegateProcess } from '../integration/harness';
import { startUpgradeOrigin, type UpgradeOrigin } from '../support/upgrade-origin';
import { settledFdCount } from '../l4/fixtures';

const EXPECTED_PATH = NativeEngine.unavailableReason() === null ? 'native' : 'js';

async function withLegate(
  body: (port: number, origin: UpgradeOrigin, lp: LegateProcess) => Promise<void>,
): Promise<void> {
  const origin = await startUpgradeOrigin();
  const lp = await startLegate(
    httpProxyYaml({
      hcmExtra: 'upgrade_configs: [{ upgrade_type: echo }]',
      virtualHosts:
        '- { name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: o } }] }',
      clusters: staticCluster('o', [origin.port]),
    }),
    { concurrency: 1 },
  );
  try {
    await body(lp.ports.get('proxy')!, origin, lp);
  } finally {
    await lp.stop();
    await origin.close();
  }
}

/** A client on one connection: writes, and waits for what it read to match. */
class Client {
  readonly socket: net.Socket;
  text = '';
  readonly ended: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.allowHalfOpen = true;
    this.socket.on('error', () => {});
    this.socket.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    this.ended = new Promise((resolve) => this.socket.once('end', resolve));
  }

  async until(pattern: RegExp, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!pattern.test(this.text)) {
      if (Date.now() > deadline) assert.fail(`${what}: no ${pattern} in ${JSON.stringify(this.text)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const PLAIN = 'GET /plain HTTP/1.1\r\nhost: x\r\n\r\n';
const UPGRADE_HEAD =
  'GET /echo HTTP/1.1\r\nhost: x\r\nupgrade: echo\r\nconnection: upgrade\r\nx-case: Mixed Value\r\n\r\n';

test(`an upgrade-enabled listener is served on the ${EXPECTED_PATH} path`, async () => {
  await withLegate(async (_port, _origin, lp) => {
    const listeners = JSON.parse((await admin(lp, '/listeners?format=json')).body.toString());
    assert.equal(listeners.listener_statuses[0].legate_data_path, EXPECTED_PATH);
  });
});

test('plain requests, then an upgrade on the same connection: its head split across reads, tunnel bytes right behind it', async () => {
  await withLegate(async (port, origin) => {
    const client = new Client(port);
    try {
      for (let n = 1; n <= 2; n++) {
        client.socket.write(PLAIN);
        await client.until(new RegExp(`(plain[^]*){${n}}`), `plain response ${n}`);
      }
      // The head in three reads, the last one carrying the first tunnel bytes.
      client.socket.write(UPGRADE_HEAD.slice(0, 7));
      await new Promise((r) => setTimeout(r, 30));
      client.socket.write(UPGRADE_HEAD.slice(7, 40));
      await new Promise((r) => setTimeout(r, 30));
      client.socket.write(UPGRADE_HEAD.slice(40) + 'early');
      await client.until(/101 Switching Protocols[^]*\r\n\r\nearly$/, 'the 101 and the early bytes echoed');
      client.socket.write('-more');
      await client.until(/early-more$/, 'tunnel bytes echoed');
      client.socket.end();
      await client.ended;
      assert.match(client.text, /early-morebye$/, 'the origin answers the FIN with bye');
      const asked = origin.upgradeRequests.at(-1)!;
      assert.equal(asked.url, '/echo');
      assert.equal(asked.headers['x-case'], 'Mixed Value');
    } finally {
      client.socket.destroy();
    }
  });
});

test('an upgrade the connection manager refuses (403) leaves the connection serving requests; one with a body is a 400', async () => {
  await withLegate(async (port) => {
    const client = new Client(port);
    try {
      client.socket.write('GET /plain HTTP/1.1\r\nhost: x\r\nupgrade: other\r\nconnection: upgrade\r\n\r\n');
      await client.until(/^HTTP\/1\.1 403 /, 'the refusal');
      client.socket.write(PLAIN);
      await client.until(/403[^]*HTTP\/1\.1 200 [^]*plain/, 'the next request answered');
    } finally {
      client.socket.destroy();
    }
    const withBody = new Client(port);
    try {
      withBody.socket.write(
        'POST /echo HTTP/1.1\r\nhost: x\r\nupgrade: echo\r\nconnection: upgrade\r\ncontent-length: 3\r\n\r\nxyz',
      );
      await withBody.until(/^HTTP\/1\.1 400 /, 'upgrade with a body refused');
    } finally {
      withBody.socket.destroy();
    }
  });
});

test('connections handed over for upgrades leave no file descriptor behind, whichever side ends them', async () => {
  await withLegate(async (port, _origin, lp) => {
    const tunnel = async (clientEnds: boolean): Promise<void> => {
      const client = new Client(port);
      client.socket.write(PLAIN + UPGRADE_HEAD);
      await client.until(/101 Switching Protocols[^]*\r\n\r\n$/, 'the 101');
      if (clientEnds) {
        client.socket.end();
        await client.ended;
      }
      client.socket.destroy();
    };
    await tunnel(true);
    const baseline = await settledFdCount(lp.proc.pid!);
    for (let n = 0; n < 20; n++) await tunnel(n % 2 === 0);
    assert.equal(await settledFdCount(lp.proc.pid!), baseline);
  });
});
