/**
 * Config templates in `bench/conf/`: `{{NAME}}` placeholders filled per run (ports, run directory,
 * upstream lists). A placeholder left unfilled is an error, so a template and its caller cannot
 * silently drift apart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function renderTemplate(text: string, vars: Record<string, string | number>): string {
  const out = text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (whole, key: string) =>
    key in vars ? String(vars[key]) : whole,
  );
  const left = /\{\{([A-Z0-9_]+)\}\}/.exec(out);
  if (left) throw new Error(`template placeholder {{${left[1]}}} has no value`);
  return out;
}

/** Renders `bench/conf/<template>` into `<runDir>/<outName>` and returns the written path. */
export function writeConfig(
  benchDir: string,
  template: string,
  runDir: string,
  outName: string,
  vars: Record<string, string | number>,
): string {
  const path = join(runDir, outName);
  writeFileSync(
    path,
    renderTemplate(readFileSync(join(benchDir, 'conf', template), 'utf8'), { RUNDIR: runDir, ...vars }),
  );
  return path;
}
