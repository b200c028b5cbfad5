/**
 * Envoy's `safe_regex` is RE2 syntax; Legate runs it on V8's RegExp. The two agree on the common
 * subset (literals, classes, quantifiers, groups, alternation, anchors), so a pattern is translated
 * where RE2 spells something differently and rejected where V8 would match differently or RE2 has
 * no equivalent. Rejecting at config time keeps a config portable between Envoy and Legate:
 *
 * - translated: `(?P<name>` → `(?<name>`; `\A` → `^`, `\z` → `$`; a leading `(?i)` / `(?s)` → RegExp
 *   flags; a `]` first in a class (literal in RE2, an empty class in V8) → `\]`.
 * - rejected: lookaround and backreferences (RE2 does not have them), `(?P=name)`, `\Q…\E`, `\C`,
 *   `\p{…}` Unicode classes, POSIX `[[:alpha:]]` classes, inline flags anywhere but the start, and
 *   `(?m)` (multi-line anchors would break the full-match anchoring below).
 *
 * Known residual difference: RE2 matches on UTF-8 code points and V8 (without the `u` flag) on
 * UTF-16 units, which only matters for `.` against astral characters.
 */

export interface TranslatedRegex {
  source: string;
  flags: string;
}

/** Translates an RE2 pattern; returns an error message when it cannot be run with RE2 semantics. */
export function translateRe2(pattern: string): TranslatedRegex | string {
  let out = '';
  let flags = '';
  let i = 0;
  let inClass = false;
  const leadingFlags = /^\(\?([is]+)\)/.exec(pattern);
  if (leadingFlags !== null) {
    flags = [...new Set(leadingFlags[1]!)].join('');
    i = leadingFlags[0].length;
  }
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) return 'trailing backslash';
      if (!inClass && next >= '1' && next <= '9') return 'backreferences are not supported (RE2 has none)';
      if (next === 'Q' || next === 'E') return '\\Q…\\E quoting is not supported';
      if (next === 'C') return '\\C is not supported';
      if (next === 'p' || next === 'P') return 'Unicode classes (\\p{…}) are not supported';
      if (!inClass && next === 'A') out += '^';
      else if (!inClass && next === 'z') out += '$';
      else out += c + next;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      if (pattern.startsWith('[[:', i) || pattern.startsWith('[^[:', i)) {
        return 'POSIX character classes ([[:alpha:]]) are not supported';
      }
      inClass = true;
      out += c;
      i++;
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const group = translateGroupOpening(pattern, i);
      if (group.error !== null) return group.error;
      out += group.text;
      i += group.consumed;
      continue;
    }
    out += c;
    i++;
  }
  try {
    new RegExp(out, flags);
  } catch (e) {
    return (e as Error).message;
  }
  return { source: out, flags };
}

interface GroupOpening {
  text: string;
  consumed: number;
  error: string | null;
}

/** `(?` at `at`: named groups are translated, non-capturing groups kept, everything else refused. */
function translateGroupOpening(pattern: string, at: number): GroupOpening {
  const rest = pattern.slice(at + 2, at + 4);
  if (rest.startsWith(':')) return { text: '(?:', consumed: 3, error: null };
  if (rest === 'P<') return { text: '(?<', consumed: 4, error: null };
  if (rest.startsWith('<') && rest !== '<=' && rest !== '<!')
    return { text: '(?<', consumed: 3, error: null };
  if (rest === 'P=')
    return { text: '', consumed: 0, error: 'named backreferences are not supported (RE2 has none)' };
  if (rest.startsWith('=') || rest.startsWith('!') || rest === '<=' || rest === '<!') {
    return { text: '', consumed: 0, error: 'lookahead/lookbehind are not supported (RE2 has none)' };
  }
  return { text: '', consumed: 0, error: 'inline flags are only supported at the start of the pattern' };
}

/** Config-time check: null when `pattern` is usable, else why not. */
export function validateRe2(pattern: string): string | null {
  const t = translateRe2(pattern);
  return typeof t === 'string' ? t : null;
}

/**
 * Compiles a validated RE2 pattern. `fullMatch` anchors it at both ends, as RE2::FullMatch (used by
 * every Envoy `safe_regex` matcher); otherwise it matches anywhere (`regex_rewrite`, with `global`).
 * Throws on patterns `validateRe2` rejects: config validation must have caught them.
 */
export function compileRe2(pattern: string, fullMatch: boolean, global = false): RegExp {
  const t = translateRe2(pattern);
  if (typeof t === 'string') throw new Error(`invalid regex '${pattern}': ${t}`);
  const source = fullMatch ? `^(?:${t.source})$` : t.source;
  return new RegExp(source, global ? t.flags + 'g' : t.flags);
}

/** Number of capture groups in a compiled regex (for checking `\N` in substitutions). */
export function captureGroupCount(re: RegExp): number {
  return new RegExp(`${re.source}|`, re.flags.replace('g', '')).exec('')!.length - 1;
}
