/**
 * Split-point and mutation fuzzing of the downstream request parser (Legate's server codec on
 * llhttp). Each iteration takes requests from a corpus of valid and smuggling-shaped ones, mutates
 * them, and feeds them to the codec in-process twice: whole, and cut at random points. Properties:
 *
 * - no crash, and no hang: a complete request is answered or the connection is closed;
 * - the same requests, the same answers and the same close whatever the split;
 * - nothing accepted that a strict RFC 9112 reader (`http1-wire.ts`) rejects: every request the
 *   codec hands on must parse there to the same method, target, version and body.
 *
 * `checkThroughProxy` runs sampled inputs through a real `legate` to a recording origin: the origin
 * never sees invalid bytes, and never a complete request the proxy answered itself.
 */
import { createServerConnection, DEFAULT_SERVER_CODEC_OPTIONS } from '../../src/http/server-connection';
import { tunnelMayFollow, type ServerConnectionCallbacks } from '../../src/http/codec';
import { RecordedStream } from '../http/helpers';
import { catchAllYaml, startLegate } from '../integration/harness';
import { readRequest, readResponse } from '../support/http1-wire';
import { sendAndCollect } from '../support/raw-client';
import { startRawOrigin } from '../support/raw-origin';
import { FakeSocket, settle } from './fake-socket';
import { mutate, splitAtRandom } from './http1-mutate';
import type { Random } from './random';
import {
  runIterations,
  showBytes,
  type FuzzFailure,
  type FuzzOptions,
  type FuzzReport,
  type Fuzzer,
} from './fuzzer';

const REQUEST_CORPUS: string[] = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /path?q=1&r=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fuzz/1\r\nAccept: */*\r\nX-Empty:\r\n\r\n',
  'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world',
  'PUT /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n',
  'POST /trailers HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n',
  'HEAD /h HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n',
  'GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET http://a/abs HTTP/1.1\r\nHost: a\r\n\r\n',
  'DELETE /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n',
  'POST /expect HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
  'GET /close HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  // Smuggling-shaped: every one of these must be refused or read exactly one way.
  'POST /clte HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
  'POST /tecl HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n1\r\nA\r\n0\r\n\r\n',
  'POST /clcl HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde',
  'POST /te-gzip HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  'POST /te-fold HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n',
  'POST /te-space HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
  'GET /lf HTTP/1.1\nHost: a\n\n',
  'POST /chunk-size HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n',
  'POST /chunk-big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nx\r\n0\r\n\r\n',
  'GET /nul HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n',
  'GET  /two-spaces HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n',
];

/** What the codec did with the bytes, in a form compared across splits. */
export interface RequestParse {
  requests: {
    method: string;
    path: string;
    versionMinor: number;
    headers: [string, string][];
    body: string;
    trailers: [string, string][] | null;
    complete: boolean;
    reset: string | null;
  }[];
  /** Everything written back (responses, local replies), latin1. */
  output: string;
  /** The codec ended or destroyed the connection. */
  closed: boolean;
}

/** Feeds `pieces` (one read each) to a fresh server codec whose owner answers 200 `ok` at once. */
export async function parseRequests(pieces: Buffer[]): Promise<RequestParse> {
  const socket = new FakeSocket();
  const streams: RecordedStream[] = [];
  const callbacks: ServerConnectionCallbacks = {
    newStream(encoder) {
      // A bodiless upgrade's stream ends only once its response does: it is answered at its head.
      const stream = new RecordedStream(encoder, {
        onHeaders: (s) => {
          if (tunnelMayFollow(s.head!)) s.respond(200, 'ok');
        },
        onComplete: (s) => {
          if (!tunnelMayFollow(s.head!)) s.respond(200, 'ok');
        },
      });
      streams.push(stream);
      return stream;
    },
    onConnectionClose() {},
  };
  createServerConnection(socket.asSocket(), callbacks, {
    ...DEFAULT_SERVER_CODEC_OPTIONS,
    acceptHttp10: true,
  });
  try {
    for (const piece of pieces) {
      socket.feed(piece);
      await settle(1);
    }
    // Pipelined requests wait for each response: let every queued read be parsed.
    for (let i = 0; i < 50 && !socket.drained && !socket.destroyed; i++) await settle(1);
    await settle(2);
    return {
      requests: streams.map((s) => ({
        method: s.head!.method,
        path: s.head!.path,
        versionMinor: s.head!.protocol === 'HTTP/1.0' ? 0 : 1,
        headers: s.head!.headers.names.map((n, i) => [n, s.head!.headers.values[i]!]),
        body: s.bodyText,
        trailers: s.trailers === null ? null : s.trailers.names.map((n, i) => [n, s.trailers!.values[i]!]),
        complete: s.ended,
        reset: s.reset,
      })),
      output: socket.output.toString('latin1'),
      closed: socket.ended || socket.destroyed,
    };
  } finally {
    socket.destroy();
    await settle(1);
  }
}

