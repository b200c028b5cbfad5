'use strict';
// Runs every compiled test file under dist/test with node's built-in runner.
// Node 20's `--test` takes files, not globs, so we collect them here.
//
// With LEGATE_NATIVE=0 (CI's second pass) the proxy runs on its pure-JS path. The addon's own unit
// tests (test/native) still test the addon, which is built either way, so they run without that
// variable; test/native/loader.test.ts checks in a child process that LEGATE_NATIVE=0 disables it.
const { readdirSync, statSync } = require('node:fs');
const { join, sep } = require('node:path');
const { spawnSync } = require('node:child_process');

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function run(files, env) {
  if (files.length === 0) return 0;
  // A test that hangs fails after 5 minutes instead of holding CI until its limit.
  const r = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-timeout=300000', ...files],
    {
      stdio: 'inherit',
      env,
    },
  );
  return r.status ?? 1;
}

const filter = process.argv[2];
const files = collect(join(__dirname, '..', 'dist', 'test'), []).filter((f) => !filter || f.includes(filter));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
if (process.env.LEGATE_NATIVE !== '0') process.exit(run(files, process.env));

const isAddonUnitTest = (f) => f.includes(`${sep}test${sep}native${sep}`);
const withAddon = { ...process.env };
delete withAddon.LEGATE_NATIVE;
const status = [
  run(
    files.filter((f) => !isAddonUnitTest(f)),
    process.env,
  ),
  run(files.filter(isAddonUnitTest), withAddon),
];
process.exit(status.every((s) => s === 0) ? 0 : 1);
