/**
 * Envoy's `type.matcher.v3.StringMatcher` (exact / prefix / suffix / contains / safe_regex with
 * `ignore_case`), compiled once. `ignore_case` folds ASCII only, as Envoy's absl helpers do, and
 * never applies to `safe_regex` (Envoy ignores it there too). Regexes must match the whole value.
 */
import type { StringMatcher } from '../config/bootstrap';
import { compileRe2 } from './re2';

const enum Kind {
  Exact,
  Prefix,
  Suffix,
  Contains,
  Regex,
}

const KINDS: Record<StringMatcher['kind'], Kind> = {
  exact: Kind.Exact,
  prefix: Kind.Prefix,
  suffix: Kind.Suffix,
  contains: Kind.Contains,
  safe_regex: Kind.Regex,
};

export class CompiledStringMatcher {
  private readonly kind: Kind;
  /** Lower-cased when `ignoreCase`, so only the input needs folding. */
  private readonly value: string;
  private readonly ignoreCase: boolean;
  private readonly regex: RegExp | null;

  constructor(config: StringMatcher) {
    this.kind = KINDS[config.kind];
    this.ignoreCase = config.ignoreCase && this.kind !== Kind.Regex;
    this.value = this.ignoreCase ? asciiLower(config.value) : config.value;
    this.regex = this.kind === Kind.Regex ? compileRe2(config.value, true) : null;
  }

  match(input: string): boolean {
    const value = this.value;
    switch (this.kind) {
      case Kind.Exact:
        return this.ignoreCase ? equalsIgnoreCase(input, value) : input === value;
      case Kind.Prefix:
        return this.ignoreCase ? startsWithIgnoreCase(input, value, 0) : input.startsWith(value);
      case Kind.Suffix:
        return this.ignoreCase
          ? input.length >= value.length && startsWithIgnoreCase(input, value, input.length - value.length)
          : input.endsWith(value);
      case Kind.Contains:
        return (this.ignoreCase ? asciiLower(input) : input).includes(value);
      case Kind.Regex:
        return this.regex!.test(input);
    }
  }
}

const toLower = (m: string): string => m.toLowerCase();

/** ASCII-only lower-casing (hostnames, header names, case-insensitive paths); no copy if already lower. */
export function asciiLower(s: string): string {
  let upper = false;
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) upper = true;
    else if (c >= 128) ascii = false;
  }
  if (!upper) return s;
  // toLowerCase would also fold non-ASCII letters, which Envoy leaves alone.
  return ascii ? s.toLowerCase() : s.replace(/[A-Z]+/g, toLower);
}

/** Whether `s` has `lowerNeedle` (already lower case) at `offset`, folding ASCII case of `s`. */
export function startsWithIgnoreCase(s: string, lowerNeedle: string, offset: number): boolean {
  const n = lowerNeedle.length;
  if (offset + n > s.length) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(offset + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerNeedle.charCodeAt(i)) return false;
  }
  return true;
}

export function equalsIgnoreCase(s: string, lowerOther: string): boolean {
  return s.length === lowerOther.length && startsWithIgnoreCase(s, lowerOther, 0);
}
