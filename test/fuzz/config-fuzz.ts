/**
 * Config mutation fuzzer (issue 10): takes every valid config the tests know (corpus.ts), mutates it
 * (keys deleted, duplicated, renamed in another case; scalars changed in type, value, case and
 * range; enum values swapped; subtrees moved; raw bytes and lines changed) and checks two things of
 * each mutant:
 *
 * 1. validation never crashes: loading it (with the primary's build check, as `--mode validate`
 *    does) ends in OK or in a ConfigError whose every issue is located (`<config-yaml>:line:col`)
 *    and says something, never in another exception;
 * 2. validation never accepts what a worker rejects: an accepted mutant is built as a worker builds
 *    it (worker/data-plane.ts `buildDataPlane`, in this thread, no socket; DNS answered at once and
 *    awaited, so DNS clusters build their load balancers over hosts), which must succeed.
 *
 * Seeded and bounded: the same seed gives the same mutants. `npm test` runs a few hundred
 * iterations (config-fuzz.test.ts); `node dist/test/fuzz/run-config-fuzz.js` runs as many as
 * LEGATE_FUZZ_ITERATIONS says, from LEGATE_FUZZ_SEED (default: random), and prints the seed.
 */
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  Scalar,
  YAMLMap,
  YAMLSeq,
  type Document,
  type Node,
  type Pair,
} from 'yaml';
import { ConfigError } from '../../src/config/config-error';
import type { ConfigIssue } from '../../src/config/config-reader';
import { loadBootstrap } from '../../src/config/load';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import { CHECK_SINKS } from '../../src/access-log/check-sinks';
import { getLogLevel, setLogLevel } from '../../src/common/log';
import {
  buildDataPlane,
  checkDataPlane,
  closeDataPlane,
  singleWorkerDeps,
} from '../../src/worker/data-plane';
import { validCorpus, type CorpusConfig } from './corpus';
import { Random, type FuzzRunOptions } from './random';

export { fuzzOptionsFromEnv } from './random';

export type ConfigFuzzOptions = FuzzRunOptions;

export interface ConfigFuzzFailure {
  readonly iteration: number;
  readonly seedConfig: string;
  readonly mutations: readonly string[];
  readonly problem: string;
  readonly text: string;
}

export interface ConfigFuzzResult {
  readonly seed: number;
  readonly iterations: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly failures: readonly ConfigFuzzFailure[];
  readonly slowestMs: number;
  readonly elapsedMs: number;
}

/** One iteration longer than this is a failure (a hang in waiting: a regex blowing up, a loop). */
const SLOW_ITERATION_MS = 2000;
/** Stop collecting after this many failures: they are usually one bug seen many times. */
const MAX_FAILURES = 10;

/** Runs the fuzzer; never throws for a finding (they are returned), only for its own bugs. */
export async function fuzzConfigs(opts: ConfigFuzzOptions): Promise<ConfigFuzzResult> {
  // Workers log how they build (tcp_proxy's relay); thousands of builds would bury the findings.
  const level = getLogLevel();
  setLogLevel('warn');
  try {
    return await run(opts);
  } finally {
    setLogLevel(level);
  }
}

