/**
 * The gRPC-Web wire format (grpc/doc/PROTOCOL-WEB.md) as far as a proxy translates it: the base64
 * body of `application/grpc-web-text` requests, decoded as it arrives however it is split; gRPC
 * frames (a flags byte, a 4-byte big-endian length, the message) found in a response body so each
 * can be base64-encoded on its own; and the trailers frame (flags 0x80) that carries a response's
 * trailers in its body.
 */
import type { HeaderMap } from '../../../http/header-map';

/** Flags byte of the frame that carries the trailers in a gRPC-Web response body. */
export const TRAILERS_FRAME_FLAG = 0x80;
const FRAME_HEADER_BYTES = 5;

/** 1 for a base64 alphabet byte (RFC 4648 §4; not the URL-safe one), 0 otherwise. */
const BASE64_ALPHABET = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
  BASE64_ALPHABET[c.charCodeAt(0)] = 1;
const PAD = 0x3d; // '='

/**
 * Decodes a base64 body chunk by chunk. Padding is mandatory (the body is a whole number of 4-byte
 * quanta), and may end any quantum, not only the last: a client may encode each message on its own
 * and send them one after another (the spec allows that of responses; Envoy's encoder does it).
 */
export class Base64StreamDecoder {
  /** The bytes of an incomplete quantum (fewer than 4) carried to the next chunk. */
  private carry: Buffer | null = null;

  /** Bytes held back for the next chunk (an incomplete quantum). */
  get pendingBytes(): number {
    return this.carry === null ? 0 : this.carry.length;
  }

  /**
   * The bytes the complete quanta of what arrived so far decode to (possibly empty), or null when
   * they are not base64. The rest is kept for the next call.
   */
  decode(chunk: Buffer): Buffer | null {
    let input = chunk;
    if (this.carry !== null) {
      input = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const whole = input.length - (input.length % 4);
    if (whole < input.length) this.carry = Buffer.from(input.subarray(whole));
    if (whole === 0) return EMPTY;
    // Decode up to each quantum that ends in padding: Node's decoder would stop at the first '='.
    const parts: Buffer[] = [];
    let start = 0;
    for (let q = 0; q < whole; q += 4) {
      const a = input[q]!;
      const b = input[q + 1]!;
      const c = input[q + 2]!;
      const d = input[q + 3]!;
      if (BASE64_ALPHABET[a] === 0 || BASE64_ALPHABET[b] === 0) return null;
      if (BASE64_ALPHABET[c] === 1 && BASE64_ALPHABET[d] === 1) continue;
      // Padding: `xx==` or `xxx=`, and it ends the segment.
      if (d !== PAD || (c !== PAD && BASE64_ALPHABET[c] === 0)) return null;
      parts.push(Buffer.from(input.toString('latin1', start, q + 4), 'base64'));
      start = q + 4;
    }
    if (start < whole) parts.push(Buffer.from(input.toString('latin1', start, whole), 'base64'));
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Re-encodes a gRPC response body as gRPC-Web text: each complete frame base64-encoded on its
 * own (as Envoy does), so the client can decode a message as soon as it arrives. A frame split
 * across chunks waits for its end.
 */
export class Base64FrameEncoder {
  private carry: Buffer | null = null;

  /** The base64 of every frame completed by `chunk` ('' if none). */
  encode(chunk: Buffer): string {
    let input = chunk;
    if (this.carry !== null) {
      input = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let out = '';
    let at = 0;
    while (input.length - at >= FRAME_HEADER_BYTES) {
      const end = at + FRAME_HEADER_BYTES + input.readUInt32BE(at + 1);
      if (end > input.length) break;
      out += input.toString('base64', at, end);
      at = end;
    }
    if (at < input.length) this.carry = Buffer.from(input.subarray(at));
    return out;
  }

  /** The end of the body: what is left of an incomplete frame, encoded as it is rather than lost. */
  flush(): string {
    const rest = this.carry;
    this.carry = null;
    return rest === null ? '' : rest.toString('base64');
  }
}

/** The trailers frame: flags 0x80, the length, then `name:value\r\n` for each trailer. */
export function trailersFrame(trailers: HeaderMap): Buffer {
  let text = '';
  const { names, values } = trailers;
  for (let i = 0; i < names.length; i++) text += `${names[i]!}:${values[i]!}\r\n`;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + Buffer.byteLength(text, 'latin1'));
  frame[0] = TRAILERS_FRAME_FLAG;
  frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 1);
  frame.write(text, FRAME_HEADER_BYTES, 'latin1');
  return frame;
}
