/**
 * Retries decided on the response status, enumerated: every retry_on condition × response status ×
 * response shape (framing, body or none, HEAD) × what the retry answers. The expectations are
 * Envoy's (RetryStateImpl::wouldRetryFromHeaders): the status alone decides, whether or not the
 * response has a body; a response that is not retried reaches the client byte for byte.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HeaderMap } from '../../../src/http/header-map';
import type { FilterHarness, HarnessStream } from '../harness/filter-harness';
import type { ResponseShape } from '../harness/fake-upstream';
import {
  RESPONSE_SHAPES,
  expectedRelay,
  retryPolicy,
  routerHarness,
  settledViolations,
  withHarness,
} from './fixtures';

const STATUSES = [200, 204, 304, 404, 409, 500, 502, 503, 504];
const RETRIABLE_CODES = [404, 304];

/** Envoy's rule: which statuses each retry_on condition retries. */
const RETRIES_STATUS: Record<string, (status: number) => boolean> = {
  '5xx': (s) => s >= 500,
  'gateway-error': (s) => s >= 502 && s <= 504,
  reset: () => false,
  'connect-failure': () => false,
  'retriable-4xx': (s) => s === 409,
  'retriable-status-codes': (s) => RETRIABLE_CODES.includes(s),
};

const SECOND_ATTEMPT = {
  'succeeds (200)': (): ResponseShape => ({ status: 200, body: 'fine' }),
  'answers the same': null,
} as const;

function trailersText(t: HeaderMap | null): string | null {
  if (t === null) return null;
  return JSON.stringify(Object.fromEntries(t.names.map((n, i) => [n, t.values[i]!])));
}

/** Compares what the client got with what `shape` should relay to; returns the differences. */
function relayDiff(s: HarnessStream, shape: ResponseShape, method: string): string[] {
  const want = expectedRelay(shape, method);
  const r = s.response;
  if (r === null) return ['the client got no response'];
  const out: string[] = [];
  if (r.head.status !== want.status) out.push(`status ${r.head.status}, want ${want.status}`);
  if (s.body.toString() !== want.body)
    out.push(`body ${JSON.stringify(s.body.toString())}, want ${JSON.stringify(want.body)}`);
  if (r.contentLength !== want.contentLength)
    out.push(`content length ${r.contentLength}, want ${want.contentLength}`);
  if (trailersText(r.trailers) !== want.trailers)
    out.push(`trailers ${trailersText(r.trailers)}, want ${want.trailers}`);
  if (!r.ended) out.push('the response never ended');
  if (s.localReplies.length > 0) out.push(`local reply ${s.localReplies[0]!.status}`);
  return out;
}

/** One cell on a harness shared by its row; returns its failures (empty when it behaves as Envoy). */
function runCell(
  h: FilterHarness,
  retryOn: string,
  status: number,
  shapeName: string,
  method: string,
  second: keyof typeof SECOND_ATTEMPT,
): string[] {
  h.resetCounters();
  const shape = RESPONSE_SHAPES[shapeName]!(status);
  const s = h.stream();
  s.request({ method });
  const first = h.upstreams.next().attach();
  first.respond(shape);
  const retried = RETRIES_STATUS[retryOn]!(status);
  const fail: string[] = [];
  if (!retried) {
    fail.push(...relayDiff(s, shape, method));
    h.time.advance(1000);
    if (h.upstreams.waiting() !== 0) fail.push('retried a response its retry_on does not cover');
    if (first.state !== 'complete') fail.push(`the relayed attempt ended ${first.state}, want complete`);
    if (h.stat('cluster.o.upstream_rq_retry') !== 0) fail.push('upstream_rq_retry counted');
    return [...fail, ...settledViolations(h)];
  }
  if (s.response !== null) fail.push(`the retriable ${status} reached the client`);
  // A response that ended at its headers leaves the connection reusable; one with a body still
  // coming is reset (Envoy: "if (!end_stream || !encodeComplete) resetStream()").
  const endedAtHeaders =
    first.requestHead?.method === 'HEAD' ||
    [204, 304].includes(status) ||
    expectedRelay(shape, method).contentLength === 0;
  const wantState = endedAtHeaders ? 'complete' : 'reset-by-router';
  if (first.state !== wantState) fail.push(`the retried attempt ended ${first.state}, want ${wantState}`);
  if (h.upstreams.waiting() !== 0) fail.push('retried before the back-off');
  h.time.advance(50); // default back-off: base 25 ms, jitter 0.5 → 12 ms, on the next wheel tick
  if (h.upstreams.waiting() !== 1)
    return [...fail, `${h.upstreams.waiting()} retries after the back-off, want 1`];
  const retry = h.upstreams.next().attach();
  if (retry.requestHead?.method !== method) fail.push(`the retry was a ${retry.requestHead?.method}`);
  const answer = SECOND_ATTEMPT[second]?.() ?? shape;
  retry.respond(answer);
  fail.push(...relayDiff(s, answer, method));
  h.time.advance(1000);
  if (h.upstreams.waiting() !== 0) fail.push('retried more than num_retries: 1');
  if (h.stat('cluster.o.upstream_rq_retry') !== 1)
    fail.push(`upstream_rq_retry ${h.stat('cluster.o.upstream_rq_retry')}, want 1`);
  const success = second === 'succeeds (200)' ? 1 : 0;
  if (h.stat('cluster.o.upstream_rq_retry_success') !== success)
    fail.push(`upstream_rq_retry_success ${h.stat('cluster.o.upstream_rq_retry_success')}, want ${success}`);
  // Envoy flags a response relayed because the retries ran out URX (UpstreamRetryLimitExceeded).
  const wantFlags = second === 'answers the same' ? ['URX'] : [];
  if (JSON.stringify(s.flags) !== JSON.stringify(wantFlags))
    fail.push(`flags ${s.flags.join(',')}, want ${wantFlags.join(',')}`);
  return [...fail, ...settledViolations(h)];
}

for (const retryOn of Object.keys(RETRIES_STATUS)) {
  test(`retry_on: ${retryOn}: status × shape × HEAD/GET × second attempt, each as Envoy decides`, () => {
    const fields =
      retryOn === 'retriable-status-codes' ? `retriable_status_codes: [${RETRIABLE_CODES.join(', ')}]` : '';
    const failures: string[] = [];
    let cells = 0;
    withHarness(routerHarness(retryPolicy(retryOn, fields)), (h) => {
      for (const status of STATUSES) {
        for (const shapeName of Object.keys(RESPONSE_SHAPES)) {
          for (const method of ['GET', 'HEAD']) {
            for (const second of Object.keys(SECOND_ATTEMPT) as (keyof typeof SECOND_ATTEMPT)[]) {
              cells++;
              const f = runCell(h, retryOn, status, shapeName, method, second);
              if (f.length > 0)
                failures.push(`${status} ${shapeName}, ${method}, retry ${second}: ${f.join('; ')}`);
            }
          }
        }
      }
    });
    assert.equal(cells, STATUSES.length * Object.keys(RESPONSE_SHAPES).length * 4);
    assert.deepEqual(failures, [], `${failures.length} of ${cells} cells differ from Envoy`);
  });
}
