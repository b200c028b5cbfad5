import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Client } from 'undici';
import { patternBytes, sha256, startEchoServer, STREAM_CHUNK, type EchoServer } from './echo-server';

const SIZE = 5 * 1024 * 1024;
/** Longer than loopback's socket buffers take to fill, so the server must meet backpressure. */
const READ_DELAY_MS = 300;

/** Requests `path` and reads the body slowly: nothing for a while, then a pause every 16 chunks. */
async function slowDownload(
  port: number,
  path: string,
): Promise<{ body: Buffer; headers: Record<string, unknown> }> {
  const client = new Client(`http://127.0.0.1:${port}`, { bodyTimeout: 10_000, headersTimeout: 10_000 });
  try {
    const res = await client.request({ method: 'GET', path });
    assert.equal(res.statusCode, 200);
    await new Promise((resolve) => setTimeout(resolve, READ_DELAY_MS));
    const chunks: Buffer[] = [];
    let count = 0;
    for await (const chunk of res.body) {
      chunks.push(chunk as Buffer);
      if (++count % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return { body: Buffer.concat(chunks), headers: res.headers };
  } finally {
    await client.close();
  }
}

describe('uWS listener: a 5 MiB response to a slow client', { timeout: 30_000 }, () => {
  let server: EchoServer;
  const expected = sha256(patternBytes(SIZE));

  before(async () => {
    server = await startEchoServer();
  });

  after(() => server.listener.close());

  it('with Content-Length: stops the producer, keeps at most one chunk queued, body exact', async () => {
    const { body, headers } = await slowDownload(server.port, `/stream?size=${SIZE}&chunked=0`);
    assert.equal(headers['content-length'], String(SIZE));
    assert.equal(body.length, SIZE);
    assert.equal(sha256(body), expected);
    const stats = server.log.streams.at(-1)!;
    assert.ok(stats.above >= 1, 'backpressure must have been reported');
    assert.ok(stats.below >= stats.above - 1, 'each high watermark but the last is followed by a low one');
    assert.ok(stats.sentAtFirstAbove < SIZE, 'the producer was stopped before the end');
    assert.ok(stats.maxBufferedBytes <= STREAM_CHUNK, `queued ${stats.maxBufferedBytes} bytes`);
  });

  it('chunked (unknown length): stops the producer, body exact', async () => {
    const { body, headers } = await slowDownload(server.port, `/stream?size=${SIZE}&chunked=1`);
    assert.equal(headers['transfer-encoding'], 'chunked');
    assert.equal(body.length, SIZE);
    assert.equal(sha256(body), expected);
    const stats = server.log.streams.at(-1)!;
    assert.ok(stats.above >= 1, 'backpressure must have been reported');
    assert.ok(stats.below >= stats.above - 1, 'each high watermark but the last is followed by a low one');
    assert.ok(stats.sentAtFirstAbove < SIZE, 'the producer was stopped before the end');
  });
});
