/**
 * xxHash32 (Yann Collet's XXH32, seed 0 by default) over a string's bytes: the hash behind ring-hash
 * and Maglev placement and behind route hash_policy keys. 32 bits are enough here (ring positions
 * and Maglev indices are 32-bit), and 32-bit arithmetic stays in V8's small-integer fast path where a
 * 64-bit xxHash would need BigInt. Strings are hashed as latin1 (header values and host keys are
 * latin1 in Legate); a UTF-16 code unit above 0xff contributes its low then its high byte.
 */
const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

/** Latin1 bytes of `s` (one per code unit up to 0xff, two above). Reused: hashing allocates nothing. */
let scratch = new Uint8Array(256);

function toBytes(s: string): number {
  let n = 0;
  if (scratch.length < s.length * 2) scratch = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    scratch[n++] = c & 0xff;
    if (c > 0xff) scratch[n++] = c >>> 8;
  }
  return n;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);
}

function lane32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

/** XXH32 of `s`'s latin1 bytes, as an unsigned 32-bit number. */
export function xxHash32(s: string, seed = 0): number {
  const len = toBytes(s);
  const b = scratch;
  let i = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    for (; i + 16 <= len; i += 16) {
      v1 = round(v1, lane32(b, i));
      v2 = round(v2, lane32(b, i + 4));
      v3 = round(v3, lane32(b, i + 8));
      v4 = round(v4, lane32(b, i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + len) | 0;
  for (; i + 4 <= len; i += 4) h = Math.imul(rotl((h + Math.imul(lane32(b, i), P3)) | 0, 17), P4);
  for (; i < len; i++) h = Math.imul(rotl((h + Math.imul(b[i]!, P5)) | 0, 11), P1);
  h = Math.imul(h ^ (h >>> 15), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Folds `next` into a running request hash as Envoy combines hash_policy entries (rotate left by one,
 * then xor), in 32 bits.
 */
export function combineHash(hash: number, next: number): number {
  return (((hash << 1) | (hash >>> 31)) ^ next) >>> 0;
}

/**
 * The hash a consistent-hashing policy places a request by: its key, or a random one when it has
 * none (as Envoy does), which spreads such requests in proportion to each host's share of the table.
 */
export function hashOrRandom(hashKey: number | null, random: () => number): number {
  return hashKey ?? Math.floor(random() * 4294967296);
}

/** Settings of ring_hash and maglev configs that Legate does not implement (located errors). */
export const CONSISTENT_HASH_UNSUPPORTED_FIELDS = [
  'use_hostname_for_hashing',
  'hash_balance_factor',
  'consistent_hashing_lb_config',
  'locality_weighted_lb_config',
] as const;
