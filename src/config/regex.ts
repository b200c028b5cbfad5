/**
 * Envoy's `safe_regex` is RE2. Legate runs regexes with JS RegExp, so a pattern is accepted only if
 * it means the same in both: constructs RE2 rejects (lookaround, backreferences, atomic groups) are
 * errors, RE2-only spellings are translated (`(?P<name>` → `(?<name>`, `\A` → `^`, `\z` → `$`), and
 * RE2 features JS lacks or reads differently (inline flags, `\p{…}` without the `u` flag, POSIX
 * classes, `\Q…\E`) are reported as unsupported. The result is the JS source to compile, unanchored:
 * route and header matchers must match it against the whole value (RE2 full match), as Envoy does.
 */

export type RegexResult = { ok: true; source: string } | { ok: false; message: string; hint?: string };

const RE2_REJECTS = 'not valid RE2 syntax (Envoy regexes are RE2)';

/** `(?` openers and what to do with them: keep, translate, or the reason they are refused. */
const GROUP_OPENERS: readonly { prefix: string; to?: string; error?: string }[] = [
  { prefix: '(?:', to: '(?:' },
  { prefix: '(?P<', to: '(?<' },
  { prefix: '(?P=', error: `named backreference (?P=…) is ${RE2_REJECTS}` },
  { prefix: '(?<=', error: `lookbehind (?<=…) is ${RE2_REJECTS}` },
  { prefix: '(?<!', error: `negative lookbehind (?<!…) is ${RE2_REJECTS}` },
  { prefix: '(?<', to: '(?<' },
  { prefix: '(?=', error: `lookahead (?=…) is ${RE2_REJECTS}` },
  { prefix: '(?!', error: `negative lookahead (?!…) is ${RE2_REJECTS}` },
  { prefix: '(?>', error: `atomic group (?>…) is ${RE2_REJECTS}` },
];

/** Escapes outside a character class that RE2 and JS read differently. */
const ESCAPES: Record<string, { to?: string; error?: string }> = {
  A: { to: '^' },
  z: { to: '$' },
  k: { error: `backreference \\k<…> is ${RE2_REJECTS}` },
  p: { error: 'Unicode classes \\p{…} are not supported by Legate yet' },
  P: { error: 'Unicode classes \\P{…} are not supported by Legate yet' },
  Q: { error: 'quoting with \\Q…\\E is not supported by Legate yet' },
  C: { error: `\\C is ${RE2_REJECTS}` },
};

/** Checks an RE2 pattern and returns the equivalent JS RegExp source. */
export function translateRe2(pattern: string): RegexResult {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      const special = inClass ? undefined : ESCAPES[next];
      if (special?.error) return { ok: false, message: special.error };
      if (!inClass && next >= '1' && next <= '9')
        return { ok: false, message: `backreference \\${next} is ${RE2_REJECTS}` };
      if (next === 'x' && pattern[i + 2] === '{')
        return { ok: false, message: 'hex escapes \\x{…} are not supported by Legate yet; use \\xHH' };
      out += special?.to ?? c + next;
      i++;
    } else if (inClass) {
      if (c === '[' && pattern[i + 1] === ':')
        return { ok: false, message: 'POSIX classes like [[:alpha:]] are not supported by Legate yet' };
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') out += pattern[++i];
      // RE2 (like POSIX) reads a leading ']' as a literal; JS would end an empty class there.
      if (pattern[i + 1] === ']') {
        out += '\\]';
        i++;
      }
    } else if (c === '(' && pattern[i + 1] === '?') {
      const opener = GROUP_OPENERS.find((g) => pattern.startsWith(g.prefix, i));
      if (!opener) {
        return {
          ok: false,
          message: 'inline flags like (?i) are not supported by Legate yet',
          hint: 'use case_sensitive: false on the route or ignore_case on a string matcher',
        };
      }
      if (opener.error) return { ok: false, message: opener.error };
      out += opener.to;
      i += opener.prefix.length - 1;
    } else {
      out += c;
    }
  }
  try {
    new RegExp(out);
  } catch (e) {
    return { ok: false, message: `invalid regex: ${(e as Error).message}` };
  }
  return { ok: true, source: out };
}