/** Input of iteration `rng`: one or two corpus requests (pipelined), mutated. */
export function requestInput(rng: Random): Buffer {
  let text = rng.pick(REQUEST_CORPUS);
  if (rng.chance(0.3)) text += rng.pick(REQUEST_CORPUS);
  return mutate(Buffer.from(text, 'latin1'), rng);
}

/**
 * Requests a strict reader finds at the start of `input`, in order, up to the first that is
 * incomplete or invalid; `rest` says which ended the list. The reader takes RFC 9112's allowances
 * for recipients (empty lines before a request, runs of spaces in the request-line): llhttp does too,
 * and Legate writes its own request-line upstream, so they cannot desynchronise anything.
 */
export function strictRequests(input: Buffer): {
  requests: { method: string; target: string; versionMinor: number; body: string }[];
  rest: 'none' | 'incomplete' | 'invalid';
} {
  const requests: { method: string; target: string; versionMinor: number; body: string }[] = [];
  let offset = 0;
  while (offset < input.length) {
    const parsed = readRequest(input, offset, true);
    if (parsed.kind !== 'ok') return { requests, rest: parsed.kind === 'error' ? 'invalid' : 'incomplete' };
    const { head, body } = parsed.value;
    requests.push({
      method: head.method,
      target: head.target,
      versionMinor: head.versionMinor,
      body: body.data.toString('latin1'),
    });
    offset += parsed.value.length;
  }
  return { requests, rest: 'none' };
}

/** Checks one input; returns the properties it breaks. */
export async function checkRequestInput(
  input: Buffer,
  pieces: Buffer[],
  outcome: (name: string) => void,
): Promise<{ property: string; detail: string }[]> {
  const problems: { property: string; detail: string }[] = [];
  const whole = await parseRequests([input]);
  const accepted = whole.requests.filter((r) => r.complete && r.reset === null).length;
  outcome(whole.closed ? `closed after ${accepted} accepted` : `${accepted} accepted`);
  const split = await parseRequests(pieces);
  if (JSON.stringify(whole) !== JSON.stringify(split)) {
    problems.push({ property: 'same parse whatever the split', detail: firstDifference(whole, split) });
  }
  const strict = strictRequests(input);
  whole.requests.forEach((r, i) => {
    if (!r.complete || r.reset !== null) return;
    const s = strict.requests[i];
    const got = `${r.method} ${r.path} HTTP/1.${r.versionMinor} body ${JSON.stringify(r.body)}`;
    if (s === undefined) {
      problems.push({
        property: 'accepts only what a strict reader accepts',
        detail: `request ${i} ${got}: strict reader finds it ${strict.rest}`,
      });
    } else if (`${s.method} ${s.target} HTTP/1.${s.versionMinor} body ${JSON.stringify(s.body)}` !== got) {
      problems.push({
        property: 'reads requests as a strict reader does',
        detail: `request ${i}: codec ${got}, strict ${s.method} ${s.target} body ${JSON.stringify(s.body)}`,
      });
    }
  });
  const answered = whole.requests.filter((r) => r.complete).length;
  if (strict.rest === 'none' && !whole.closed && answered < strict.requests.length) {
    problems.push({
      property: 'no hang',
      detail: `${strict.requests.length} complete requests, ${answered} answered, connection open`,
    });
  }
  return problems;
}

function firstDifference(a: RequestParse, b: RequestParse): string {
  if (a.requests.length !== b.requests.length)
    return `${a.requests.length} requests whole, ${b.requests.length} split`;
  for (let i = 0; i < a.requests.length; i++) {
    const x = JSON.stringify(a.requests[i]);
    const y = JSON.stringify(b.requests[i]);
    if (x !== y) return `request ${i}: whole ${x}, split ${y}`;
  }
  if (a.output !== b.output)
    return `output whole ${JSON.stringify(a.output)}, split ${JSON.stringify(b.output)}`;
  return `connection closed whole ${a.closed}, split ${b.closed}`;
}

export const requestParserFuzzer: Fuzzer = {
  name: 'request parser (server codec)',
  run: (options: FuzzOptions): Promise<FuzzReport> =>
    runIterations(
      'request parser (server codec)',
      options,
      async (i, rng, outcome): Promise<FuzzFailure[]> => {
        const input = requestInput(rng);
        const pieces = splitAtRandom(input, rng);
        const problems = await checkRequestInput(input, pieces, outcome);
        return problems.map((p) => ({
          iteration: i,
          ...p,
          input: showBytes(input),
          split: pieces.map((x) => x.length),
        }));
      },
    ),
};

const ORIGIN_MARK = 'x-origin: yes';

/** Responses in `received` that came from the origin (the proxy's own replies lack the mark). */
function originAnswers(received: Buffer): number {
  return received.toString('latin1').split(`\r\n${ORIGIN_MARK}\r\n`).length - 1;
}

