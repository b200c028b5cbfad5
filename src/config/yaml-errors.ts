/**
 * YAML syntax errors said where the construct that broke began, not where the parser gave up. The
 * `yaml` package reports an unclosed `[` or quote at the end of the file (or at the next line that
 * is not indented enough); users need the line where they opened it. Each of its error codes is
 * mapped here to an offset and a message:
 *
 * - unclosed flow collection (`BAD_INDENT` "…must be sufficiently indented and end with a ]/}") or
 *   quote (`MISSING_CHAR` "Missing closing …quote"): the opening character, found by scanning the
 *   text up to the error for brackets and quotes that are still open;
 * - `DUPLICATE_KEY`: the repeated key, naming where it first appears (Envoy's YAML reader keeps the
 *   last value silently; Legate refuses to guess);
 * - `BAD_INDENT` and `TAB_AS_INDENT`: the first character of the offending line.
 */
import { isMap, isScalar, type Document, type LineCounter, visit, type YAMLError } from 'yaml';

export interface YamlProblem {
  readonly offset: number;
  readonly message: string;
}

export function describeYamlError(
  text: string,
  error: YAMLError,
  doc: Document.Parsed,
  lines: LineCounter,
): YamlProblem {
  const at = error.pos[0];
  const firstLine = error.message.split('\n')[0]!;
  if (
    (error.code === 'BAD_INDENT' && /end with a [\]}]/.test(firstLine)) ||
    (error.code === 'MISSING_CHAR' && /closing .*quote/.test(firstLine))
  ) {
    const open = unclosedOpener(text, at);
    if (open !== null) {
      const what = open.char === '[' || open.char === '{' ? `'${open.char}'` : `the ${open.char} quote`;
      return { offset: open.offset, message: `${what} is never closed` };
    }
  }
  if (error.code === 'DUPLICATE_KEY') {
    const first = firstKeyLike(doc, at);
    if (first !== null) {
      const { line, col } = lines.linePos(first.offset);
      return {
        offset: at,
        message: `duplicate key '${first.key}' (first at line ${line}, column ${col}); YAML keys must be unique`,
      };
    }
  }
  if (error.code === 'TAB_AS_INDENT')
    return { offset: at, message: 'tabs are not allowed in YAML indentation; indent with spaces' };
  if (error.code === 'BAD_INDENT') return { offset: lineContentStart(text, at), message: firstLine };
  return { offset: at, message: firstLine };
}

/** The first non-blank character of the line `offset` is on (or `offset` on a blank line). */
function lineContentStart(text: string, offset: number): number {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const content = text.slice(start).search(/[^ \t]/);
  return content === -1 || text[start + content] === '\n' ? offset : start + content;
}

/** Where a token may begin: a quote or bracket after these (or at a line's start) opens something. */
const TOKEN_BOUNDARY = /[\s:[{,\-?]/;

/**
 * The innermost `[`, `{`, `"` or `'` still open at `end`. YAML treats them as openers only at the
 * start of a value (`a[0]` and `it's` are plain text); comments are skipped.
 */
function unclosedOpener(text: string, end: number): { char: string; offset: number } | null {
  const stack: { char: string; offset: number }[] = [];
  let quote: { char: string; offset: number } | null = null;
  for (let i = 0; i < end && i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (quote.char === '"' && c === '\\') i++;
      else if (c === quote.char) {
        if (c === "'" && text[i + 1] === "'") i++;
        else quote = null;
      }
      continue;
    }
    const atBoundary = i === 0 || TOKEN_BOUNDARY.test(text[i - 1]!);
    if (c === '#' && atBoundary) {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? text.length : eol;
    } else if ((c === '"' || c === "'") && atBoundary) quote = { char: c, offset: i };
    else if ((c === '[' || c === '{') && (atBoundary || stack.length > 0)) stack.push({ char: c, offset: i });
    else if ((c === ']' || c === '}') && stack.length > 0) stack.pop();
  }
  return quote ?? stack[stack.length - 1] ?? null;
}

/** For the duplicate key at `offset`: its text and where the same key first appears in its mapping. */
function firstKeyLike(doc: Document.Parsed, offset: number): { key: string; offset: number } | null {
  let found: { key: string; offset: number } | null = null;
  visit(doc, {
    Map(_key, map) {
      if (!isMap(map)) return undefined;
      const keys = map.items.map((p) => (isScalar(p.key) ? p.key : null));
      const dup = keys.find((k) => k?.range?.[0] === offset);
      if (!dup) return undefined;
      const first = keys.find((k) => k !== null && k.value === dup.value);
      if (first?.range) found = { key: String(dup.value), offset: first.range[0] };
      return visit.BREAK;
    },
  });
  return found;
}
