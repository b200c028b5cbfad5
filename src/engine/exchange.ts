/**
 * The JS side of the exchange, the memory the native engine fills before each event it raises
 * (native-bindings/src/engine/exchange.c defines the same layout): a fixed control block of Int32 /
 * Float64 fields, and a data area holding a head's field spans and bytes, or an event's body bytes.
 *
 * A head's strings are cut from one latin1 string of its bytes (one native conversion per head,
 * then cheap V8 substrings), as the wasm wrapper does (src/http/llhttp.ts).
 */
import { isUpgradeRequest, type RequestHead, type ResponseHead } from '../http/codec';
import { HeaderMap } from '../http/header-map';
import type { LiveHeadFields } from '../http/h1-serialize';
import { latin1Slice } from '../http/latin1';

const X = {
  GENERATION: 0,
  HEAD_BYTES: 1,
  HEADER_COUNT: 2,
  METHOD_OR_STATUS: 3,
  VERSION_MAJOR: 4,
  VERSION_MINOR: 5,
  FLAGS: 6,
  URL_OFF: 7,
  URL_LEN: 8,
  REASON_OFF: 9,
  REASON_LEN: 10,
  BYTES_OFF: 11,
  REMOTE_LEN: 12,
  REMOTE_PORT: 13,
  LOCAL_LEN: 14,
  LOCAL_PORT: 15,
  TLS_LEN: 16,
  TLS_RESUMED: 17,
} as const;
const XF_CONTENT_LENGTH = 16;
const XF_PIPED_BYTES = 17;
const FLAG_KEEP_ALIVE = 1;
const FLAG_UPGRADE = 2;
const FLAG_CHUNKED = 4;

/** What the engine reports of a TLS connection's handshake (ACCEPTED on a TLS listener). */
export interface EngineTlsFacts {
  /** 'TLSv1.2', 'TLSv1.3'. */
  version: string;
  cipher: string;
  /** The key exchange group ('' when none was used, e.g. a resumption without one). */
  curve: string;
  /** SNI ('' without). */
  serverName: string;
  /** ALPN protocol agreed ('' without). */
  alpn: string;
  resumed: boolean;
}

export interface Addresses {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/**
 * Also the fields of the head the event being handled carries (`LiveHeadFields`): a head written
 * to the engine during that event names those it passes through unchanged rather than copying them
 * (see HeadWriter.nameFieldsOf); `endEvent` ends that, as the engine does when the event returns.
 */
export class Exchange implements LiveHeadFields {
  liveCount = 0;
  readonly names: string[] = [];
  readonly values: string[] = [];
  private readonly control32: Int32Array;
  private readonly control64: Float64Array;
  private generation = -1;
  private data: Buffer = Buffer.alloc(0);
  private data32: Int32Array = new Int32Array(0);
  /** The addresses of the last accepted connection (`addresses`). */
  private lastRemote = '';
  private lastLocal = '';

  constructor(
    control: ArrayBuffer,
    /** The engine's current data area (called again when the control block says it moved). */
    private readonly dataArea: () => ArrayBuffer,
    /** llhttp's method names by number. */
    private readonly methods: readonly string[],
  ) {
    this.control32 = new Int32Array(control);
    this.control64 = new Float64Array(control);
  }

  private refresh(): void {
    const generation = this.control32[X.GENERATION]!;
    if (generation === this.generation) return;
    this.generation = generation;
    const area = this.dataArea();
    this.data = Buffer.from(area);
    this.data32 = new Int32Array(area);
  }

  /** The head of the request an event carries; `keepAlive` is llhttp's verdict. */
  requestHead(): RequestHead {
    this.refresh();
    const x = this.control32;
    const { headers, text } = this.fields();
    const flags = x[X.FLAGS]!;
    const urlOff = x[X.URL_OFF]!;
    return {
      method: this.methods[x[X.METHOD_OR_STATUS]!] ?? '',
      path: text.slice(urlOff, urlOff + x[X.URL_LEN]!),
      protocol: x[X.VERSION_MINOR] === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
      headers,
      keepAlive: (flags & FLAG_KEEP_ALIVE) !== 0,
      contentLength: this.control64[XF_CONTENT_LENGTH]!,
      chunked: (flags & FLAG_CHUNKED) !== 0,
      upgrade: isUpgradeRequest((flags & FLAG_UPGRADE) !== 0, headers),
    };
  }