async function run(opts: ConfigFuzzOptions): Promise<ConfigFuzzResult> {
  const started = performance.now();
  const random = new Random(opts.seed);
  const registry = createBuiltinRegistry();
  const seeds = validCorpus().filter((c) => verdict(c.text).kind === 'accepted');
  if (seeds.length === 0) throw new Error('config fuzzer: no valid seed config');
  const vocabulary = collectVocabulary(seeds);
  const failures: ConfigFuzzFailure[] = [];
  let accepted = 0;
  let rejected = 0;
  let slowestMs = 0;
  for (let i = 0; i < opts.iterations && failures.length < MAX_FAILURES; i++) {
    const seedConfig = random.pick(seeds);
    const { text, mutations } = mutate(seedConfig.text, random, vocabulary);
    const t0 = performance.now();
    const v = verdict(text);
    let problem = v.kind === 'crashed' || v.kind === 'unlocated' ? v.detail : null;
    if (v.kind === 'accepted') {
      accepted++;
      problem = await workerRejects(text, registry);
    } else rejected++;
    const ms = performance.now() - t0;
    slowestMs = Math.max(slowestMs, ms);
    if (problem === null && ms > SLOW_ITERATION_MS) problem = `took ${Math.round(ms)} ms`;
    if (problem !== null)
      failures.push({ iteration: i, seedConfig: seedConfig.name, mutations, problem, text });
  }
  return {
    seed: opts.seed,
    iterations: accepted + rejected,
    accepted,
    rejected,
    failures,
    slowestMs,
    elapsedMs: performance.now() - started,
  };
}

/** A readable account of a run's failures, seed first (to rerun: LEGATE_FUZZ_SEED=<seed>). */
export function describeFailures(result: ConfigFuzzResult): string {
  return [
    `config fuzzer: ${result.failures.length} failure(s) with LEGATE_FUZZ_SEED=${result.seed} ` +
      `(${result.iterations} iterations)`,
    ...result.failures.map(
      (f) =>
        `--- iteration ${f.iteration}, from ${f.seedConfig}, mutations: ${f.mutations.join('; ')}\n` +
        `problem: ${f.problem}\n${f.text.length > 4000 ? `${f.text.slice(0, 4000)}\n[…]` : f.text}`,
    ),
  ].join('\n');
}

// ---------------------------------------------------------------- the two checks

type Verdict =
  | { kind: 'accepted' }
  | { kind: 'rejected' }
  | { kind: 'crashed'; detail: string }
  | { kind: 'unlocated'; detail: string };

const LOCATION = /^<config-yaml>:(\d+):(\d+)$/;

/** What validation (parse + the primary's build check) says of `text`. */
function verdict(text: string): Verdict {
  const registry = createBuiltinRegistry();
  try {
    loadBootstrap({ configYaml: text, check: (b) => checkDataPlane(b, registry) }, registry);
    return { kind: 'accepted' };
  } catch (err) {
    if (!(err instanceof ConfigError))
      return { kind: 'crashed', detail: `validation threw ${(err as Error).stack ?? String(err)}` };
    const lines = text.split('\n').length;
    const bad = flatten(err.issues).find((i) => {
      const m = LOCATION.exec(i.location);
      return m === null || Number(m[1]) < 1 || Number(m[1]) > lines || Number(m[2]) < 1 || i.message === '';
    });
    if (bad !== undefined)
      return { kind: 'unlocated', detail: `issue without a location in the text: ${JSON.stringify(bad)}` };
    if (!err.issues.some((i) => i.severity === 'error'))
      return { kind: 'unlocated', detail: `rejected without a top-level error:\n${err.format()}` };
    return { kind: 'rejected' };
  }
}

function flatten(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return issues.flatMap((i) => [i, ...flatten(i.consequences ?? [])]);
}

/**
 * Builds an accepted config as a worker does and lets DNS clusters get their hosts; returns why
 * that failed, or null. Access log files are checked, not created (mutants name odd paths).
 */
async function workerRejects(
  text: string,
  registry: ReturnType<typeof createBuiltinRegistry>,
): Promise<string | null> {
  let stage = 'loading';
  try {
    const { bootstrap } = loadBootstrap({ configYaml: text }, registry);
    stage = 'building';
    const plane = buildDataPlane({
      ...singleWorkerDeps(bootstrap, registry),
      dnsResolver: () => Promise.resolve(['127.0.0.1', '127.0.0.2']),
      accessLogSinks: CHECK_SINKS,
    });
    try {
      stage = 'resolving DNS clusters';
      await plane.services.clusterManager.initialize();
    } finally {
      closeDataPlane(plane);
    }
    return null;
  } catch (err) {
    return `validation accepted it, but ${stage} it as a worker failed: ${(err as Error).stack ?? String(err)}`;
  }
}

