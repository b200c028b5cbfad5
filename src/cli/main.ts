/**
 * `legate` command line: Envoy's flags (-c, --config-yaml, --concurrency, --mode, --log-level,
 * --drain-time-s), the short no-YAML form (--listen/--upstream/--lb, --print-config), and the
 * `reload`, `bench` and `bench-suite` subcommands.
 */
import { DynamicResources, type DynamicResourcesHost } from '../worker/dynamic-resources';
import { parseArgs } from 'node:util';
import * as os from 'node:os';
import { stringify as toYaml } from 'yaml';
import { createBuiltinRegistry } from '../registry/builtins';
import { loadBootstrap } from '../config/load';
import { ConfigError } from '../config/config-error';
import { LOG_LEVELS, log, setLogLevel, type LogLevel } from '../common/log';
import { VERSION } from '../common/version';
import { nativeStatus } from '../native';
import { Primary } from '../worker/primary';
import { checkDataPlane } from '../worker/data-plane';
import type { Bootstrap } from '../config/bootstrap';
import type { BuildProblem } from '../config/build-error';
import { buildShortFormBootstrap, SHORT_FORM_LB } from './short-form';
import { closest } from '../config/suggest';
import { runReloadCli } from './reload';

const OPTIONS = {
  'config-path': { type: 'string', short: 'c' },
  'config-yaml': { type: 'string' },
  concurrency: { type: 'string' },
  mode: { type: 'string', default: 'serve' },
  'log-level': { type: 'string', short: 'l', default: 'info' },
  'drain-time-s': { type: 'string', default: '600' },
  'http1-codec': { type: 'string' },
  listen: { type: 'string' },
  upstream: { type: 'string', multiple: true },
  lb: { type: 'string', default: 'round_robin' },
  admin: { type: 'string' },
  'print-config': { type: 'boolean', default: false },
  version: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const HELP = `Usage:
  legate -c envoy.yaml [--concurrency N] [--mode serve|validate] [--log-level LEVEL] [--drain-time-s S]
  legate --listen HOST:PORT --upstream HOST:PORT [--upstream …] [--lb ${SHORT_FORM_LB.join('|')}] [--admin HOST:PORT] [--print-config]
  legate reload [--admin HOST:PORT | --pid PID]   (re-read the running proxy's config; legate reload --help)
  legate bench URL -c CONNECTIONS -d DURATION [-R RATE] …   (load generator; legate bench --help)
  legate bench-suite [--full] [--scenario NAME] [--dry-run] … (nginx/HAProxy comparison; legate bench-suite --help)

Envoy flags:
  -c, --config-path FILE    Envoy v3 bootstrap (YAML or JSON)
      --config-yaml YAML    YAML merged over the file (as Envoy does)
      --concurrency N       worker threads (default: CPU count, ${os.availableParallelism()} here)
      --mode serve|validate validate: check the config, print OK or the errors, exit 0/1, open no sockets
  -l, --log-level LEVEL     ${LOG_LEVELS.join('|')} (default info)
      --drain-time-s S      how long SIGTERM/SIGINT waits for in-flight requests (default 600)
      --version             print the version and whether the native addon is active
Legate extensions:
      --http1-codec legate|uws  downstream codec for every HTTP listener (default legate; see README)
      --print-config        print the bootstrap the short form builds, as Envoy YAML, and exit
`;

export function main(argv: string[]): void {
  if (argv[0] === 'reload') {
    void runReloadCli(argv.slice(1)).then((code) => process.exit(code));
    return;
  }
  if (argv[0] === 'bench' || argv[0] === 'bench-suite') {
    void runSubcommand(argv[0], argv.slice(1));
    return;
  }
  run(argv).then(
    (code) => {
      if (code !== null) process.exit(code);
    },
    (err: Error) => {
      process.stderr.write(`legate: ${err.message}\n`);
      process.exit(1);
    },
  );
}

async function runSubcommand(name: string, argv: string[]): Promise<void> {
  const code =
    name === 'bench'
      ? await (await import('../bench/cli')).runBenchCli(argv)
      : await (await import('../../bench/suite')).runSuiteCli(argv);
  process.exit(code);
}

/** Returns an exit code, or null when the proxy is serving (the process lives on). */
async function run(argv: string[]): Promise<number | null> {
  const parsed = parseFlags(argv);
  if (typeof parsed === 'string') {
    process.stderr.write(parsed);
    return 1;
  }
  const v = parsed;
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v.version) {
    const n = nativeStatus();
    process.stdout.write(
      `legate version ${VERSION} (node ${process.version}; native addon ${n.active ? 'active' : `inactive: ${n.reason}`})\n`,
    );
    return 0;
  }
  const level = v['log-level'];
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    return usageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got '${level}'`);
  setLogLevel(level as LogLevel);
  if (v.mode !== 'serve' && v.mode !== 'validate')
    return usageError(`--mode: expected serve or validate, got '${v.mode}'`);
  const concurrency = v.concurrency === undefined ? os.availableParallelism() : Number(v.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    return usageError(`--concurrency: expected a positive integer, got '${v.concurrency}'`);
  const drainTimeS = Number(v['drain-time-s']);
  if (!Number.isFinite(drainTimeS) || drainTimeS < 0)
    return usageError(`--drain-time-s: expected seconds, got '${v['drain-time-s']}'`);
  const codec = v['http1-codec'];
  if (codec !== undefined && codec !== 'legate' && codec !== 'uws')
    return usageError(`--http1-codec: expected legate or uws, got '${codec}'`);

  let configYaml = v['config-yaml'];
  const path = v['config-path'];
  if (v.listen !== undefined || v.upstream !== undefined) {
    if (path !== undefined)
      return usageError('--listen/--upstream build a config themselves: do not combine them with -c');
    const short = buildShortFormBootstrap({
      listen: v.listen ?? '',
      upstreams: v.upstream ?? [],
      lb: v.lb,
      admin: v.admin ?? null,
    });
    const yaml = toYaml(short);
    if (v['print-config']) {
      process.stdout.write(yaml);
      return 0;
    }
    configYaml = configYaml === undefined ? yaml : yaml + '\n' + configYaml;
  } else if (v['print-config']) {
    return usageError('--print-config goes with the short form (--listen/--upstream)');
  }
  if (path === undefined && configYaml === undefined)
    return usageError('no config: give -c FILE, --config-yaml, or --listen/--upstream');

  const registry = createBuiltinRegistry();
  // Both modes build what every worker will build (with nothing opened) before anything starts, so
  // a config validate accepts cannot make the workers fail.
  const check = (bootstrap: Bootstrap): BuildProblem[] => {
    if (codec !== undefined) for (const l of bootstrap.listeners) l.http1Codec = codec;
    return checkDataPlane(bootstrap, registry);
  };
  let loaded;
  try {
    loaded = loadBootstrap({ path, configYaml, check }, registry);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.format() + '\n');
      return 1;
    }
    throw err;
  }
  for (const w of loaded.warnings) log.warn(`${w.location}: ${w.path}: ${w.message}`);
  if (v.mode === 'validate') {
    // The xDS files too: what they hold is what the workers would build next.
    const xds = new DynamicResources(registry, check, VALIDATE_ONLY).prepare(loaded.bootstrap);
    const problems = 'errors' in xds ? [xds.errors] : xds.rejections;
    if (problems.length > 0) {
      process.stderr.write(problems.join('\n') + '\n');
      return 1;
    }
    process.stdout.write(`configuration '${path ?? '<config-yaml>'}' OK\n`);
    return 0;
  }
  const bootstrap = loaded.bootstrap;
  const primary = new Primary(bootstrap, registry, {
    concurrency,
    drainTimeS,
    logLevel: level as LogLevel,
    commandLine: {
      config_path: path ?? '',
      config_yaml: v['config-yaml'] ?? '',
      log_level: level,
      mode: 'Serve',
    },
    rawConfig: loaded.raw,
    check,
    // A file can change; a config given only on the command line cannot.
    ...(path !== undefined
      ? { reloadConfig: () => loadBootstrap({ path, configYaml, check }, registry) }
      : {}),
  });
  await primary.start();
  return null;
}

/** `--mode validate` reads the xDS files once and applies nothing. */
const VALIDATE_ONLY: DynamicResourcesHost = {
  logsUpdates: false,
  enqueue: () => {},
  statics: () => {
    throw new Error('validate mode applies no update');
  },
  apply: () => Promise.resolve('validate mode applies no update'),
};

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: false }>>['values'];

/** parseArgs, with a did-you-mean for unknown flags; returns the error text on failure. */
function parseFlags(argv: string[]): Flags | string {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (err) {
    const msg = (err as Error).message;
    const m = /Unknown option '(-{1,2}[^']+)'/.exec(msg);
    if (m) {
      const flag = m[1]!.replace(/^-+/, '');
      const hint = closest(flag, Object.keys(OPTIONS));
      return `legate: unknown option '${m[1]}'${hint ? `; did you mean '--${hint}'?` : ''}\n${HELP}`;
    }
    return `legate: ${msg}\n`;
  }
}

function usageError(msg: string): number {
  process.stderr.write(`legate: ${msg}\n`);
  return 1;
}
