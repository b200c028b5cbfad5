'use strict';
// Builds Legate's optional native addon (native-bindings/build/Release/legate_native.node).
//
// Run by npm as the root package's `install` script (npm install / npm ci), or by hand:
//   node native-bindings/build.js
// It never fails the install: without a compiler or headers Legate runs on its pure-JS
// path (each listener served from one thread), so a failed build prints one warning line
// and exits 0. The full node-gyp output is kept in native-bindings/build/node-gyp.log.
// Set LEGATE_NATIVE=0 to skip the build entirely.
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const BINDINGS_DIR = __dirname;
const BUILD_DIR = path.join(BINDINGS_DIR, 'build');
const LOG_FILE = path.join(BUILD_DIR, 'node-gyp.log');
const BUILD_TIMEOUT_MS = 5 * 60 * 1000;

/** The node-gyp to run, as [command, ...leading args]: npm's own when npm tells us, else npm's bundled one, else npx. */
function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const bundled = path.resolve(
    path.dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  if (existsSync(bundled)) return [process.execPath, bundled];
  return ['npx', '--yes', 'node-gyp'];
}

/**
 * Extra node-gyp flags. Under npm, node-gyp reads npm's config (e.g. nodedir) from the
 * environment. Run by hand, point it at the running Node's installed headers when present,
 * so it neither downloads headers nor builds against a different Node.
 */
function nodeDirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function warn(message) {
  process.stderr.write(
    `legate: WARNING: ${message}; Legate will use its pure-JS path (one thread per listener).\n`,
  );
}

function main() {
  if (process.env.LEGATE_NATIVE === '0') {
    process.stdout.write('legate: LEGATE_NATIVE=0, skipping the native addon build.\n');
    return;
  }
  const [command, ...leading] = findNodeGyp();
  const result = spawnSync(command, [...leading, 'rebuild', ...nodeDirArgs()], {
    cwd: BINDINGS_DIR,
    encoding: 'utf8',
    timeout: BUILD_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  const log = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.stack}\n` : ''}`;
  try {
    mkdirSync(BUILD_DIR, { recursive: true });
    writeFileSync(LOG_FILE, log);
  } catch {
    // The log is a convenience; failing to write it must not fail the install.
  }
  const addon = path.join(BUILD_DIR, 'Release', 'legate_native.node');
  if (result.status === 0 && existsSync(addon)) {
    process.stdout.write(`legate: native addon built: ${path.relative(process.cwd(), addon)}\n`);
    return;
  }
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status ?? result.signal}`;
  warn(`native addon build failed (${why}; see ${path.relative(process.cwd(), LOG_FILE)})`);
}

main();
