/**
 * `npm run perf`: runs every hot-path microbenchmark in this folder, one fresh process each (so one
 * benchmark's JIT state and garbage cannot colour the next), and prints their tables.
 * `npm run perf -- route` runs only the files whose name contains "route".
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';

const filter = process.argv[2] ?? '';
const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && f.includes(filter))
  .sort();
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n=== perf/${f.replace(/\.js$/, '.ts')} ===\n`);
  const r = spawnSync(process.execPath, [path.join(__dirname, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
