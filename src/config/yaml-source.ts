/**
 * The YAML (or JSON) texts of one load, parsed with source positions. Every node remembers which
 * text it came from, so after `--config-yaml` is merged over the file an issue still points at the
 * right `file:line:col`.
 */
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLMap,
} from 'yaml';
import type { IssueList } from './config-error';
import { describeYamlError } from './yaml-errors';

interface YamlSource {
  readonly name: string;
  readonly index: number;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
}

/** Where an issue sits: the printed `file:line:col` and a key for sorting issues in file order. */
export interface Location {
  readonly location: string;
  readonly order: number;
}

/** Field names seen so far and their keys: readers look fields up by key many times per load. */
const fieldKeys = new Map<string, string>();

/** Proto JSON accepts `lb_policy` and `lbPolicy` alike; both compare equal under this key. */
export function fieldKey(name: string): string {
  let key = fieldKeys.get(name);
  if (key === undefined) {
    key = name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    // Bounded: a config (or a fuzzer's many) cannot grow it without limit.
    if (fieldKeys.size < 10_000) fieldKeys.set(name, key);
  }
  return key;
}

/** Offsets inside one source stay below this, so `index * SPAN + offset` sorts by source then offset. */
const SOURCE_SPAN = 1e12;

export class YamlSources {
  private readonly sources: YamlSource[] = [];
  private readonly owners = new WeakMap<object, YamlSource>();

  constructor(private readonly issues: IssueList) {}

  /**
   * Parses one text. Syntax errors are recorded and yield null (reading a half-parsed document only
   * adds confusing follow-up errors); so does a document that is not a mapping.
   */
  parse(name: string, text: string): YAMLMap | null {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const source: YamlSource = { name, index: this.sources.length, doc, lines };
    this.sources.push(source);
    const described = new Set<string>();
    for (const e of doc.errors) {
      const { offset, message } = describeYamlError(text, e, doc, lines);
      // One unclosed bracket can make several errors that all point back at it.
      if (described.has(`${offset}:${message}`)) continue;
      described.add(`${offset}:${message}`);
      this.issues.add(
        { location: this.format(source, offset), path: '', message, severity: 'error' },
        this.order(source, offset),
      );
    }
    if (doc.errors.length > 0) return null;
    visit(doc, {
      Node: (_key, node) => {
        this.owners.set(node, source);
      },
    });
    const root = doc.contents;
    if (!isMap(root)) {
      const found = root === null ? 'an empty document' : describeNode(root);
      this.issues.add(
        {
          location: this.format(source, 0),
          path: '',
          message: `expected a mapping at the top level, found ${found}`,
          severity: 'error',
        },
        this.order(source, 0),
      );
      return null;
    }
    return root;
  }

  /** Location of a node's first character. */
  locate(node: Node): Location {
    const source = this.owners.get(node) ?? this.sources[0]!;
    const offset = node.range?.[0] ?? 0;
    return { location: this.format(source, offset), order: this.order(source, offset) };
  }

  /** Follows an alias (`*anchor`) to the node it names. */
  resolve(node: unknown): Node | null {
    if (isAlias(node)) {
      const source = this.owners.get(node);
      return (source ? (node.resolve(source.doc) ?? null) : null) as Node | null;
    }
    return (node ?? null) as Node | null;
  }

  /** The plain JS value of a node. */
  toJS(node: Node): unknown {
    const source = this.owners.get(node) ?? this.sources[0]!;
    return node.toJS(source.doc);
  }

  /**
   * Merges `overlay` into `base` as protobuf's MergeFrom does for Envoy's `--config-yaml`: scalars
   * replace, mappings merge field by field, sequences append.
   */
  merge(base: YAMLMap, overlay: YAMLMap): void {
    for (const pair of overlay.items) {
      const key = fieldKey(String(isScalar(pair.key) ? pair.key.value : pair.key));
      const target = base.items.find((p) => isScalar(p.key) && fieldKey(String(p.key.value)) === key);
      if (!target) {
        base.items.push(pair);
        continue;
      }
      const from = this.resolve(pair.value);
      const into = this.resolve(target.value);
      if (isMap(from) && isMap(into)) this.merge(into, from);
      else if (isSeq(from) && isSeq(into)) into.items.push(...from.items);
      else {
        target.key = pair.key;
        target.value = pair.value;
      }
    }
  }

  private format(source: YamlSource, offset: number): string {
    const { line, col } = source.lines.linePos(offset);
    return `${source.name}:${line}:${col}`;
  }

  private order(source: YamlSource, offset: number): number {
    return source.index * SOURCE_SPAN + offset;
  }
}

/** How an unexpected value is named in messages: "a mapping", "a list", "string 'x'", "number 5". */
export function describeNode(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `string '${v}'`;
    return `${typeof v} ${String(v)}`;
  }
  return 'an alias';
}
