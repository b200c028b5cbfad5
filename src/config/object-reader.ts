/**
 * `ObjectReaderImpl`: the `ObjectReader` contract (config-reader.ts) over a `yaml` mapping node.
 * Each read marks the field as known and returns the value or, after recording a located issue,
 * the default, so parsing always continues and one run reports every mistake.
 *
 * Every reader made during a load is finished by `ReaderSession.finishAll()`, so a field nobody read
 * is always reported as unknown even if the code that read its mapping forgot to call `done()`.
 */
import type { BuildProblem } from './build-error';
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { ConfigIssue, ObjectReader } from './config-reader';
import type { IssueList } from './config-error';
import { durationFromParts, parseDurationString, type DurationResult } from './duration';
import { didYouMean, unknownValueMessage } from './suggest';
import { describeNode, fieldKey, type Location, type YamlSources } from './yaml-source';

/** What all readers of one load share: the parsed sources, the issue list, and each other. */
export class ReaderSession {
  private readonly readers: ObjectReaderImpl[] = [];
  /** The mapping each reader path was read from, for locating a path after parsing (`locatePath`). */
  private readonly mappings = new Map<string, YAMLMap>();

  constructor(
    readonly sources: YamlSources,
    readonly issues: IssueList,
  ) {}

  /** A reader over a whole document. */
  root(map: YAMLMap): ObjectReaderImpl {
    return new ObjectReaderImpl(this, '', map, this.sources.locate(map));
  }

  track(reader: ObjectReaderImpl, map: YAMLMap | null): void {
    this.readers.push(reader);
    if (map !== null && !this.mappings.has(reader.path)) this.mappings.set(reader.path, map);
  }

  /**
   * Where a config path (`static_resources.clusters[0].lb_policy`, as readers name fields) is
   * written: from the longest proper prefix some reader read, field by field and item by item (a
   * path may end in a scalar field or a list item no reader covers); a field is located at its key.
   * Falls back to the deepest node found, and to the document's start.
   */
  locatePath(path: string): Location {
    // Start above the path itself, so that a field path ends at its key (as parse errors do).
    const parent = (p: string): string => p.slice(0, Math.max(0, p.lastIndexOf('.'), p.lastIndexOf('[')));
    let prefix = parent(path);
    while (prefix !== '' && !this.mappings.has(prefix)) prefix = parent(prefix);
    const rest = prefix === '' ? `.${path}` : path.slice(prefix.length);
    let node: Node = this.mappings.get(prefix)!;
    let keyNode: Node | null = null;
    for (const step of rest.match(/\.[^.[]+|\[\d+\]/g) ?? []) {
      const next = this.step(node, step);
      if (next === null) break;
      [keyNode, node] = next;
    }
    return this.sources.locate(keyNode ?? node);
  }

  /** One path step below `node`: `.field` (its key and value) or `[i]` (the item). */
  private step(node: Node, step: string): [Node | null, Node] | null {
    if (step.startsWith('[')) {
      const item = isSeq(node) ? this.sources.resolve(node.items[Number(step.slice(1, -1))]) : null;
      return item === null ? null : [null, item];
    }
    if (!isMap(node)) return null;
    const key = fieldKey(step.slice(1));
    const pair = node.items.find((p) => fieldKey(keyText(p)) === key);
    if (pair === undefined) return null;
    const value = this.sources.resolve(pair.value);
    return [pair.key as Node, value ?? (pair.key as Node)];
  }

  /** Records what a build check found (config/build-error.ts) as errors located where each path is written. */
  addBuildProblems(problems: readonly BuildProblem[]): void {
    for (const problem of problems) {
      const where = this.locatePath(problem.path);
      this.issues.add(
        { location: where.location, path: problem.path, message: problem.message, severity: 'error' },
        where.order,
      );
    }
  }

  /** Reports unknown fields of every reader (readers already done are skipped). */
  finishAll(): void {
    for (const reader of this.readers) reader.done();
  }
}

const FRACTION_DENOMINATORS = ['HUNDRED', 'TEN_THOUSAND', 'MILLION'] as const;
const DENOMINATOR_VALUES = [100, 10_000, 1_000_000];
const YAML11_BOOLEANS = /^(yes|no|on|off|y|n|true|false|True|False|TRUE|FALSE)$/;

function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function keyText(pair: Pair): string {
  return String(isScalar(pair.key) ? pair.key.value : pair.key);
}

export class ObjectReaderImpl implements ObjectReader {
  /** Pairs some code looked at. */
  private readonly consumed = new Set<Pair>();
  /** Field names the code asked for: the vocabulary for did-you-mean on unknown fields. */
  private readonly asked = new Set<string>();
  /** Fields an error was reported at. */
  private readonly failedFields = new Set<string>();
  private finished = false;