/** Complete responses at the start of `received`, to requests with these methods. */
function completeResponses(received: Buffer, methods: string[]): number {
  let offset = 0;
  let n = 0;
  for (const method of methods) {
    const parsed = readResponse(received, offset, method);
    if (parsed.kind !== 'ok') break;
    offset += parsed.value.length;
    n++;
  }
  return n;
}

/**
 * uWS's documented limit (README, "uWS codec limits"): a request pipelined behind one answered
 * asynchronously closes the connection, and the first response is lost (the first request may be
 * one uWS reads its own documented way: the first of two Content-Lengths, any coding as chunked).
 * Only that shape is excused: one request reached the origin, nothing came back, the connection
 * closed, and the input holds a second request line.
 */
function uwsLostFirstAnswer(input: Buffer, closed: boolean, reached: number, answered: number): boolean {
  const requestLines = input.toString('latin1').match(/[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/g);
  return closed && reached === 1 && answered === 0 && (requestLines?.length ?? 0) >= 2;
}

/**
 * Sampled inputs through a real `legate` (downstream `codec`, the pass's native setting) to a raw
 * origin that records everything. Properties: the origin never receives invalid bytes; every request
 * it receives complete is answered to the client by the origin (so none the proxy answered itself
 * got through); and, with Legate's codec, it never receives more requests than that codec accepts
 * in-process. uWS can only be driven through real sockets, so this is its request-parser fuzzer.
 */
export function requestsThroughProxyFuzzer(codec: 'legate' | 'uws'): Fuzzer {
  const name = `request parser through the proxy (${codec} codec)`;
  return { name, run: (options) => runThroughProxy(name, codec, options) };
}

async function runThroughProxy(
  name: string,
  codec: 'legate' | 'uws',
  options: FuzzOptions,
): Promise<FuzzReport> {
  const origin = await startRawOrigin(async (request, reply) => {
    await request.body;
    await reply.write(`HTTP/1.1 200 OK\r\n${ORIGIN_MARK}\r\ncontent-length: 2\r\n\r\nok`);
  });
  const legate = await startLegate(catchAllYaml([origin.port], { routeExtra: 'timeout: 2s' }), {
    concurrency: 1,
    args: ['--http1-codec', codec],
  });
  const port = legate.ports.get('proxy')!;
  const completeAtOrigin = (from: number): number =>
    origin.requests.slice(from).filter((r) => r.bodySha256 !== undefined).length;
  try {
    return await runIterations(name, options, async (i, rng, outcome) => {
      const input = requestInput(rng);
      const pieces = splitAtRandom(input, rng);
      const accepted =
        codec === 'legate'
          ? (await parseRequests([input])).requests.filter((r) => r.complete && r.reset === null).length
          : Infinity;
      const strict = strictRequests(input);
      const methods = strict.rest === 'none' ? strict.requests.map((r) => r.method) : null;
      const exchange = async (idleMs: number) => {
        const before = { requests: origin.requests.length, violations: origin.violations.length };
        const got = await sendAndCollect(port, pieces, {
          idleMs,
          maxMs: 2000,
          done: methods === null ? undefined : (r) => completeResponses(r, methods) >= methods.length,
          quiet: (r) => originAnswers(r) >= completeAtOrigin(before.requests),
        });
        return { before, got };
      };
      let { before, got } = await exchange(100);
      if (completeAtOrigin(before.requests) !== originAnswers(got.received)) {
        // A request still inside the proxy when the client stopped listening (100 ms of quiet on a
        // loaded machine) reaches the origin too late to be answered: once more, with a second of
        // quiet, after the straggler had time to land. A lost answer is lost again.
        await new Promise((r) => setTimeout(r, 500));
        ({ before, got } = await exchange(1000));
      }
      const failures: FuzzFailure[] = [];
      const fail = (property: string, detail: string): void => {
        failures.push({
          iteration: i,
          property,
          detail: `${detail}; the client got ${JSON.stringify(got.received.toString('latin1').slice(0, 300))}`,
          input: showBytes(input),
          split: pieces.map((p) => p.length),
        });
      };
      for (const v of origin.violations.slice(before.violations))
        fail('the origin never receives invalid bytes', v);
      const reached = completeAtOrigin(before.requests);
      const answered = originAnswers(got.received);
      if (codec === 'uws' && uwsLostFirstAnswer(input, got.closed, reached, answered)) {
        outcome('uWS limit: pipelined, first answer lost');
      } else if (reached !== answered) {
        fail(
          'nothing the proxy answered itself reaches the origin',
          `${reached} requests reached the origin, ${answered} answers came from it`,
        );
      }
      if (reached > accepted) {
        fail(
          'forwards only what the codec accepts',
          `${reached} requests reached the origin, the codec accepts ${accepted}`,
        );
      }
      outcome(`${reached} reached the origin`);
      return failures;
    });
  } finally {
    await legate.stop();
    await origin.close();
  }
}