// ---------------------------------------------------------------- mutations

/** Scalars and keys seen in the seeds: mutants reuse them so that they stay near-valid. */
interface Vocabulary {
  readonly keys: string[];
  readonly enums: string[];
  readonly strings: string[];
}

function collectVocabulary(seeds: readonly CorpusConfig[]): Vocabulary {
  const keys = new Set<string>();
  const enums = new Set<string>();
  const strings = new Set<string>();
  for (const seed of seeds) {
    const doc = parseDocument(seed.text);
    for (const { pair } of pairsOf(doc)) keys.add(String((pair.key as Scalar).value));
    for (const s of scalarsOf(doc)) {
      if (typeof s.value !== 'string') continue;
      if (/^[A-Z][A-Z0-9_]+$/.test(s.value)) enums.add(s.value);
      else strings.add(s.value);
    }
  }
  return { keys: [...keys], enums: [...enums], strings: [...strings] };
}

const STRANGE_STRINGS = [
  '',
  ' ',
  '%',
  '%%',
  '%NOPE%',
  '%REQ(',
  '%REQ(x)%',
  '%START_TIME(%s%Q)%',
  '\\',
  '\\9',
  '(',
  '[',
  '(?=a)',
  '(a)\\1',
  '*',
  '*.*',
  '.*',
  'x'.repeat(5000),
  '/',
  '//',
  '/a?b#c',
  'a\r\nb',
  '\u0000',
  'é✓',
  '0',
  '-1',
  '1s',
  '-1s',
  '1.5',
  'true',
  'null',
  '~',
  '@type',
  'type.googleapis.com/',
  '127.0.0.1',
  '::1',
  '0.0.0.0',
  'localhost',
  'web_service',
  '-host',
  '999.1.1.1',
  '/nonexistent/dir/x.log',
  '/dev/stdout',
  '/tmp',
];
const STRANGE_NUMBERS = [
  0,
  -1,
  1,
  2,
  100,
  101,
  255,
  65535,
  65536,
  2 ** 31,
  2 ** 32,
  2 ** 53 + 2,
  1e308,
  0.5,
  -0.5,
];

type Mutation = (doc: Document, random: Random, words: Vocabulary) => string | null;

