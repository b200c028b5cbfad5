/**
 * The help texts and the commands agree: every flag `legate --help`, `legate bench --help` and
 * `legate bench-suite --help` advertise (usage lines included) is tried, with a sample value for its
 * placeholder or each of its listed choices, in a mode that starts nothing: `--mode validate` or the
 * short form's `--print-config` for the proxy, the option parser for `bench`, `--dry-run` for
 * `bench-suite`. A flag the help lists but the command rejects fails here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { BenchUsageError, parseBenchArgs } from '../../src/bench/options';
import { parseReloadArgs } from '../../src/cli/reload';
import { REPO_ROOT } from '../repo-root';

const LEGATE = path.join(__dirname, '..', '..', 'src', 'cli', 'run.js');
const CONFIG = path.join(REPO_ROOT, 'examples', 'quickstart.yaml');
const OUT_DIR = mkdtempSync(path.join(tmpdir(), 'legate-help-'));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion; a run that outlives 15 s (something started serving) is killed and fails. */
function legate(args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [LEGATE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`legate ${args.join(' ')} did not exit: it must start nothing`));
    }, 15_000);
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Advertised {
  flag: string;
  /** Values to try: a sample per placeholder, each listed choice; [] for a boolean flag. */
  values: string[];
  /** The help line it came from (for messages). */
  line: string;
}

/** A value that a placeholder stands for, good enough to pass validation. */
const SAMPLES: Record<string, string> = {
  FILE: CONFIG,
  YAML: 'admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }',
  N: '2',
  S: '5',
  T: '1s',
  LEVEL: 'debug',
  'HOST:PORT': '127.0.0.1:10000',
  CONNECTIONS: '2',
  DURATION: '1s',
  RATE: '10',
  M: 'POST',
  NAME: 'run-name',
  "'N: v'": 'X-Test: 1',
  PID: '4242',
  'A,B': 'legate',
  DIR: OUT_DIR,
};

/**
 * The flags a help text mentions, with what follows each: an upper-case placeholder, a quoted
 * example, or a `a|b` list of choices. `-c, --config-path FILE` gives `-c` the long form's value.
 */