  /**
   * `map` is null for a reader over a mapping that is absent (a required object or a filter's
   * missing typed_config): every read then yields defaults and `where` locates "missing" errors.
   */
  constructor(
    private readonly session: ReaderSession,
    readonly path: string,
    private readonly map: YAMLMap | null,
    private readonly where: Location,
  ) {
    session.track(this, map);
    this.reportSpellingDuplicates();
  }

  has(field: string): boolean {
    return this.value(field) !== null;
  }

  string(field: string, dflt = ''): string {
    const node = this.value(field);
    if (node === null) return dflt;
    if (isScalar(node) && ['string', 'number', 'boolean'].includes(typeof node.value))
      return String(node.value);
    this.typeError(field, 'a string', node);
    return dflt;
  }

  requiredString(field: string): string {
    if (!this.has(field)) {
      this.missing(field);
      return '';
    }
    const s = this.string(field);
    if (s === '') this.error(field, 'must not be empty');
    return s;
  }

  bool(field: string, dflt: boolean): boolean {
    const node = this.value(field);
    if (node === null) return dflt;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    if (isScalar(node) && typeof node.value === 'string' && YAML11_BOOLEANS.test(node.value)) {
      this.error(
        field,
        `expected true or false, found string '${node.value}'`,
        'write true or false (YAML 1.2)',
      );
    } else {
      this.typeError(field, 'true or false', node);
    }
    return dflt;
  }

  uint(field: string, dflt: number, opts?: { min?: number; max?: number }): number {
    const node = this.value(field);
    return node === null ? dflt : this.toUint(field, node, dflt, opts);
  }

  wrappedUint(field: string, dflt: number, opts?: { min?: number; max?: number }): number {
    const node = this.value(field);
    if (node === null) return dflt;
    if (isMap(node)) return this.nested(field, node).uint('value', dflt, opts);
    return this.toUint(field, node, dflt, opts);
  }

  durationMs(field: string, dfltMs: number): number {
    const node = this.value(field);
    if (node === null) return dfltMs;
    let result: DurationResult;
    if (isScalar(node) && typeof node.value === 'string') {
      result = parseDurationString(node.value);
    } else if (isMap(node)) {
      const parts = this.nested(field, node);
      result = durationFromParts(parts.uint('seconds', 0), parts.uint('nanos', 0, { max: 999_999_999 }));
    } else if (isScalar(node) && typeof node.value === 'number') {
      result = {
        ok: false,
        message: `expected a duration string, found number ${node.value}`,
        hint: `did you mean '${node.value}s'? (Envoy durations are strings of seconds with an 's' suffix)`,
      };
    } else {
      this.typeError(field, "a duration like '15s'", node);
      return dfltMs;
    }
    if (result.ok) return result.ms;
    this.error(field, result.message, result.hint);
    return dfltMs;
  }