/** Structural mutations, on the parsed document; each returns what it did, or null if it could not. */
const DOCUMENT_MUTATIONS: readonly Mutation[] = [
  function deleteKey(doc, random) {
    const target = random.maybePick(pairsOf(doc));
    if (!target) return null;
    target.map.items.splice(target.map.items.indexOf(target.pair), 1);
    return `delete key ${keyOf(target.pair)}`;
  },
  function duplicateKey(doc, random) {
    const target = random.maybePick(pairsOf(doc));
    if (!target) return null;
    target.map.items.push(doc.createPair(keyOf(target.pair), clone(doc, target.pair.value)));
    return `duplicate key ${keyOf(target.pair)}`;
  },
  function renameKey(doc, random, words) {
    const target = random.maybePick(pairsOf(doc));
    if (!target) return null;
    const key = keyOf(target.pair);
    const renamed = random.pick([
      key.toUpperCase(),
      key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
      key.slice(0, -1),
      `${key}s`,
      random.pick(words.keys),
    ]);
    target.pair.key = doc.createNode(renamed);
    return `rename key ${key} to ${renamed}`;
  },
  function addKnownKey(doc, random, words) {
    const map = random.maybePick(mapsOf(doc));
    if (!map) return null;
    const key = random.pick(words.keys);
    map.items.push(doc.createPair(key, randomValue(doc, random, words)));
    return `add key ${key}`;
  },
  function changeScalarType(doc, random, words) {
    const target = random.maybePick(valueSlotsOf(doc));
    if (!target) return null;
    const value = randomValue(doc, random, words);
    target.set(value);
    return `replace a value with ${describe(value)}`;
  },
  function swapEnum(doc, random, words) {
    const target = random.maybePick(scalarsOf(doc).filter((s) => typeof s.value === 'string'));
    if (!target || words.enums.length === 0) return null;
    const next = random.pick([
      random.pick(words.enums),
      String(target.value).toLowerCase(),
      String(target.value).toUpperCase(),
      mixedCase(String(target.value), random),
    ]);
    const before = String(target.value);
    target.value = next;
    return `change '${before}' to '${next}'`;
  },
  function strangeString(doc, random, words) {
    const target = random.maybePick(scalarsOf(doc).filter((s) => typeof s.value === 'string'));
    if (!target) return null;
    const next = random.chance(0.5)
      ? random.pick(STRANGE_STRINGS)
      : random.pick(words.strings) + random.pick(STRANGE_STRINGS);
    target.value = next;
    return `set a string to ${JSON.stringify(next.slice(0, 40))}`;
  },
  function strangeNumber(doc, random) {
    const target = random.maybePick(
      scalarsOf(doc).filter((s) => typeof s.value === 'number' || /^\d+(\.\d+)?s?$/.test(String(s.value))),
    );
    if (!target) return null;
    const n = random.pick(STRANGE_NUMBERS);
    const asDuration = typeof target.value === 'string' && String(target.value).endsWith('s');
    target.value = asDuration ? `${n}s` : n;
    return `set a number to ${String(target.value)}`;
  },
  function moveSubtree(doc, random) {
    const from = random.maybePick(pairsOf(doc));
    const to = random.maybePick(mapsOf(doc));
    if (!from || !to || to === from.map || contains(from.pair.value, to)) return null;
    from.map.items.splice(from.map.items.indexOf(from.pair), 1);
    to.items.push(from.pair);
    return `move key ${keyOf(from.pair)}`;
  },
  function wrapOrUnwrapList(doc, random) {
    const target = random.maybePick(valueSlotsOf(doc));
    if (!target) return null;
    const value = target.get();
    if (isSeq(value) && value.items.length > 0) {
      target.set(value.items[0] as Node);
      return 'replace a list by its first item';
    }
    const seq = new YAMLSeq();
    seq.items.push(value);
    target.set(seq);
    return 'wrap a value in a list';
  },
  function copySubtree(doc, random) {
    const from = random.maybePick(valueSlotsOf(doc));
    const to = random.maybePick(valueSlotsOf(doc));
    if (!from || !to) return null;
    to.set(clone(doc, from.get()));
    return 'copy a value over another';
  },
  function duplicateListItem(doc, random) {
    const seq = random.maybePick(seqsOf(doc).filter((s) => s.items.length > 0));
    if (!seq) return null;
    seq.items.push(clone(doc, random.pick(seq.items)));
    return 'duplicate a list item';
  },
];

/** Text mutations: what no document edit can produce (syntax errors, indentation, stray bytes). */
const TEXT_MUTATIONS: readonly ((text: string, random: Random) => { text: string; what: string })[] = [
  function replaceBytes(text, random) {
    const at = random.int(text.length);
    const n = 1 + random.int(4);
    const bytes = Array.from({ length: n }, () => random.pick([...'[]{}"\'#:-, \t\n%&*!|>?@`\\\u0000é']));
    return {
      text: text.slice(0, at) + bytes.join('') + text.slice(at + random.int(3)),
      what: `bytes at ${at}`,
    };
  },
  function truncate(text, random) {
    const at = random.int(text.length);
    return { text: text.slice(0, at), what: `truncate at ${at}` };
  },
  function lineEdit(text, random) {
    const lines = text.split('\n');
    const i = random.int(lines.length);
    const op = random.int(4);
    if (op === 0) lines.splice(i, 1);
    else if (op === 1) lines.splice(i, 0, lines[i]!);
    else if (op === 2) lines[i] = ` ${lines[i]!}`;
    else lines[i] = lines[i]!.replace(/^ {1,2}/, '');
    return { text: lines.join('\n'), what: `${['delete', 'repeat', 'indent', 'dedent'][op]} line ${i + 1}` };
  },
];

