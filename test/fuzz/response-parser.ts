/**
 * Split-point and mutation fuzzing of the upstream response parser (Legate's client codec on
 * llhttp). Each iteration mutates a response from a corpus of valid and malformed ones and feeds it
 * in-process, whole and cut at random points, to a client connection with one GET (or HEAD)
 * outstanding; then the upstream closes. Properties:
 *
 * - no crash, and no hang: once the upstream has closed, the stream is complete or reset;
 * - the same events (1xx, status, headers, body bytes, trailers, reset, reuse) whatever the split;
 * - no wrong bytes: a response the codec completes must read the same (status, body, trailers) with
 *   a strict RFC 9112 reader (taking a recipient's allowances); a response that reader rejects
 *   never completes as a 2xx.
 *
 * `responsesThroughProxyFuzzer` sends sampled responses from a raw origin through a real `legate`:
 * the client gets the same status and body bytes, or a 502/503, or a reset; never a complete 2xx
 * whose bytes differ.
 */
import { createClientConnection } from '../../src/http/client-connection';
import type { ResponseDecoder, ResponseHead, StreamResetReason } from '../../src/http/codec';
import { HeaderMap } from '../../src/http/header-map';
import { catchAllYaml, startLegate } from '../integration/harness';
import { readResponse } from '../support/http1-wire';
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

const RESPONSE_CORPUS: string[] = [
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n',
  'HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 99\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nold!',
  'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 404 Not Found Here\r\nContent-Length: 9\r\n\r\nnot found',
  'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n',
  // Malformed or smuggling-shaped: these must end as an error, never as a response with other bytes.
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot chunked',
  'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
  'HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno',
  'HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok',
];

/** What the codec told its decoder and its pool, compared across splits. */
export interface ResponseParse {
  informational: number[];
  status: number | null;
  headers: [string, string][];
  headEndStream: boolean;
  body: string;
  trailers: [string, string][] | null;
  complete: boolean;
  reset: StreamResetReason | null;
  /**
   * The connection went back for reuse and was still open once every byte had arrived. (Whether
   * bytes after the response make the codec refuse reuse at once or close the idle connection when
   * they arrive depends on the split; either way it is not reused.)
   */
  keptForReuse: boolean;
}

class Recorder implements ResponseDecoder {
  readonly parse: ResponseParse = {
    informational: [],
    status: null,
    headers: [],
    headEndStream: false,
    body: '',
    trailers: null,
    complete: false,
    reset: null,
    keptForReuse: false,
  };
  /** onStreamComplete's verdict, null until called. */
  reusable: boolean | null = null;
  decode1xxHeaders(head: ResponseHead): void {
    this.parse.informational.push(head.status);
  }
  decodeHeaders(head: ResponseHead, endStream: boolean): void {
    this.parse.status = head.status;
    this.parse.headers = head.headers.names.map((n, i) => [n, head.headers.values[i]!]);
    this.parse.headEndStream = endStream;
    if (endStream) this.parse.complete = true;
  }
  decodeData(data: Buffer, endStream: boolean): void {
    this.parse.body += data.toString('latin1');
    if (endStream) this.parse.complete = true;
  }
  decodeTrailers(trailers: HeaderMap): void {
    this.parse.trailers = trailers.names.map((n, i) => [n, trailers.values[i]!]);
    this.parse.complete = true;
  }
  onResetStream(reason: StreamResetReason): void {
    this.parse.reset = reason;
  }
  onAboveWriteBufferHighWatermark(): void {}
  onBelowWriteBufferLowWatermark(): void {}
}

/** Feeds `pieces` as the answer to one `method` request on a fresh client codec, then closes. */
export async function parseResponse(pieces: Buffer[], method: string): Promise<ResponseParse> {
  const socket = new FakeSocket();
  const recorder = new Recorder();
  const connection = createClientConnection(socket.asSocket(), {
    onStreamComplete: (reusable) => (recorder.reusable = reusable),
    onClose: () => {},
  });
  const headers = new HeaderMap();
  headers.add('host', 'fuzz');
  connection.newStream(recorder).encodeHeaders(
    {
      method,
      path: '/',
      protocol: 'HTTP/1.1',
      headers,
      keepAlive: true,
      contentLength: -1,
      chunked: false,
      upgrade: false,
    },
    -1,
    true,
  );
  try {
    for (const piece of pieces) {
      socket.feed(piece);
      await settle(1);
    }
    recorder.parse.keptForReuse = recorder.reusable === true && !socket.destroyed;
    socket.peerEnd();
    await settle(2);
    return recorder.parse;
  } finally {
    socket.destroy();
    await settle(1);
  }
}

export function responseInput(rng: Random): { input: Buffer; method: string } {
  const method = rng.chance(0.1) ? 'HEAD' : 'GET';
  return { input: mutate(Buffer.from(rng.pick(RESPONSE_CORPUS), 'latin1'), rng), method };
}

