/**
 * Seeded HTTP/2 frame fuzzer against a live proxy: each connection sends the preface and SETTINGS,
 * then a random mix of well-formed and malformed frames (HEADERS with a valid or a random header
 * block, DATA, RST_STREAM, WINDOW_UPDATE, PRIORITY, PING, SETTINGS, GOAWAY, CONTINUATION, unknown
 * types; random flags, stream ids and payloads). Whatever a client sends, the worker must not crash
 * and must keep serving others. LEGATE_FUZZ_SEED / LEGATE_FUZZ_ITERATIONS replay or lengthen a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { catchAllYaml, startOrigin, withLegate } from '../integration/harness';
import { Random, fuzzOptionsFromEnv } from '../fuzz/random';
import { frame, h2Connect, h2Request, PREFACE } from './h2-client';

/** HPACK: GET, http, /, `:authority: a` (literal without indexing). */
const VALID_BLOCK = Buffer.from([0x82, 0x86, 0x84, 0x01, 0x01, 0x61]);
/** The same plus `x_bad: 1`, which the proxy below refuses (headers_with_underscores_action). */
const UNDERSCORE_BLOCK = Buffer.concat([
  VALID_BLOCK,
  Buffer.from([0x00, 0x05]),
  Buffer.from('x_bad'),
  Buffer.from([0x01, 0x31]),
]);

function randomBytes(random: Random, max: number): Buffer {
  const b = Buffer.alloc(random.int(max + 1));
  for (let i = 0; i < b.length; i++) b[i] = random.int(256);
  return b;
}

/** One connection's bytes after the preface. */
function randomFrames(random: Random): Buffer {
  const parts: Buffer[] = [PREFACE, frame(4, 0, 0)];
  const count = 1 + random.int(30);
  let nextStream = 1;
  for (let i = 0; i < count; i++) {
    if (random.chance(0.4)) {
      // A well-formed request on the next stream (END_HEADERS, with or without END_STREAM).
      const block = random.chance(0.7) ? VALID_BLOCK : UNDERSCORE_BLOCK;
      parts.push(frame(1, random.pick([4, 5]), nextStream, block));
      nextStream += 2;
      continue;
    }
    const type = random.chance(0.1) ? random.int(256) : random.int(10);
    const streamId = random.chance(0.8) ? 1 + 2 * random.int(8) : random.int(20);
    const flags = random.chance(0.5) ? random.pick([0, 1, 4, 5, 8, 0x20, 0x25]) : random.int(256);
    let payload: Buffer;
    if (type === 1 && random.chance(0.6)) payload = random.chance(0.7) ? VALID_BLOCK : UNDERSCORE_BLOCK;
    else if ((type === 3 || type === 8) && random.chance(0.7)) {
      // RST_STREAM / WINDOW_UPDATE of the right size: an error code or an increment.
      payload = Buffer.alloc(4);
      payload.writeUInt32BE(random.int(2 ** 31));
    } else payload = randomBytes(random, 64);
    parts.push(frame(type, flags, streamId, payload));
  }
  return Buffer.concat(parts);
}

function sendAndWait(port: number, bytes: Buffer, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test('random HTTP/2 frames never crash a worker, and it keeps serving', { timeout: 120_000 }, async () => {
  const { seed, iterations } = fuzzOptionsFromEnv(150);
  const origin = await startOrigin();
  try {
    await withLegate(
      catchAllYaml([origin.port], {
        hcmExtra: `codec_type: HTTP2
common_http_protocol_options: { headers_with_underscores_action: REJECT_REQUEST }`,
      }),
      { concurrency: 1 },
      async (lp) => {
        const port = lp.ports.get('proxy')!;
        for (let i = 0; i < iterations; i += 10) {
          const batch: Promise<void>[] = [];
          for (let j = i; j < Math.min(i + 10, iterations); j++)
            batch.push(sendAndWait(port, randomFrames(Random.forIteration(seed, j)), 300));
          await Promise.all(batch);
        }
        const session = await h2Connect(port);
        const r = await h2Request(session, { path: '/after-fuzz' });
        session.close();
        assert.equal(r.status, 200, `LEGATE_FUZZ_SEED=${seed}`);
        assert.doesNotMatch(lp.output(), /crashed|exited \(code/, `LEGATE_FUZZ_SEED=${seed}: ${lp.output()}`);
      },
    );
  } finally {
    await origin.close();
  }
});