function mutate(seed: string, random: Random, words: Vocabulary): { text: string; mutations: string[] } {
  const mutations: string[] = [];
  let text = seed;
  const structural = 1 + random.int(3);
  const doc = parseDocument(seed);
  for (let i = 0; i < structural; i++) {
    const what = random.pick(DOCUMENT_MUTATIONS)(doc, random, words);
    if (what !== null) mutations.push(what);
  }
  text = doc.toString({ lineWidth: 0 });
  if (random.chance(0.25)) {
    const m = random.pick(TEXT_MUTATIONS)(text, random);
    text = m.text;
    mutations.push(m.what);
  }
  return { text, mutations };
}

// ---------------------------------------------------------------- document walking

interface PairSlot {
  readonly map: YAMLMap;
  readonly pair: Pair;
}

interface ValueSlot {
  get(): Node;
  set(value: Node): void;
}

function walk(node: unknown, visit: (node: Node) => void): void {
  if (!node || typeof node !== 'object') return;
  visit(node as Node);
  if (isMap(node)) for (const p of node.items) walk(p.value, visit);
  else if (isSeq(node)) for (const item of node.items) walk(item, visit);
}

function mapsOf(doc: Document): YAMLMap[] {
  const out: YAMLMap[] = [];
  walk(doc.contents, (n) => isMap(n) && out.push(n));
  return out;
}

function seqsOf(doc: Document): YAMLSeq[] {
  const out: YAMLSeq[] = [];
  walk(doc.contents, (n) => isSeq(n) && out.push(n));
  return out;
}

function scalarsOf(doc: Document): Scalar[] {
  const out: Scalar[] = [];
  walk(doc.contents, (n) => isScalar(n) && out.push(n));
  return out;
}

function pairsOf(doc: Document): PairSlot[] {
  return mapsOf(doc).flatMap((map) => map.items.filter(isPair).map((pair) => ({ map, pair })));
}

function valueSlotsOf(doc: Document): ValueSlot[] {
  const slots: ValueSlot[] = pairsOf(doc).map(({ pair }) => ({
    get: () => pair.value as Node,
    set: (v) => (pair.value = v),
  }));
  for (const seq of seqsOf(doc))
    seq.items.forEach((_, i) =>
      slots.push({ get: () => seq.items[i] as Node, set: (v) => (seq.items[i] = v) }),
    );
  return slots;
}

function keyOf(pair: Pair): string {
  return String(isScalar(pair.key) ? pair.key.value : pair.key);
}

function clone(doc: Document, node: unknown): Node {
  return doc.createNode(
    node && typeof node === 'object' && 'toJSON' in node ? (node as Node).toJSON() : node,
  );
}

function contains(root: unknown, target: Node): boolean {
  let found = false;
  walk(root, (n) => (found ||= n === target));
  return found;
}

function randomValue(doc: Document, random: Random, words: Vocabulary): Node {
  switch (random.int(7)) {
    case 0:
      return doc.createNode(random.pick(STRANGE_NUMBERS));
    case 1:
      return doc.createNode(random.chance(0.5));
    case 2:
      return new Scalar(null);
    case 3:
      return doc.createNode(random.pick(STRANGE_STRINGS));
    case 4:
      return doc.createNode(random.pick(words.enums.length > 0 ? words.enums : ['X']));
    case 5:
      return new YAMLSeq();
    default:
      return new YAMLMap();
  }
}

function describe(node: Node): string {
  if (isScalar(node)) return JSON.stringify(node.value)?.slice(0, 40) ?? 'undefined';
  return isSeq(node) ? 'a list' : 'a mapping';
}

function mixedCase(s: string, random: Random): string {
  return [...s].map((c) => (random.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
}