  /** The status of the response head an event carries, without building the head. */
  get status(): number {
    return this.control32[X.METHOD_OR_STATUS]!;
  }

  responseHead(): ResponseHead {
    this.refresh();
    const x = this.control32;
    const { headers, text } = this.fields();
    const reasonOff = x[X.REASON_OFF]!;
    return {
      status: x[X.METHOD_OR_STATUS]!,
      reason: text.slice(reasonOff, reasonOff + x[X.REASON_LEN]!),
      headers,
    };
  }

  /** Trailers: a field block with nothing else. */
  trailers(): HeaderMap {
    this.refresh();
    return this.fields().headers;
  }

  /** Body bytes of a data event: a view, valid only during the event (copy to keep). */
  body(length: number): Buffer {
    this.refresh();
    return this.data.subarray(0, length);
  }

  /** Body bytes moved natively by the pipe that just ended (RESPONSE_COMPLETE). */
  get pipedBytes(): number {
    return this.control64[XF_PIPED_BYTES]!;
  }

  addresses(): Addresses {
    this.refresh();
    const x = this.control32;
    const remoteLen = x[X.REMOTE_LEN]!;
    this.lastRemote = this.sameOrNew(this.lastRemote, 0, remoteLen);
    this.lastLocal = this.sameOrNew(this.lastLocal, remoteLen, remoteLen + x[X.LOCAL_LEN]!);
    return {
      remoteAddress: this.lastRemote,
      remotePort: x[X.REMOTE_PORT]!,
      localAddress: this.lastLocal,
      localPort: x[X.LOCAL_PORT]!,
    };
  }

  /** The TLS facts after the addresses (exchange.c lg_exchange_put_tls), during ACCEPTED of a TLS connection. */
  tlsFacts(): EngineTlsFacts {
    this.refresh();
    const x = this.control32;
    const start = x[X.REMOTE_LEN]! + x[X.LOCAL_LEN]!;
    const [version = '', cipher = '', curve = '', serverName = '', alpn = ''] = latin1Slice(
      this.data,
      start,
      start + x[X.TLS_LEN]!,
    ).split('\n');
    return { version, cipher, curve, serverName, alpn, resumed: x[X.TLS_RESUMED] === 1 };
  }

  /**
   * `previous` when the data area's bytes [start, end) spell it, else a new string of them:
   * connections mostly come from a few addresses (a load balancer, a sidecar) to one, and every
   * idle connection keeps its two address strings, so they are shared rather than one pair each.
   */
  private sameOrNew(previous: string, start: number, end: number): string {
    const data = this.data;
    if (previous.length === end - start) {
      let i = 0;
      while (i < previous.length && previous.charCodeAt(i) === data[start + i]) i++;
      if (i === previous.length) return previous;
    }
    return latin1Slice(data, start, end);
  }

  endEvent(): void {
    this.liveCount = 0;
  }

  private fields(): { headers: HeaderMap; text: string } {
    const x = this.control32;
    const count = x[X.HEADER_COUNT]!;
    const bytesOff = x[X.BYTES_OFF]!;
    const text = latin1Slice(this.data, bytesOff, bytesOff + x[X.HEAD_BYTES]!);
    const headers = new HeaderMap();
    const spans = this.data32;
    const names = this.names;
    const values = this.values;
    for (let i = 0; i < count; i++) {
      const nameOff = spans[4 * i]!;
      const valueOff = spans[4 * i + 2]!;
      const name = text.slice(nameOff, nameOff + spans[4 * i + 1]!);
      const value = text.slice(valueOff, valueOff + spans[4 * i + 3]!);
      headers.add(name, value);
      names[i] = name;
      values[i] = value;
    }
    this.liveCount = count;
    return { headers, text };
  }
}
