/**
 * Building a worker's objects from the validated bootstrap (route tables, HTTP and network filter
 * factories, access loggers, clusters and their load balancers) compiles things the parser only
 * stored: header value formats, regex rewrites, log formats. A failure there names the config path
 * of what failed (`static_resources.listeners[0]…routes[2].route.regex_rewrite`), so the primary,
 * which runs the same build before any worker starts (and in `--mode validate`), can report it at
 * file:line:col like a parse error, and a worker that still fails says which field to fix.
 *
 * Builders collect the failures of all their parts (`buildEach`) before throwing, so one check
 * reports every broken route, not only the first.
 */

/** One failed build step: the config path of the field (or object) that failed, and why. */
export interface BuildProblem {
  readonly path: string;
  readonly message: string;
}

export class ConfigBuildError extends Error {
  constructor(readonly problems: readonly BuildProblem[]) {
    super(problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('\n'));
    this.name = 'ConfigBuildError';
  }
}

/** Runs `build`; an error it throws is located at `path` unless it already names a path. */
export function buildAt<T>(path: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw locate(err, path);
  }
}

/**
 * Builds every item; if any fails, throws one ConfigBuildError with the problems of all of them
 * (each reported once: a virtual host's mutation shared by its routes fails in each route).
 */
export function buildEach<I, T>(items: readonly I[], build: (item: I, index: number) => T): T[] {
  const out: T[] = [];
  const problems: BuildProblem[] = [];
  items.forEach((item, i) => {
    try {
      out.push(build(item, i));
    } catch (err) {
      problems.push(...locate(err, '').problems);
    }
  });
  if (problems.length > 0) throw new ConfigBuildError(unique(problems));
  return out;
}

/** Builds independent parts of one object, reporting the problems of all of them (see buildEach). */
export function buildAll<T extends unknown[]>(...parts: { [K in keyof T]: () => T[K] }): T {
  return buildEach(parts as (() => unknown)[], (part) => part()) as T;
}

/** The problems an error thrown by a build stands for ('' path when it names none). */
export function buildProblems(err: unknown): readonly BuildProblem[] {
  return locate(err, '').problems;
}

function locate(err: unknown, path: string): ConfigBuildError {
  if (err instanceof ConfigBuildError) return err;
  return new ConfigBuildError([{ path, message: err instanceof Error ? err.message : String(err) }]);
}

function unique(problems: readonly BuildProblem[]): BuildProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
