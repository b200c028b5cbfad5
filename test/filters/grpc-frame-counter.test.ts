/** grpc_stats' message counter over every split of seeded random gRPC bodies (the seed is printed on failure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcFrameCounter } from '../../src/filters/http/grpc-stats/frame-counter';
import { serviceMethodOf } from '../../src/filters/http/grpc-stats/filter';
import { seededRandom } from '../upstream/helpers';

const SEED = Number(process.env.LEGATE_FUZZ_SEED ?? Date.now() % 100_000);

test(`messages are counted once each however the body is split (seed ${SEED})`, () => {
  const random = seededRandom(SEED);
  for (let round = 0; round < 40; round++) {
    const count = Math.floor(random() * 5);
    const frames = Array.from({ length: count }, () => {
      // Lengths up to 300 so the length's second-lowest byte is used too.
      const frame = Buffer.alloc(5 + Math.floor(random() * 300), 7);
      frame[0] = 0;
      frame.writeUInt32BE(frame.length - 5, 1);
      return frame;
    });
    const body = Buffer.concat(frames);
    for (let a = 0; a <= body.length; a += 1 + Math.floor(random() * 3)) {
      const b = a + Math.floor(random() * (body.length - a + 1));
      const counter = new GrpcFrameCounter();
      const seen = [body.subarray(0, a), body.subarray(a, b), body.subarray(b)].reduce(
        (n, part) => n + counter.inspect(part),
        0,
      );
      assert.equal(seen, count, `seed ${SEED} round ${round} cuts ${a},${b}`);
      assert.equal(counter.count, count);
    }
  }
});

test("a gRPC path's service and method, as Envoy resolves them", () => {
  assert.equal(serviceMethodOf('/helloworld.Greeter/SayHello'), 'helloworld.Greeter/SayHello');
  assert.equal(serviceMethodOf('/helloworld.Greeter/SayHello?x=1'), 'helloworld.Greeter/SayHello');
  assert.equal(serviceMethodOf('/a/b/c'), null);
  assert.equal(serviceMethodOf('/only'), null);
});
