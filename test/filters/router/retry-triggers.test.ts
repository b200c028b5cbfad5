/**
 * Retries decided on how an attempt failed without a response: every retry_on condition × failure
 * (reset before or after the response headers, connect failure, connect timeout, pool overflow,
 * per-try timeout) × what the retry does. The expectations are Envoy's
 * (RetryStateImpl::wouldRetryFromReset): resets and connect failures are retried under `reset`,
 * `5xx` and `gateway-error`, connect failures also under `connect-failure`, a per-try timeout (a
 * local reset) under `reset`, `5xx` and `gateway-error`, an overflow never; nothing is retried once
 * the response has started.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FilterHarness, HarnessStream } from '../harness/filter-harness';
import type { FakeUpstreamStream } from '../harness/fake-upstream';
import { retryPolicy, routerHarness, settledViolations, withHarness } from './fixtures';

const RESET_BEFORE_HEADERS = 'upstream connect error or disconnect/reset before headers. reset reason: ';

interface Failure {
  /** Which retry_on conditions retry it (Envoy). */
  retriedBy: string[];
  /** Makes the attempt fail; returns whether the router got a response head first. */
  fail(h: FilterHarness, up: FakeUpstreamStream): void;
  /** What the client gets when it is not retried (or the retry fails the same way). */
  reply: { status: number; body: string; flag: string } | 'reset-after-headers';
  /** The attempt's stream ends in this state. */
  attemptState: string;
}

