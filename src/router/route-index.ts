/**
 * Narrows a virtual host's route list to the routes that can match a path, keeping first-match
 * order. Every prefix / path / path_separated_prefix route (and a regex with a literal head) can
 * only match paths that start with its literal, so routes are bucketed by the first K characters of
 * that literal; a request looks up the bucket for the first K characters of its path. Routes whose
 * literal is shorter than K (a catch-all '/' prefix, most regexes) go into every bucket. Each
 * bucket holds route indices in config order, so first-match-wins is preserved by construction.
 *
 * K is chosen at compile time to minimise the expected candidate count (routes shorter than K plus
 * the average bucket size); small lists and lists where no K helps are scanned whole.
 */
import { asciiLower } from './string-matcher';

export interface IndexableRoute {
  /** Every path this route matches starts with this text ('' = no constraint). */
  readonly indexLiteral: string;
  /** The literal is lower-cased and is compared with a lower-cased path. */
  readonly indexFoldsCase: boolean;
}

/** Below this many routes a plain scan is as fast as a lookup. */
const MIN_ROUTES_TO_INDEX = 8;
/** Longest key considered: longer keys rarely split buckets further. */
const MAX_KEY_LENGTH = 32;

export class RouteIndex {
  private readonly keyLength: number;
  private readonly foldCase: boolean;
  private readonly buckets = new Map<string, Int32Array>();
  /** Candidates for a path with no bucket (or every route when not indexed). */
  private readonly fallback: Int32Array;

  constructor(routes: readonly IndexableRoute[]) {
    this.foldCase = routes.some((r) => r.indexFoldsCase);
    const literals = routes.map((r) => (this.foldCase ? asciiLower(r.indexLiteral) : r.indexLiteral));
    this.keyLength = routes.length < MIN_ROUTES_TO_INDEX ? 0 : bestKeyLength(literals);
    const k = this.keyLength;
    const unkeyed: number[] = [];
    const keyed = new Map<string, number[]>();
    for (let i = 0; i < literals.length; i++) {
      const literal = literals[i]!;
      if (k === 0 || literal.length < k) unkeyed.push(i);
      else {
        const key = literal.slice(0, k);
        const bucket = keyed.get(key);
        if (bucket === undefined) keyed.set(key, [i]);
        else bucket.push(i);
      }
    }
    this.fallback = Int32Array.from(unkeyed);
    for (const [key, members] of keyed) this.buckets.set(key, mergeSorted(members, unkeyed));
  }

  /** Route indices, ascending, that may match `path` (whose path part ends at `pathEnd`). */
  candidates(path: string, pathEnd: number): Int32Array {
    const k = this.keyLength;
    if (k === 0 || pathEnd < k) return this.fallback;
    const key = path.slice(0, k);
    return this.buckets.get(this.foldCase ? asciiLower(key) : key) ?? this.fallback;
  }
}

/** The key length with the lowest expected candidate count, or 0 when scanning everything is as good. */
function bestKeyLength(literals: string[]): number {
  const n = literals.length;
  const lengths = new Set<number>();
  for (const l of literals) if (l.length > 0) lengths.add(Math.min(l.length, MAX_KEY_LENGTH));
  let best = 0;
  let bestCost = n;
  for (const k of lengths) {
    let unkeyed = 0;
    const sizes = new Map<string, number>();
    for (const l of literals) {
      if (l.length < k) unkeyed++;
      else sizes.set(l.slice(0, k), (sizes.get(l.slice(0, k)) ?? 0) + 1);
    }
    const keyed = n - unkeyed;
    let sumSquares = 0;
    for (const s of sizes.values()) sumSquares += s * s;
    const cost = unkeyed + (keyed === 0 ? 0 : sumSquares / keyed);
    if (cost < bestCost) {
      bestCost = cost;
      best = k;
    }
  }
  return bestCost < n / 2 ? best : 0;
}

function mergeSorted(a: number[], b: number[]): Int32Array {
  const out = new Int32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let w = 0;
  while (i < a.length || j < b.length) {
    out[w++] = j >= b.length || (i < a.length && a[i]! < b[j]!) ? a[i++]! : b[j++]!;
  }
  return out;
}
