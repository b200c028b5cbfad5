import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest ancestor with bench/scenarios (works from dist/ and .build/). */
export function findRepoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'bench', 'scenarios')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (a directory with bench/scenarios)');
    dir = up;
  }
}
