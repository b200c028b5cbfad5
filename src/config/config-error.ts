/**
 * Config problems are collected, not thrown one at a time: the loader keeps reading after an error
 * so the user sees every mistake in one run. `ConfigError` carries them all; `format()` prints one
 * line per issue, compiler style: `file:line:col: error: field.path: message; hint`.
 */
import type { ConfigIssue } from './config-reader';

/** One line for one issue. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.path === '' ? '' : `${issue.path}: `;
  const hint = issue.hint === undefined ? '' : `; ${issue.hint}`;
  return `${issue.location}: ${issue.severity}: ${where}${issue.message}${hint}`;
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

  add(issue: ConfigIssue, order: number): void {
    this.entries.push({ issue, order, seq: this.entries.length });
  }

  get hasErrors(): boolean {
    return this.entries.some((e) => e.issue.severity === 'error');
  }

  /** All issues sorted by position (ties keep the order they were found in). */
  sorted(): ConfigIssue[] {
    return [...this.entries].sort((a, b) => a.order - b.order || a.seq - b.seq).map((e) => e.issue);
  }

  warnings(): ConfigIssue[] {
    return this.sorted().filter((i) => i.severity === 'warning');
  }
}