const ALL = ['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 'retriable-status-codes'];

const FAILURES: Record<string, Failure> = {
  'reset before headers (remote reset)': {
    retriedBy: ['5xx', 'gateway-error', 'reset'],
    fail: (_h, up) => up.attach().reset('remote_reset'),
    reply: { status: 503, body: RESET_BEFORE_HEADERS + 'remote reset', flag: 'UR' },
    attemptState: 'complete',
  },
  'reset before headers (connection termination)': {
    retriedBy: ['5xx', 'gateway-error', 'reset'],
    fail: (_h, up) => up.attach().reset('connection_termination'),
    reply: { status: 503, body: RESET_BEFORE_HEADERS + 'connection termination', flag: 'UC' },
    attemptState: 'complete',
  },
  'connect failure': {
    retriedBy: ['5xx', 'gateway-error', 'reset', 'connect-failure'],
    fail: (_h, up) => up.failPool('connection_failure'),
    reply: { status: 503, body: RESET_BEFORE_HEADERS + 'connection failure', flag: 'UF' },
    attemptState: 'failed',
  },
  'connect timeout': {
    retriedBy: ['5xx', 'gateway-error', 'reset', 'connect-failure'],
    fail: (_h, up) => up.failPool('timeout', 'connect timeout after 1000 ms'),
    reply: { status: 503, body: RESET_BEFORE_HEADERS + 'connection timeout', flag: 'UF' },
    attemptState: 'failed',
  },
  'pool overflow': {
    retriedBy: [],
    fail: (_h, up) => up.failPool('overflow', 'too many requests waiting for a connection'),
    reply: { status: 503, body: RESET_BEFORE_HEADERS + 'overflow', flag: 'UO' },
    attemptState: 'failed',
  },
  'per-try timeout': {
    retriedBy: ['5xx', 'gateway-error', 'reset'],
    fail: (h, up) => {
      up.attach();
      h.time.advance(99);
      if (up.state !== 'attached') throw new Error('the per-try timeout fired early');
      h.time.advance(1);
    },
    reply: { status: 504, body: 'upstream request timeout', flag: 'UT' },
    attemptState: 'reset-by-router',
  },
  'reset after the response headers': {
    retriedBy: [],
    fail: (_h, up) => {
      up.attach().headers(200, { 'content-length': '10' });
      up.data('part');
      up.reset('remote_reset');
    },
    reply: 'reset-after-headers',
    attemptState: 'complete',
  },
};

function outcomeDiff(s: HarnessStream, failure: Failure): string[] {
  const out: string[] = [];
  if (failure.reply === 'reset-after-headers') {
    if (s.status !== 200 || s.body.toString() !== 'part')
      out.push(`client got ${s.status} ${JSON.stringify(s.body.toString())}`);
    if (s.resetStreamCalls !== 1) out.push(`resetStream called ${s.resetStreamCalls} times, want 1`);
    if (!s.flags.includes('UR')) out.push(`flags ${s.flags.join(',')} lack UR`);
    return out;
  }
  const want = failure.reply;
  const local = s.localReplies[0];
  if (s.localReplies.length !== 1 || local === undefined)
    return [`${s.localReplies.length} local replies, want 1`];
  if (local.status !== want.status) out.push(`local reply ${local.status}, want ${want.status}`);
  if (local.body !== want.body)
    out.push(`body ${JSON.stringify(local.body)}, want ${JSON.stringify(want.body)}`);
  if (!s.flags.includes(want.flag)) out.push(`flags ${s.flags.join(',')} lack ${want.flag}`);
  if (s.body.toString() !== want.body) out.push('the client did not get the local reply body');
  return out;
}

function runCell(h: FilterHarness, retryOn: string, failure: Failure, retryFails: boolean): string[] {
  h.resetCounters();
  const s = h.stream();
  s.request({ path: '/x' });
  const first = h.upstreams.next();
  failure.fail(h, first);
  const fail: string[] = [];
  if (first.state !== failure.attemptState)
    fail.push(`the attempt ended ${first.state}, want ${failure.attemptState}`);
  const retried = failure.retriedBy.includes(retryOn);
  if (!retried) {
    fail.push(...outcomeDiff(s, failure));
    h.time.advance(1000);
    if (h.upstreams.waiting() !== 0) fail.push('retried a failure its retry_on does not cover');
    if (s.flags.includes('URX')) fail.push('URX without a retry');
    return [...fail, ...settledViolations(h)];
  }
  if (s.response !== null) fail.push('the client got a response before the retry');
  h.time.advance(50);
  if (h.upstreams.waiting() !== 1)
    return [...fail, `${h.upstreams.waiting()} retries after the back-off, want 1`];
  const retry = h.upstreams.next();
  if (retryFails) {
    failure.fail(h, retry);
    fail.push(...outcomeDiff(s, failure));
    if (!s.flags.includes('URX')) fail.push(`flags ${s.flags.join(',')} lack URX (retries used up)`);
  } else {
    retry.attach().respond({ status: 200, body: 'fine' });
    if (s.status !== 200 || s.body.toString() !== 'fine')
      fail.push(`after the retry the client got ${s.status} ${JSON.stringify(s.body.toString())}`);
    if (s.flags.length !== 0) fail.push(`flags ${s.flags.join(',')} on a successful retry`);
  }
  h.time.advance(1000);
  if (h.upstreams.waiting() !== 0) fail.push('retried more than num_retries: 1');
  if (h.stat('cluster.o.upstream_rq_retry') !== 1)
    fail.push(`upstream_rq_retry ${h.stat('cluster.o.upstream_rq_retry')}`);
  return [...fail, ...settledViolations(h)];
}

for (const retryOn of ALL) {
  test(`retry_on: ${retryOn}: each way an attempt fails, retried or answered as Envoy does`, () => {
    const fields =
      retryOn === 'retriable-status-codes'
        ? 'retriable_status_codes: [503], per_try_timeout: 0.1s'
        : 'per_try_timeout: 0.1s';
    const failures: string[] = [];
    withHarness(routerHarness(retryPolicy(retryOn, fields)), (h) => {
      for (const [name, failure] of Object.entries(FAILURES)) {
        for (const retryFails of [false, true]) {
          const f = runCell(h, retryOn, failure, retryFails);
          if (f.length > 0)
            failures.push(`${name}, retry ${retryFails ? 'fails the same' : 'succeeds'}: ${f.join('; ')}`);
        }
      }
    });
    assert.deepEqual(failures, []);
  });
}

test('per-try timeout: upstream_rq_per_try_timeout, and the stuck attempt is reset before the retry starts', () => {
  withHarness(routerHarness(retryPolicy('5xx', 'per_try_timeout: 0.2s')), (h) => {
    const s = h.stream();
    s.request();
    const first = h.upstreams.next().attach();
    h.time.advance(200);
    assert.equal(first.state, 'reset-by-router');
    assert.equal(first.resetReason, 'local_reset');
    assert.equal(h.stat('cluster.o.upstream_rq_per_try_timeout'), 1);
    h.time.advance(50);
    const second = h.upstreams.next().attach();
    // The retry has its own per-try budget, counted from its start.
    h.time.advance(150);
    second.respond({ status: 200, body: 'late but in time' });
    assert.equal(s.body.toString(), 'late but in time');
    assert.equal(h.stat('cluster.o.upstream_rq_timeout'), 0);
  });
});
