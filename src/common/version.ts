/** Legate's version, from the package.json found above this compiled file (read once at startup). */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

function readVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

export const VERSION: string = readVersion();