/** Checks one input; returns the properties it breaks. */
export async function checkResponseInput(
  input: Buffer,
  pieces: Buffer[],
  method: string,
  outcome: (name: string) => void,
): Promise<{ property: string; detail: string }[]> {
  const problems: { property: string; detail: string }[] = [];
  const whole = await parseResponse([input], method);
  outcome(whole.reset !== null ? 'reset' : whole.complete ? 'complete' : 'pending');
  const split = await parseResponse(pieces, method);
  const strict = readResponse(input, 0, method, true, true);
  if (strict.kind === 'ok' && /^[\r\n]+$/.test(input.toString('latin1', strict.value.length))) {
    // Only empty lines follow the response. Read with it, they make the codec refuse reuse; read
    // later, on the idle connection, llhttp skips them (as before any message). Both are safe.
    split.keptForReuse = whole.keptForReuse;
  }
  if (JSON.stringify(whole) !== JSON.stringify(split)) {
    problems.push({
      property: 'same parse whatever the split',
      detail: `whole ${JSON.stringify(whole)}, split ${JSON.stringify(split)}`,
    });
  }
  if (!whole.complete && whole.reset === null) {
    problems.push({
      property: 'no hang',
      detail: 'the upstream closed, the stream is neither complete nor reset',
    });
  }
  if (whole.complete && whole.reset === null && whole.status !== null) {
    const got = `${whole.status} body ${JSON.stringify(whole.body)} trailers ${JSON.stringify(whole.trailers ?? [])}`;
    if (strict.kind === 'ok') {
      const r = strict.value;
      const want = `${r.head.status} body ${JSON.stringify(r.body.data.toString('latin1'))} trailers ${JSON.stringify(r.body.trailers)}`;
      if (got !== want)
        problems.push({ property: 'no wrong bytes', detail: `codec ${got}, strict reader ${want}` });
    } else if (whole.status >= 200 && whole.status < 300) {
      problems.push({
        property: 'a malformed response never completes as a 2xx',
        detail: `codec ${got}, strict reader: ${strict.kind === 'error' ? strict.reason : 'incomplete'}`,
      });
    }
  }
  return problems;
}

export const responseParserFuzzer: Fuzzer = {
  name: 'response parser (client codec)',
  run: (options: FuzzOptions): Promise<FuzzReport> =>
    runIterations(
      'response parser (client codec)',
      options,
      async (i, rng, outcome): Promise<FuzzFailure[]> => {
        const { input, method } = responseInput(rng);
        const pieces = splitAtRandom(input, rng);
        const problems = await checkResponseInput(input, pieces, method, outcome);
        return problems.map((p) => ({
          iteration: i,
          ...p,
          detail: `${method}: ${p.detail}`,
          input: showBytes(input),
          split: pieces.map((x) => x.length),
        }));
      },
    ),
};

/**
 * Sampled responses through a real `legate`: a raw origin answers a GET with the fuzzed bytes and
 * closes. The client must get the response a strict reader reads (same status, same body bytes), or
 * a 502/503, or a cut-off; a response the strict reader rejects never reaches it as a complete 2xx.
 */
export const responsesThroughProxyFuzzer: Fuzzer = {
  name: 'response parser through the proxy',
  async run(options: FuzzOptions): Promise<FuzzReport> {
    let current: Buffer = Buffer.alloc(0);
    const origin = await startRawOrigin(async (_request, reply) => {
      await reply.write(current);
      reply.end();
    });
    const legate = await startLegate(catchAllYaml([origin.port], { routeExtra: 'timeout: 2s' }), {
      concurrency: 1,
    });
    const port = legate.ports.get('proxy')!;
    const request = Buffer.from('GET /fuzz HTTP/1.1\r\nHost: a\r\n\r\n', 'latin1');
    try {
      return await runIterations(this.name, options, async (i, rng, outcome) => {
        const { input } = responseInput(rng);
        current = input;
        const got = await sendAndCollect(port, [request], {
          idleMs: 100,
          maxMs: 3000,
          done: (r) => readResponse(r, 0, 'GET').kind === 'ok',
        });
        const received = readResponse(got.received, 0, 'GET', got.closed);
        if (received.kind !== 'ok') {
          outcome('cut off'); // a reset or a cut-off: allowed
          return [];
        }
        const status = received.value.head.status;
        if (status === 502 || status === 503) {
          outcome(String(status));
          return [];
        }
        outcome('relayed');
        const body = received.value.body.data.toString('latin1');
        const strict = readResponse(input, 0, 'GET', true, true);
        const fail = (property: string, detail: string): FuzzFailure[] => [
          { iteration: i, property, detail, input: showBytes(input) },
        ];
        if (strict.kind !== 'ok') {
          return status >= 200 && status < 300
            ? fail(
                'a malformed response never reaches the client as a complete 2xx',
                `client got ${status} with ${JSON.stringify(body.slice(0, 100))}`,
              )
            : [];
        }
        const want = strict.value;
        const wantBody = want.body.data.toString('latin1');
        if (status !== want.head.status || body !== wantBody) {
          return fail(
            'the client gets the bytes the origin sent',
            `client ${status} ${JSON.stringify(body.slice(0, 100))}, origin ${want.head.status} ${JSON.stringify(wantBody.slice(0, 100))}`,
          );
        }
        return [];
      });
    } finally {
      await legate.stop();
      await origin.close();
    }
  },
};