export function advertisedFlags(help: string, samples: Record<string, string> = SAMPLES): Advertised[] {
  const byFlag = new Map<string, Advertised>();
  const token =
    /(?<![\w-])(--?[A-Za-z][\w-]*)(,?)(?:[ =]+('[^']*'|[A-Z][A-Z0-9_:,.]*(?![a-z])|[a-z0-9_-]+(?:\|[a-z0-9_-]+)+))?/g;
  for (const raw of help.split('\n')) {
    const line = raw.replace(/[[\]]/g, ' ');
    let alias: string | null = null;
    for (const m of line.matchAll(token)) {
      const [, flag, comma, value] = m as unknown as [string, string, string, string | undefined];
      const entry = byFlag.get(flag) ?? { flag, values: [], line: raw.trim() };
      byFlag.set(flag, entry);
      if (value !== undefined) {
        const values = value.includes('|')
          ? value.split('|')
          : [samples[value] ?? `<no sample for ${value}>`];
        for (const v of values) if (!entry.values.includes(v)) entry.values.push(v);
        if (alias !== null)
          for (const v of values)
            if (!byFlag.get(alias)!.values.includes(v)) byFlag.get(alias)!.values.push(v);
      }
      alias = comma === ',' ? flag : null;
    }
  }
  return [...byFlag.values()];
}

/** Each flag × value as the argument list to try. */
function trials(flags: Advertised[]): { args: string[]; line: string }[] {
  return flags.flatMap((f) =>
    f.values.length === 0
      ? [{ args: [f.flag], line: f.line }]
      : f.values.map((v) => ({ args: [f.flag, v], line: f.line })),
  );
}

/** Runs `fn` over `items`, `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Splits `legate --help` into the proxy's part and the lines that advertise a subcommand. */
function mainHelpParts(help: string): { proxy: string; bench: string; suite: string; reload: string } {
  const lines = help.split('\n');
  const isSub = (l: string, name: string): boolean => l.trim().startsWith(`legate ${name} `);
  const subs = ['bench', 'bench-suite', 'reload'];
  return {
    proxy: lines.filter((l) => !subs.some((name) => isSub(l, name))).join('\n'),
    bench: lines.filter((l) => isSub(l, 'bench')).join('\n'),
    suite: lines.filter((l) => isSub(l, 'bench-suite')).join('\n'),
    reload: lines.filter((l) => isSub(l, 'reload')).join('\n'),
  };
}

test('the flag finder reads placeholders, choices, aliases and quoted examples', () => {
  const flags = advertisedFlags(
    "  legate -c envoy.yaml [--mode serve|validate] [--upstream …]\n  -c, --config-path FILE   x\n  -H, --header 'N: v'  y\n      --dry-run   z --list shows",
  );
  const of = (f: string): string[] | undefined => flags.find((a) => a.flag === f)?.values;
  assert.deepEqual(of('--mode'), ['serve', 'validate']);
  assert.deepEqual(of('-c'), [CONFIG]);
  assert.deepEqual(of('--config-path'), [CONFIG]);
  assert.deepEqual(of('-H'), ['X-Test: 1']);
  assert.deepEqual(of('--dry-run'), []);
  assert.deepEqual(of('--upstream'), []);
  assert.deepEqual(of('--list'), []);
});

test('every flag `legate --help` lists is accepted by legate (in validate or print-config mode)', async () => {
  const help = await legate(['--help']);
  assert.equal(help.code, 0);
  const flags = advertisedFlags(mainHelpParts(help.stdout).proxy);
  const names = flags.map((f) => f.flag);
  for (const f of [
    '-c',
    '--config-path',
    '--config-yaml',
    '--concurrency',
    '--mode',
    '-l',
    '--log-level',
    '--drain-time-s',
    '--http1-codec',
    '--listen',
    '--upstream',
    '--lb',
    '--admin',
    '--print-config',
    '--version',
  ])
    assert.ok(names.includes(f), `the help lists ${f}`);
  const validate = ['--mode', 'validate', '-c', CONFIG];
  const shortForm = ['--listen', '127.0.0.1:10000', '--upstream', '127.0.0.1:10001', '--print-config'];
  const rejected: string[] = [];
  await eachLimited(trials(flags), 4, async (t) => {
    const tried: string[] = [];
    // Flags of the short form's usage line are tried there first (one run each in the usual case).
    const contexts = t.line.includes('--listen') ? [shortForm, validate, []] : [validate, shortForm, []];
    for (const context of contexts) {
      // The trial goes first: a later `--mode validate` wins over a sampled `--mode serve`.
      const r = await legate([...t.args, ...context]);
      if (r.code === 0) return;
      tried.push(`${[...t.args, ...context].join(' ')} → ${r.code}: ${r.stderr.split('\n')[0]}`);
    }
    rejected.push(`${t.args.join(' ')} (help: "${t.line}"):\n    ${tried.join('\n    ')}`);
  });
  assert.deepEqual(rejected, []);
});

test('every flag `legate bench --help` lists (and the bench line of `legate --help`) is accepted by its option parser', async () => {
  const [help, main] = await Promise.all([legate(['bench', '--help']), legate(['--help'])]);
  assert.equal(help.code, 0);
  const flags = advertisedFlags(`${help.stdout}\n${mainHelpParts(main.stdout).bench}`);
  const names = flags.map((f) => f.flag);
  for (const f of ['-c', '-d', '-R', '--rate', '--pipeline', '--html', '--no-progress'])
    assert.ok(names.includes(f), `lists ${f}`);
  const rejected: string[] = [];
  for (const t of trials(flags)) {
    if (t.args[0] === '--help' || t.args[0] === '-h') continue; // answered by the CLI before parsing, below
    try {
      parseBenchArgs(['http://127.0.0.1:1/', ...t.args]);
    } catch (err) {
      if (!(err instanceof BenchUsageError)) throw err;
      rejected.push(`${t.args.join(' ')} (help: "${t.line}"): ${err.message}`);
    }
  }
  assert.deepEqual(rejected, []);
  if (names.includes('-h')) assert.equal((await legate(['bench', '-h'])).code, 0);
});

test('every flag `legate bench-suite --help` lists (and the bench-suite line of `legate --help`) is accepted with --dry-run', async () => {
  const [help, main, list] = await Promise.all([
    legate(['bench-suite', '--help']),
    legate(['--help']),
    legate(['bench-suite', '--list']),
  ]);
  assert.equal(help.code, 0);
  // --scenario NAME needs a real scenario: the first one --list shows.
  const scenario = list.stdout.split(/\s+/)[0]!;
  const flags = advertisedFlags(`${help.stdout}\n${mainHelpParts(main.stdout).suite}`, {
    ...SAMPLES,
    NAME: scenario,
  });
  const names = flags.map((f) => f.flag);
  for (const f of [
    '--full',
    '--scenario',
    '--systems',
    '--reps',
    '--duration',
    '--out',
    '--list',
    '--dry-run',
  ])
    assert.ok(names.includes(f), `lists ${f}`);
  const rejected: string[] = [];
  await eachLimited(trials(flags), 4, async (t) => {
    const r = await legate(['bench-suite', '--dry-run', ...t.args]);
    if (r.code !== 0)
      rejected.push(`${t.args.join(' ')} (help: "${t.line}") → ${r.code}: ${r.stderr.split('\n')[0]}`);
  });
  assert.deepEqual(rejected, []);
});

test('bench-suite --dry-run rejects what the run would reject, with exit code 2', async () => {
  for (const args of [
    ['--reps', '0'],
    ['--duration', 'soon'],
    ['--scenario', 'no-such'],
    ['--systems', 'no-such'],
    ['--quick'],
  ]) {
    const r = await legate(['bench-suite', '--dry-run', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^legate bench-suite: /);
  }
});

test('every flag `legate reload --help` lists (and the reload line of `legate --help`) is accepted by its parser', async () => {
  const [help, main] = await Promise.all([legate(['reload', '--help']), legate(['--help'])]);
  assert.equal(help.code, 0);
  const flags = advertisedFlags(`${help.stdout}\n${mainHelpParts(main.stdout).reload}`);
  const names = flags.map((f) => f.flag);
  for (const f of ['--admin', '--pid']) assert.ok(names.includes(f), `lists ${f}`);
  const rejected = trials(flags)
    .map((t) => ({ t, parsed: parseReloadArgs(t.args) }))
    .filter(({ parsed }) => typeof parsed === 'string')
    .map(({ t, parsed }) => `${t.args.join(' ')} (help: "${t.line}"): ${String(parsed)}`);
  assert.deepEqual(rejected, []);
  assert.deepEqual(parseReloadArgs([]), { admin: { host: '127.0.0.1', port: 9901 } });
  assert.match(String(parseReloadArgs(['--admin', 'nope'])), /expected HOST:PORT/);
  assert.match(String(parseReloadArgs(['--pid', '1', '--admin', '127.0.0.1:1'])), /not both/);
  // Nothing listens there: the reload fails, and says so.
  const r = await legate(['reload', '--admin', '127.0.0.1:1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach the admin/);
});
