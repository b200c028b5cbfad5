/**
 * IP prefixes (Envoy's `CidrRange`) for filter chain matching: addresses as 16 bytes, IPv4 in its
 * IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one comparison serves both families and a peer that a
 * dual-stack socket reports as ::ffff:10.0.0.1 matches 10.0.0.0/8.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { CidrRange } from '../config/bootstrap';

const V4_MAPPED_BITS = 96;

/** The 16 bytes of an IP literal, or null when it is not one. */
export function ipBytes(address: string): Uint8Array | null {
  if (isIPv4(address)) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    const parts = address.split('.');
    for (let i = 0; i < 4; i++) out[12 + i] = Number(parts[i]);
    return out;
  }
  if (!isIPv6(address)) return null;
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, null];
  const groups = (s: string | null | undefined): number[] => {
    if (!s) return [];
    const out: number[] = [];
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const v4 = ipBytes(part)!;
        out.push((v4[12]! << 8) | v4[13]!, (v4[14]! << 8) | v4[15]!);
      } else out.push(parseInt(part, 16));
    }
    return out;
  };
  const front = groups(head);
  const back = groups(tail);
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return out;
}

/** A prefix compiled for matching; `bits` counts in the 128-bit form (IPv4 /8 is /104). */
export class CompiledCidr {
  readonly bits: number;
  private readonly prefix: Uint8Array;

  constructor(range: CidrRange) {
    const bytes = ipBytes(range.address);
    if (bytes === null) throw new Error(`not an IP address: '${range.address}'`);
    this.prefix = bytes;
    this.bits = isIPv4(range.address) ? V4_MAPPED_BITS + range.prefixLen : range.prefixLen;
  }

  /** Whether the address (as `ipBytes` gives it) lies in this prefix. */
  contains(address: Uint8Array): boolean {
    const full = this.bits >> 3;
    for (let i = 0; i < full; i++) if (address[i] !== this.prefix[i]) return false;
    const rest = this.bits & 7;
    if (rest === 0) return true;
    const mask = (0xff << (8 - rest)) & 0xff;
    return (address[full]! & mask) === (this.prefix[full]! & mask);
  }
}
