/**
 * The ClientHello reader of tls_inspector, fed real ClientHellos (captured from node:tls clients)
 * whole, split at every byte, and cut short; and bytes that are not TLS.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import * as tls from 'node:tls';
import { HelloStatus, parseClientHello } from '../../src/filters/listener/tls-inspector/client-hello';

const MAX = 64 * 1024;

/** The first flight a node:tls client sends (its ClientHello), read by a plain TCP server. */
async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve) => {
      server.once('connection', (s) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => {
          chunks.push(c);
          const all = Buffer.concat(chunks);
          if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
            s.destroy();
            resolve(all);
          }
        });
      });
    });
    const client = tls.connect({ host: '127.0.0.1', port, ...options });
    client.on('error', () => {});
    const hello = await got;
    client.destroy();
    return hello;
  } finally {
    server.close();
  }
}

test('SNI and ALPN are read from a real ClientHello, whole and split at every byte', async () => {
  const hello = await captureClientHello({
    servername: 'Sni.Example.com',
    ALPNProtocols: ['h2', 'http/1.1'],
  });
  const whole = parseClientHello(hello, MAX);
  assert.equal(whole.status, HelloStatus.Found);
  assert.equal(whole.serverName, 'sni.example.com');
  assert.deepEqual(whole.alpn, ['h2', 'http/1.1']);
  for (let cut = 0; cut < hello.length; cut++)
    assert.equal(parseClientHello(hello.subarray(0, cut), MAX).status, HelloStatus.NeedMore, `cut at ${cut}`);
});

test('a ClientHello without SNI or ALPN is found, with neither', async () => {
  // An IP literal as servername sends no SNI (RFC 6066).
  const r = parseClientHello(await captureClientHello({ servername: '' }), MAX);
  assert.equal(r.status, HelloStatus.Found);
  assert.equal(r.serverName, '');
  assert.deepEqual(r.alpn, []);
});

test('a ClientHello spread over several records is reassembled', async () => {
  const hello = await captureClientHello({ servername: 'frag.example', ALPNProtocols: ['x'] });
  const body = hello.subarray(5);
  const records = [body.subarray(0, 3), body.subarray(3, 50), body.subarray(50)].map((frag) => {
    const header = Buffer.from([0x16, 3, 1, 0, 0]);
    header.writeUInt16BE(frag.length, 3);
    return Buffer.concat([header, frag]);
  });
  const r = parseClientHello(Buffer.concat(records), MAX);
  assert.equal(r.status, HelloStatus.Found);
  assert.equal(r.serverName, 'frag.example');
  assert.equal(parseClientHello(Buffer.concat(records.slice(0, 2)), MAX).status, HelloStatus.NeedMore);
});

test('plaintext, garbage and non-ClientHello handshakes are not TLS; oversize is too large', async () => {
  for (const text of [
    'GET / HTTP/1.1\r\n',
    'S',
    '\x16\x02',
    '\x16\x03\x01\x00\x00',
    '\x15\x03\x01\x00\x02\x02\x28',
  ])
    assert.equal(
      parseClientHello(Buffer.from(text, 'latin1'), MAX).status,
      HelloStatus.NotTls,
      JSON.stringify(text),
    );
  const hello = await captureClientHello({ servername: 'a.example' });
  const serverHelloType = Buffer.from(hello);
  serverHelloType[5] = 2;
  assert.equal(parseClientHello(serverHelloType, MAX).status, HelloStatus.NotTls);
  assert.equal(parseClientHello(hello, 100).status, HelloStatus.TooLarge);
});
