/**
 * An access logger's `log_format` (Envoy's SubstitutionFormatString): parsed and checked on the
 * primary into plain data, compiled once per worker into a `Formatter`.
 *
 * - no log_format: Envoy's default text format;
 * - `text_format_source: { inline_string }` (or the deprecated `text_format`): a text line, written
 *   as given (Envoy adds no newline either);
 * - `json_format`: one JSON object per line; a value that is exactly one operator keeps its type
 *   (`"%RESPONSE_CODE%"` → 200, a missing value → null), other strings are rendered as text;
 *   nested objects, numbers and booleans are kept. `omit_empty_values` drops null / empty values.
 */
import type { ObjectReader } from '../config/config-reader';
import { rejectUnsupported } from '../config/unsupported';
import type { AccessLogStream } from './api';
import {
  DEFAULT_FORMAT,
  compileFormat,
  evaluate,
  formatText,
  type FormatValue,
  type Part,
  responseHeadersRead,
} from './format-string';

export type JsonTemplate = { [key: string]: string | number | boolean | null | JsonTemplate };

export type LogFormatConfig =
  | { kind: 'text'; format: string; omitEmptyValues: boolean }
  | { kind: 'json'; template: JsonTemplate; omitEmptyValues: boolean };

export interface Formatter {
  format(stream: AccessLogStream): string;
  /** See AccessLogger.responseHeadersRead. */
  readonly responseHeadersRead: readonly string[];
}

const UNSUPPORTED_FORMAT_FIELDS = ['formatters', 'json_format_options'] as const;

/**
 * Parses `log_format` (null when absent: `defaultFormat`). Errors go through the reader.
 * `content_type` is the caller's to read where it means something (local replies), an error elsewhere.
 */
export function parseLogFormat(
  r: ObjectReader | null,
  defaultFormat = DEFAULT_FORMAT,
  readsContentType = false,
): LogFormatConfig {
  if (r === null) return { kind: 'text', format: defaultFormat, omitEmptyValues: false };
  rejectUnsupported(
    r,
    readsContentType ? UNSUPPORTED_FORMAT_FIELDS : [...UNSUPPORTED_FORMAT_FIELDS, 'content_type'],
  );
  const omitEmptyValues = r.bool('omit_empty_values', false);
  const which = r.oneOf(['text_format_source', 'text_format', 'json_format'], true);
  if (which === 'json_format') {
    const template = r.raw('json_format');
    const problem = checkJsonTemplate(template);
    if (problem !== null) r.error('json_format', problem);
    return { kind: 'json', template: template as JsonTemplate, omitEmptyValues };
  }
  let format = defaultFormat;
  if (which === 'text_format') {
    r.deprecated('text_format', 'use text_format_source: { inline_string: ... }');
    format = r.string('text_format');
  } else if (which === 'text_format_source') {
    const source = r.requiredObject('text_format_source');
    rejectUnsupported(source, ['filename', 'inline_bytes', 'environment_variable']);
    format = source.requiredString('inline_string');
  }
  const problem = formatProblem(format);
  if (problem !== null) r.error(which ?? '', problem);
  return { kind: 'text', format, omitEmptyValues };
}

export function compileLogFormat(c: LogFormatConfig): Formatter {
  return c.kind === 'text'
    ? new TextFormatter(compileFormat(c.format), c.omitEmptyValues)
    : new JsonFormatter(compileJson(c.template), c.omitEmptyValues);
}

function formatProblem(format: string): string | null {
  try {
    compileFormat(format);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function checkJsonTemplate(t: unknown): string | null {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return 'must be a mapping';
  for (const [key, v] of Object.entries(t)) {
    if (typeof v === 'string') {
      const problem = formatProblem(v);
      if (problem !== null) return `${key}: ${problem}`;
    } else if (typeof v === 'object' && v !== null) {
      const problem = checkJsonTemplate(v);
      if (problem !== null) return `${key}.${problem}`;
    } else if (typeof v !== 'number' && typeof v !== 'boolean' && v !== null) {
      return `${key}: unsupported value`;
    }
  }
  return null;
}

class TextFormatter implements Formatter {
  readonly responseHeadersRead: readonly string[];

  constructor(
    private readonly parts: Part[],
    private readonly omitEmpty: boolean,
  ) {
    this.responseHeadersRead = responseHeadersRead(parts);
  }

  format(stream: AccessLogStream): string {
    if (!this.omitEmpty) return formatText(this.parts, stream);
    let out = '';
    for (const p of this.parts) out += evaluate(p, stream) ?? '';
    return out;
  }
}

/** A compiled JSON value: a format (typed if it is a single operator), a constant, or an object. */
type JsonNode =
  | { kind: 'format'; parts: Part[] }
  | { kind: 'const'; value: number | boolean | null }
  | { kind: 'object'; entries: [string, JsonNode][] };

function compileJson(t: JsonTemplate): JsonNode {
  return {
    kind: 'object',
    entries: Object.entries(t).map(([k, v]): [string, JsonNode] => [
      k,
      typeof v === 'string'
        ? { kind: 'format', parts: compileFormat(v) }
        : typeof v === 'object' && v !== null
          ? compileJson(v)
          : { kind: 'const', value: v },
    ]),
  };
}

function jsonResponseHeadersRead(node: JsonNode): string[] {
  if (node.kind === 'format') return responseHeadersRead(node.parts);
  if (node.kind === 'const') return [];
  return node.entries.flatMap(([, child]) => jsonResponseHeadersRead(child));
}

class JsonFormatter implements Formatter {
  readonly responseHeadersRead: readonly string[];

  constructor(
    private readonly root: JsonNode,
    private readonly omitEmpty: boolean,
  ) {
    this.responseHeadersRead = jsonResponseHeadersRead(root);
  }

  format(stream: AccessLogStream): string {
    return JSON.stringify(this.value(this.root, stream)) + '\n';
  }

  private value(node: JsonNode, s: AccessLogStream): unknown {
    switch (node.kind) {
      case 'const':
        return node.value;
      case 'format':
        return node.parts.length === 1 ? evaluate(node.parts[0]!, s) : formatText(node.parts, s);
      case 'object': {
        const out: Record<string, unknown> = {};
        for (const [k, child] of node.entries) {
          const v = this.value(child, s) as FormatValue;
          if (this.omitEmpty && (v === null || v === '')) continue;
          out[k] = v;
        }
        return out;
      }
    }
  }
}
