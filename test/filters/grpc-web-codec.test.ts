/**
 * The gRPC-Web codec pieces on their own: the streaming base64 decoder of `-text` request bodies and
 * the per-frame base64 encoder of responses, over every split of seeded random bodies (the seed is
 * printed on failure), and the trailers frame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Base64FrameEncoder,
  Base64StreamDecoder,
  TRAILERS_FRAME_FLAG,
  trailersFrame,
} from '../../src/filters/http/grpc-web/codec';
import { HeaderMap } from '../../src/http/header-map';
import { seededRandom } from '../upstream/helpers';

const SEED = Number(process.env.LEGATE_FUZZ_SEED ?? Date.now() % 100_000);

function randomBytes(random: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
  return b;
}

/** Decodes `text` fed in pieces cut at `cuts`; null if the decoder refused it. */
function decodeInPieces(text: string, cuts: number[]): Buffer | null {
  const decoder = new Base64StreamDecoder();
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    const part = decoder.decode(Buffer.from(text.slice(at, cut), 'latin1'));
    if (part === null) return null;
    out.push(part);
    at = cut;
  }
  assert.equal(decoder.pendingBytes, 0, 'a whole body leaves nothing pending');
  return Buffer.concat(out);
}

test(`base64 bodies decode the same however they are split, padding mid-body included (seed ${SEED})`, () => {
  const random = seededRandom(SEED);
  for (let round = 0; round < 40; round++) {
    // One to three pieces, each base64-encoded on its own (so padded), as clients may send them.
    const pieces = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
      randomBytes(random, Math.floor(random() * 40)),
    );
    const text = pieces.map((p) => p.toString('base64')).join('');
    const expected = Buffer.concat(pieces);
    for (let cut = 0; cut <= text.length; cut++) {
      const second = cut + Math.floor(random() * (text.length - cut + 1));
      const got = decodeInPieces(text, [cut, second]);
      assert.ok(got?.equals(expected), `seed ${SEED} round ${round} cuts ${cut},${second}: ${text}`);
    }
  }
});

test('what is not base64 is refused, wherever it falls', () => {
  for (const bad of ['AAA*', 'AA=A', 'A===', '=AAA', 'AAAA-_AA', 'AA\r\nAA', 'AAAA AAA']) {
    for (let cut = 0; cut <= bad.length; cut++)
      assert.equal(decodeInPieces(bad, [cut]), null, `${JSON.stringify(bad)} cut at ${cut}`);
  }
});

function grpcFrames(random: () => number, count: number): Buffer[] {
  return Array.from({ length: count }, () => {
    const payload = randomBytes(random, Math.floor(random() * 30));
    const header = Buffer.alloc(5);
    header.writeUInt32BE(payload.length, 1);
    return Buffer.concat([header, payload]);
  });
}

test(`response frames are base64-encoded one by one however the body is split (seed ${SEED})`, () => {
  const random = seededRandom(SEED + 1);
  for (let round = 0; round < 30; round++) {
    const frames = grpcFrames(random, 1 + Math.floor(random() * 4));
    const body = Buffer.concat(frames);
    const expected = frames.map((f) => f.toString('base64')).join('');
    for (let cut = 0; cut <= body.length; cut++) {
      const encoder = new Base64FrameEncoder();
      const text =
        encoder.encode(body.subarray(0, cut)) + encoder.encode(body.subarray(cut)) + encoder.flush();
      assert.equal(text, expected, `seed ${SEED} round ${round} cut ${cut}`);
    }
  }
});

test('an incomplete frame at the end of a response is encoded as it is, not lost', () => {
  const encoder = new Base64FrameEncoder();
  assert.equal(encoder.encode(Buffer.from([0, 0, 0, 0, 9, 1, 2])), '');
  assert.equal(encoder.flush(), Buffer.from([0, 0, 0, 0, 9, 1, 2]).toString('base64'));
});

test('the trailers frame: flag 0x80, the length, name:value lines', () => {
  const trailers = new HeaderMap();
  trailers.add('grpc-status', '0');
  trailers.add('grpc-message', 'ok');
  const frame = trailersFrame(trailers);
  assert.equal(frame[0], TRAILERS_FRAME_FLAG);
  assert.equal(frame.readUInt32BE(1), frame.length - 5);
  assert.equal(frame.subarray(5).toString(), 'grpc-status:0\r\ngrpc-message:ok\r\n');
});