  enumValue<T extends string>(field: string, values: readonly T[], dflt: T): T {
    const node = this.value(field);
    if (node === null) return dflt;
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'string') {
        const found = enumByName(values, v);
        if (found !== undefined) return found;
      }
      // Proto enums may be given by number; `values` lists the enum in proto order.
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < values.length) return values[v]!;
      if (typeof v === 'string' || typeof v === 'number') {
        this.error(field, unknownValueMessage('value', String(v), values), didYouMean(String(v), values));
        return dflt;
      }
    }
    this.typeError(field, `one of ${values.join(', ')}`, node);
    return dflt;
  }

  fractionalPercent(field: string, dflt: number): number {
    const r = this.object(field);
    if (!r) return dflt;
    const numerator = r.uint('numerator', 0);
    const denominator = r.enumValue('denominator', FRACTION_DENOMINATORS, 'HUNDRED');
    return Math.min(1, numerator / DENOMINATOR_VALUES[FRACTION_DENOMINATORS.indexOf(denominator)]!);
  }

  object(field: string): ObjectReaderImpl | null {
    const node = this.value(field);
    if (node === null) return null;
    if (isMap(node)) return this.nested(field, node);
    this.typeError(field, 'a mapping', node);
    return null;
  }

  requiredObject(field: string): ObjectReaderImpl {
    if (!this.has(field)) this.missing(field);
    return (
      this.object(field) ??
      new ObjectReaderImpl(this.session, this.childPath(field), null, this.fieldLocation(field))
    );
  }

  /** A reader over an absent mapping at `field`, located here (for a filter without typed_config). */
  absent(field: string): ObjectReaderImpl {
    return new ObjectReaderImpl(this.session, this.childPath(field), null, this.where);
  }

  objectArray(field: string): ObjectReaderImpl[] {
    const out: ObjectReaderImpl[] = [];
    this.forEachItem(field, true, (item, path, where) => {
      if (isMap(item)) out.push(new ObjectReaderImpl(this.session, path, item, where));
      else this.issueAt(path, where, 'error', `expected a mapping, found ${describeNode(item)}`);
    });
    return out;
  }

  stringArray(field: string): string[] {
    const out: string[] = [];
    this.forEachItem(field, false, (item, path, where) => {
      if (isScalar(item) && ['string', 'number', 'boolean'].includes(typeof item.value))
        out.push(String(item.value));
      else this.issueAt(path, where, 'error', `expected a string, found ${describeNode(item)}`);
    });
    return out;
  }

  raw(field: string): unknown {
    const node = this.value(field);
    return node === null ? undefined : this.session.sources.toJS(node);
  }

  unsupported(field: string, why?: string): void {
    if (this.has(field)) this.error(field, `not supported by Legate yet${why ? `: ${why}` : ''}`);
  }

  deprecated(field: string, advice: string): boolean {
    if (!this.has(field)) return false;
    this.warn(field, `deprecated; ${advice}`);
    return true;
  }

  oneOf(fields: readonly string[], required: boolean): string | null {
    const present = fields.filter((f) => this.has(f));
    if (present.length > 1) {
      this.error(
        present[1]!,
        `only one of ${fields.join(', ')} may be set, found '${present[0]}' and '${present[1]}'`,
      );
    } else if (present.length === 0 && required) {
      this.error('', `one of ${fields.join(', ')} is required`);
    }
    return present[0] ?? null;
  }

  /** Whether an error was reported at `field` (its value was unusable and a default stood in). */
  failed(field: string): boolean {
    return this.failedFields.has(field);
  }

  error(field: string, message: string, hint?: string): void {
    this.failedFields.add(field);
    this.issueAt(this.childPath(field), this.fieldLocation(field), 'error', message, hint);
  }

  followsFrom(field: string, cause: string): void {
    this.session.issues.followsFrom(this.childPath(field), cause);
  }

  warn(field: string, message: string): void {
    this.issueAt(this.childPath(field), this.fieldLocation(field), 'warning', message);
  }

  done(): void {
    if (this.finished || !this.map) return;
    this.finished = true;
    for (const pair of this.map.items) {
      if (this.consumed.has(pair)) continue;
      const key = keyText(pair);
      this.issueAt(
        this.childPath(key),
        this.session.sources.locate(pair.key as Node),
        'error',
        `unknown field '${key}'`,
        didYouMean(snakeCase(key), this.asked),
      );
    }
  }

  /** Whether `field` is present and was read by someone (e.g. by an LB factory). */
  isRead(field: string): boolean {
    const pair = this.findPair(field);
    return pair !== undefined && this.consumed.has(pair);
  }

  /** Names of the fields present in this mapping, as written. */
  presentFields(): string[] {
    return this.map ? this.map.items.map(keyText) : [];
  }

  /** Location of `field`'s key, or of this mapping when the field is absent or ''. */
  fieldLocation(field: string): Location {
    const pair = field === '' ? undefined : this.findPair(field);
    return pair ? this.session.sources.locate(pair.key as Node) : this.where;
  }

  childPath(field: string): string {
    if (field === '') return this.path;
    return this.path === '' ? field : `${this.path}.${field}`;
  }

  private nested(field: string, map: YAMLMap): ObjectReaderImpl {
    return new ObjectReaderImpl(this.session, this.childPath(field), map, this.session.sources.locate(map));
  }

  private findPair(field: string): Pair | undefined {
    if (!this.map) return undefined;
    const key = fieldKey(field);
    return this.map.items.find((p) => fieldKey(keyText(p)) === key);
  }

  /** The value node at `field` (aliases followed), or null when absent or YAML null. Marks it read. */
  private value(field: string): Node | null {
    this.asked.add(field);
    const pair = this.findPair(field);
    if (!pair) return null;
    this.consumed.add(pair);
    const node = this.session.sources.resolve(pair.value);
    return node === null || (isScalar(node) && node.value === null) ? null : node;
  }

  /** `mappingAsList`: a lone mapping is read as a one-item list (with a warning). */
  private forEachItem(
    field: string,
    mappingAsList: boolean,
    visit: (item: Node | null, path: string, where: Location) => void,
  ): void {
    const node = this.value(field);
    if (node === null) return;
    const sources = this.session.sources;
    if (mappingAsList && isMap(node)) {
      // Envoy's (protobuf's) JSON parser takes a lone object for a repeated field, and Envoy's own
      // example configs have relied on it.
      this.warn(field, "expected a list; this mapping is read as a list of one (add '- ' before it)");
      visit(node, `${this.childPath(field)}[0]`, sources.locate(node));
      return;
    }
    if (!isSeq(node)) {
      this.typeError(field, 'a list', node);
      return;
    }
    node.items.forEach((raw, i) => {
      const item = sources.resolve(raw);
      visit(item, `${this.childPath(field)}[${i}]`, item ? sources.locate(item) : sources.locate(node));
    });
  }

  private toUint(field: string, node: Node, dflt: number, opts?: { min?: number; max?: number }): number {
    let n: number;
    if (isScalar(node) && typeof node.value === 'number') n = node.value;
    else if (isScalar(node) && typeof node.value === 'string' && /^-?\d+$/.test(node.value))
      n = Number(node.value);
    else {
      this.typeError(field, 'a non-negative integer', node);
      return dflt;
    }
    const min = opts?.min ?? 0;
    const max = opts?.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(n)) this.error(field, `expected an integer, found ${n}`);
    else if (n < min || n > max) this.error(field, `${n} is out of range (${rangeText(min, max)})`);
    else return n;
    return dflt;
  }

  private typeError(field: string, expected: string, found: Node): void {
    this.error(field, `expected ${expected}, found ${describeNode(found)}`);
  }

  private missing(field: string): void {
    this.issueAt(this.childPath(field), this.where, 'error', `missing required field '${field}'`);
  }

  private issueAt(
    path: string,
    where: Location,
    severity: ConfigIssue['severity'],
    message: string,
    hint?: string,
  ): void {
    const issue: ConfigIssue = { location: where.location, path, message, severity };
    if (hint !== undefined) issue.hint = hint;
    this.session.issues.add(issue, where.order);
  }

  /** `lb_policy` and `lbPolicy` in one mapping name the same field: reject the pair. */
  private reportSpellingDuplicates(): void {
    if (!this.map) return;
    const seen = new Map<string, string>();
    for (const pair of this.map.items) {
      const key = keyText(pair);
      const first = seen.get(fieldKey(key));
      if (first === undefined) {
        seen.set(fieldKey(key), key);
        continue;
      }
      this.consumed.add(pair);
      this.issueAt(
        this.childPath(key),
        this.session.sources.locate(pair.key as Node),
        'error',
        `'${key}' repeats field '${first}'`,
      );
    }
  }
}

/**
 * `name` among `values`, ignoring case: Envoy parses config with protobuf's
 * case_insensitive_enum_parsing, so `strict_dns` is STRICT_DNS and `round_robin` ROUND_ROBIN.
 */
export function enumByName<T extends string>(values: readonly T[], name: string): T | undefined {
  const upper = name.toUpperCase();
  return values.find((v) => v === name) ?? values.find((v) => v.toUpperCase() === upper);
}

function rangeText(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return `must be at least ${min}`;
  return `must be between ${min} and ${max}`;
}
