/**
 * Config problems are collected, not thrown one at a time: the loader keeps reading after an error
 * so the user sees every mistake in one run. `ConfigError` carries them all; `format()` prints one
 * line per issue, compiler style: `file:line:col: error: field.path: message; hint`, with the
 * issues that follow from it (an unknown filter type makes each of its fields unknown) indented
 * under it as notes, so the cause comes first.
 */
import type { ConfigIssue } from './config-reader';

/** How many consequences are printed under their cause; the rest are counted. */
const SHOWN_CONSEQUENCES = 3;

/** One line for one issue, then the issues that follow from it, indented under it. */
export function formatIssue(issue: ConfigIssue): string {
  const lines = [issueLine(issue, issue.severity)];
  const consequences = issue.consequences ?? [];
  for (const c of consequences.slice(0, SHOWN_CONSEQUENCES)) lines.push(`  ${issueLine(c, 'note')}`);
  const more = consequences.length - SHOWN_CONSEQUENCES;
  if (more > 0) lines.push(`  … and ${more} more issue${more === 1 ? '' : 's'} that follow from it`);
  return lines.join('\n');
}

function issueLine(issue: ConfigIssue, label: string): string {
  const where = issue.path === '' ? '' : `${issue.path}: `;
  const hint = issue.hint === undefined ? '' : `; ${issue.hint}`;
  return `${issue.location}: ${label}: ${where}${issue.message}${hint}`;
}

export class ConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }

  /** One line per issue (errors and the warnings found alongside them), in file order. */
  format(): string {
    return this.message;
  }
}

/**
 * The issues of one load, kept in file order. `order` is a sort key (source index, then offset in
 * the source) because the loader parses clusters before listeners but users read files top down.
 */
export class IssueList {
  private readonly entries: { issue: ConfigIssue; order: number; seq: number }[] = [];
  /** Subtrees whose issues follow from the issue at (or under) `cause`. */
  private readonly followers: { subtree: string; cause: string }[] = [];

  add(issue: ConfigIssue, order: number): void {
    this.entries.push({ issue, order, seq: this.entries.length });
  }

  /** Issues inside the config path `subtree` follow from the first issue at or under `cause`. */
  followsFrom(subtree: string, cause: string): void {
    this.followers.push({ subtree, cause });
  }

  get hasErrors(): boolean {
    return this.entries.some((e) => e.issue.severity === 'error');
  }

  /**
   * All issues sorted by position (ties keep the order they were found in), each consequence
   * moved under the issue it follows from (which keeps its place).
   */
  sorted(): ConfigIssue[] {
    const ordered = [...this.entries].sort((a, b) => a.order - b.order || a.seq - b.seq).map((e) => e.issue);
    const copies = new Map(ordered.map((i) => [i, { ...i }]));
    const top: ConfigIssue[] = [];
    for (const issue of ordered) {
      const cause = this.rootCause(issue, ordered);
      if (cause === issue) top.push(copies.get(issue)!);
      else (copies.get(cause)!.consequences ??= []).push(copies.get(issue)!);
    }
    return top;
  }

  warnings(): ConfigIssue[] {
    return this.sorted().filter((i) => i.severity === 'warning');
  }

  /** The issue `issue` ultimately follows from (itself when none). */
  private rootCause(issue: ConfigIssue, all: readonly ConfigIssue[]): ConfigIssue {
    let current = issue;
    // Each step moves to an issue found earlier in the chain at most once per rule: bounded.
    for (let step = 0; step <= this.followers.length; step++) {
      const rule = this.followers.find(
        (f) => within(current.path, f.subtree) && !within(current.path, f.cause),
      );
      const cause = rule && all.find((i) => i !== current && within(i.path, rule.cause));
      if (cause === undefined) return current;
      current = cause;
    }
    return current;
  }
}

/** Whether config path `path` is `prefix` or inside it. */
function within(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  const next = path[prefix.length];
  return next === undefined || next === '.' || next === '[' || prefix === '';
}
