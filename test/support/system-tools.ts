/**
 * Tests that drive a system tool (wrk, nginx, promtool, …) ask for it here. On a machine without
 * it — the README promises `npm test` passes with only Node and npm — the test is skipped with a
 * visible reason. CI installs every tool and sets LEGATE_REQUIRE_TOOLS=1, which turns a missing
 * tool into a failure, so nothing CI is meant to run is silently skipped there.
 */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

const found = new Map<string, string | null>();

/** The tool's absolute path, or null when it is not on PATH. */
export function findTool(name: string): string | null {
  let path = found.get(name);
  if (path === undefined) {
    const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
    path = r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
    found.set(name, path);
  }
  return path;
}

/** True when CI asked for every tool to be present (a missing one fails instead of skipping). */
export function toolsRequired(): boolean {
  return process.env.LEGATE_REQUIRE_TOOLS === '1';
}

/**
 * Returns the tool's path, or skips the test (`t.skip`) and returns null when it is missing; under
 * LEGATE_REQUIRE_TOOLS=1 a missing tool throws, failing the test. Callers return on null.
 */
export function requireTool(t: TestContext, name: string, debianPackage = name): string | null {
  const path = findTool(name);
  if (path !== null) return path;
  const reason = `needs '${name}' (Debian package ${debianPackage}), not installed on this machine`;
  if (toolsRequired()) throw new Error(`${reason}; LEGATE_REQUIRE_TOOLS=1 forbids skipping`);
  t.skip(reason);
  return null;
}
