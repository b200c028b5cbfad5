import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { Client } from 'undici';
import { PAUSE_MS, sha256, startEchoServer, waitFor, type EchoReply, type EchoServer } from './echo-server';
import { headAndBody, headOnly, openRaw } from './raw-client';

describe('uWS listener: requests and responses', { timeout: 30_000 }, () => {
  let server: EchoServer;
  let client: Client;

  before(async () => {
    server = await startEchoServer();
    client = new Client(`http://127.0.0.1:${server.port}`, { headersTimeout: 5000, bodyTimeout: 5000 });
  });

  after(async () => {
    await client.close();
    server.listener.close();
  });

  it('decodes a GET head: method, full target with query, headers, keep-alive, address', async () => {
    const res = await client.request({ method: 'GET', path: '/echo/a?x=1&y', headers: { 'x-test': 'v1' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['uwebsockets'], undefined, 'uWS server banner must be silenced');
    const echo = (await res.body.json()) as EchoReply;
    assert.equal(echo.method, 'GET');
    assert.equal(echo.path, '/echo/a?x=1&y');
    assert.equal(echo.versionMinor, 1);
    assert.equal(echo.keepAlive, true);
    assert.equal(echo.contentLength, -1);
    assert.equal(echo.chunked, false);
    assert.equal(echo.bodyLength, 0);
    assert.deepEqual(
      echo.headers.find(([name]) => name === 'x-test'),
      ['x-test', 'v1'],
    );
    assert.equal(echo.remoteAddress, '127.0.0.1');
    assert.equal(echo.localAddress, '127.0.0.1');
    assert.equal(echo.localPort, server.port);
  });

  it('keeps an empty query and a target without one apart', async () => {
    const conn = await openRaw(server.port);
    try {
      for (const target of ['/echo?', '/echo']) {
        const raw = await conn.exchange(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, headAndBody);
        const echo = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as EchoReply;
        assert.equal(echo.path, target);
      }
    } finally {
      conn.close();
    }
  });

  it('streams a 1 MiB Content-Length body byte-exact', async () => {
    const body = randomBytes(1024 * 1024);
    const res = await client.request({ method: 'POST', path: '/echo/cl', body });
    const echo = (await res.body.json()) as EchoReply;
    assert.equal(echo.contentLength, body.length);
    assert.equal(echo.chunked, false);
    assert.equal(echo.bodyLength, body.length);
    assert.equal(echo.bodySha256, sha256(body));
  });

  it('streams a 1 MiB chunked body byte-exact', async () => {
    const body = randomBytes(1024 * 1024);
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let at = 0; at < body.length; at += 100_000) yield body.subarray(at, at + 100_000);
    }
    const res = await client.request({
      method: 'POST',
      path: '/echo/chunked',
      body: Readable.from(pieces()),
    });
    const echo = (await res.body.json()) as EchoReply;
    assert.equal(echo.chunked, true);
    assert.equal(echo.contentLength, -1);
    assert.equal(echo.bodyLength, body.length);
    assert.equal(echo.bodySha256, sha256(body));
  });

  it('answers synchronously from decodeHeaders even while a request body is pending', async () => {
    const res = await client.request({ method: 'POST', path: '/sync', body: 'hello' });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'sync reply');
    // The connection is still usable afterwards.
    const next = await client.request({ method: 'GET', path: '/echo/after-sync' });
    assert.equal(((await next.body.json()) as EchoReply).path, '/echo/after-sync');
  });

  it('readDisable stops the request body until it is undone, and the body still arrives whole', async () => {
    const body = randomBytes(4 * 1024 * 1024);
    const started = Date.now();
    const res = await client.request({ method: 'POST', path: '/pause', body });
    const echo = (await res.body.json()) as EchoReply;
    assert.ok(Date.now() - started >= PAUSE_MS, 'the request must have waited for the resume');
    assert.equal(echo.bodySha256, sha256(body));
    assert.deepEqual(server.log.bytesWhilePaused.slice(-1), [0]);
  });

  it('a response completed while reading is disabled leaves the connection serving', async () => {
    const conn = await openRaw(server.port);
    try {
      const body = 'b'.repeat(1024 * 1024);
      const early = await conn.exchange(
        `POST /pause-early HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        headAndBody,
      );
      assert.ok(early.endsWith('\r\n\r\nearly'));
      const next = await conn.exchange('GET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n', headAndBody);
      assert.match(next, /"path":"\/echo\/next"/);
    } finally {
      conn.close();
    }
  });

  it('HEAD keeps Content-Length, sends no body, and leaves the connection reusable', async () => {
    const conn = await openRaw(server.port);
    try {
      const headRaw = await conn.exchange('HEAD /resource HTTP/1.1\r\nHost: x\r\n\r\n', headOnly);
      assert.match(headRaw, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(headRaw, /\r\ncontent-length: 1234\r\n/i);
      assert.equal((headRaw.match(/content-length/gi) ?? []).length, 1);
      // Give a stray body time to arrive, then reuse the connection: any stray byte would prefix it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const getRaw = await conn.exchange('GET /resource HTTP/1.1\r\nHost: x\r\n\r\n', headAndBody);
      assert.match(getRaw, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(getRaw.endsWith('a'.repeat(1234)));
    } finally {
      conn.close();
    }
  });

  it('204 goes out without Content-Length or body', async () => {
    const conn = await openRaw(server.port);
    try {
      const raw = await conn.exchange('GET /204 HTTP/1.1\r\nHost: x\r\n\r\n', headOnly);
      assert.match(raw, /^HTTP\/1\.1 204 No Content\r\n/);
      assert.match(raw, /\r\nx-kind: empty\r\n/);
      assert.doesNotMatch(raw, /content-length|transfer-encoding/i);
      assert.ok(raw.endsWith('\r\n\r\n'));
    } finally {
      conn.close();
    }
  });

  it('drops header fields that would split the response and codec-owned framing fields', async () => {
    const conn = await openRaw(server.port);
    try {
      const raw = await conn.exchange('GET /inject HTTP/1.1\r\nHost: x\r\n\r\n', headAndBody);
      const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
      assert.match(head, /\r\nx-good: kept(\r\n|$)/);
      assert.doesNotMatch(raw, /injected/i);
      assert.doesNotMatch(head, /bad name|x-bad/);
      assert.doesNotMatch(head, /transfer-encoding/i);
      assert.equal((head.match(/content-length/gi) ?? []).length, 1);
      assert.match(head, /\r\ncontent-length: 2(\r\n|$)/i);
      assert.ok(raw.endsWith('\r\n\r\nok'));
    } finally {
      conn.close();
    }
  });

  it('answers a request with Connection: close with connection: close, then closes', async () => {
    const conn = await openRaw(server.port);
    try {
      // Completes only when the server closes the connection after the response.
      const raw = await conn.exchange(
        'GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        () => false,
      );
      assert.match(raw.slice(0, raw.indexOf('\r\n\r\n')), /\r\nconnection: close(\r\n|$)/i);
    } finally {
      conn.close();
    }
  });

  it('closes the connection when a body ends short of its Content-Length', async () => {
    const conn = await openRaw(server.port);
    try {
      // Completes only when the server closes: the body can never reach 10 bytes.
      const raw = await conn.exchange('GET /short HTTP/1.1\r\nHost: x\r\n\r\n', headAndBody);
      assert.match(raw, /\r\ncontent-length: 10\r\n/i);
      assert.ok(raw.endsWith('\r\n\r\nabc'));
    } finally {
      conn.close();
    }
  });

  it('reports a client that disconnects while waiting for the response as remote_reset', async () => {
    const before = server.log.resets.length;
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => server.log.heads.some((h) => h.path === '/hang'), 2000, 'the /hang request');
    socket.destroy();
    await waitFor(() => server.log.resets.length > before, 2000, 'onResetStream');
    assert.deepEqual(server.log.resets.at(-1), { path: '/hang', reason: 'remote_reset' });
  });

  it('reports a client that disconnects mid-body as remote_reset', async () => {
    const before = server.log.resets.length;
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('POST /echo/partial HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly a little');
    await waitFor(
      () => server.log.heads.some((h) => h.path === '/echo/partial'),
      2000,
      'the partial request',
    );
    socket.destroy();
    await waitFor(() => server.log.resets.length > before, 2000, 'onResetStream');
    assert.deepEqual(server.log.resets.at(-1), { path: '/echo/partial', reason: 'remote_reset' });
  });

  // Found by the request-parser fuzzer through uWS: a length past 2^53-1 was read as an inexact JS
  // number (2^64 forwarded as 18446744073709552000); a length uWS cannot read (-1) as no body, the
  // request then forwarded without its bytes; two lengths as the first; a length beside a
  // Transfer-Encoding as chunked. The Legate codec answers each 400.
  const refused: [string, string][] = [
    ['past-2^53', 'Content-Length: 9007199254740993'],
    ['past-2^64', 'Content-Length: 18446744073709551616'],
    ['negative', 'Content-Length: -1'],
    ['not-a-number', 'Content-Length: 3x'],
    ['two-lengths', 'Content-Length: 3\r\nContent-Length: 4'],
    ['length-and-chunked', 'Transfer-Encoding: chunked\r\nContent-Length: 3'],
  ];
  for (const [name, fields] of refused) {
    it(`closes on framing it reads otherwise than llhttp (${name}) and never hands it on`, async () => {
      const conn = await openRaw(server.port);
      try {
        const path = `/echo/framing-${name}`;
        const raw = await conn.exchange(
          `POST ${path} HTTP/1.1\r\nHost: x\r\n${fields}\r\n\r\nabc`,
          () => false,
        );
        assert.equal(raw, '', 'closed without a reply (uWS drops one written here)');
        assert.ok(!server.log.heads.some((h) => h.path === path), 'the owner never saw the request');
      } finally {
        conn.close();
      }
    });
  }
});
