import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TIMER_TICK_MS, TimerWheel, type TimeoutTarget } from '../../src/common/timer-wheel';

class Target implements TimeoutTarget {
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  firedAt: number[] = [];
  constructor(
    readonly name: string,
    private readonly clock: { now: number },
    readonly onFire: (self: Target) => void = () => {},
  ) {}
  onTimeout(): void {
    this.firedAt.push(this.clock.now);
    this.onFire(this);
  }
}

/** A wheel on a simulated clock, advanced tick by tick for `ms`. */
function simulated(): { wheel: TimerWheel; clock: { now: number }; advance(ms: number): void } {
  const clock = { now: 1_000_000 };
  const wheel = new TimerWheel(() => clock.now, 'manual');
  return {
    wheel,
    clock,
    advance(ms: number) {
      for (let t = 0; t < ms; t += TIMER_TICK_MS) {
        clock.now += TIMER_TICK_MS;
        wheel.tick();
      }
    },
  };
}

test('timeouts fire once, on the first tick at or after the deadline, up to past one revolution', () => {
  for (const ms of [1, 49, 50, 51, 120, 5_000, 12_799, 12_800, 12_801, 30_000, 300_000]) {
    const { wheel, clock, advance } = simulated();
    const start = clock.now;
    const t = new Target(`${ms} ms`, clock);
    wheel.arm(t, ms);
    assert.equal(wheel.size, 1);
    advance(ms + 3 * TIMER_TICK_MS);
    assert.equal(t.firedAt.length, 1, `${ms} ms fired ${t.firedAt.length} times`);
    const late = t.firedAt[0]! - start - ms;
    assert.ok(late >= 0 && late < TIMER_TICK_MS, `${ms} ms fired ${late} ms after its deadline`);
    assert.equal(wheel.size, 0);
    assert.equal(t.timerBucket, -1);
  }
});

test('disarm and re-arm from the head, middle and tail of a shared bucket', () => {
  const { wheel, clock, advance } = simulated();
  const targets = Array.from({ length: 5 }, (_, i) => new Target(`t${i}`, clock));
  for (const t of targets) wheel.arm(t, 100); // all in one bucket: t4 is the list's head
  wheel.disarm(targets[4]!); // head
  wheel.disarm(targets[2]!); // middle
  wheel.disarm(targets[0]!); // tail
  wheel.disarm(targets[0]!); // twice: nothing
  wheel.arm(targets[2]!, 1_000); // re-armed elsewhere
  assert.equal(wheel.size, 3);
  advance(200);
  assert.deepEqual(
    targets.map((t) => t.firedAt.length),
    [0, 1, 0, 1, 0],
  );
  advance(1_000);
  assert.deepEqual(
    targets.map((t) => t.firedAt.length),
    [0, 1, 1, 1, 0],
  );
  assert.equal(wheel.size, 0);
  for (const t of targets) assert.equal(t.timerPrev ?? t.timerNext, null, `${t.name} keeps no links`);
});

test('a callback may disarm or re-arm the other targets of the bucket that is firing, and itself', () => {
  const { wheel, clock, advance } = simulated();
  const later = new Target('later', clock);
  const victim = new Target('victim', clock);
  const repeater = new Target('repeater', clock, (self) => {
    if (self.firedAt.length < 3) wheel.arm(self, 100);
  });
  const killer = new Target('killer', clock, () => {
    wheel.disarm(victim);
    wheel.arm(later, 200);
  });
  // One bucket, fired from its head: the last armed first. killer fires before victim and later.
  for (const t of [later, victim, repeater, killer]) wheel.arm(t, 100);
  advance(150);
  assert.deepEqual(
    [killer, repeater, victim, later].map((t) => t.firedAt.length),
    [1, 1, 0, 0],
  );
  advance(1_000);
  assert.deepEqual(
    [killer, repeater, victim, later].map((t) => t.firedAt.length),
    [1, 3, 0, 1],
  );
  assert.equal(wheel.size, 0);
});

test('many targets with scattered deadlines: each fires once, in deadline order by tick', () => {
  const { wheel, clock, advance } = simulated();
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const fired: Target[] = [];
  const targets = Array.from({ length: 2_000 }, (_, i) => new Target(`t${i}`, clock, (t) => fired.push(t)));
  const deadline = new Map<Target, number>();
  for (const t of targets) {
    const ms = 1 + Math.floor(random() * 40_000);
    wheel.arm(t, ms);
    deadline.set(t, clock.now + ms);
  }
  // Cancel every third one.
  for (let i = 0; i < targets.length; i += 3) wheel.disarm(targets[i]!);
  advance(41_000);
  assert.equal(fired.length, targets.length - Math.ceil(targets.length / 3), `seed 12345`);
  for (const t of fired) {
    const late = t.firedAt[0]! - deadline.get(t)!;
    assert.ok(late >= 0 && late < TIMER_TICK_MS, `${t.name} fired ${late} ms late (seed 12345)`);
  }
  assert.equal(wheel.size, 0);
});
