/**
 * The response-shape × connection-reuse matrix, end to end through the real `legate` process:
 * every response shape and upload shape of `shapes.ts` × fast, slow and pipelining clients × both
 * downstream codecs × native addon on and off, 5 requests in a row per cell. A cell fails on wrong
 * bytes, inconsistent framing, a request slower than the bound (a hang), or an upstream connection
 * reused when it must not be (or not reused when it should be). Failing cells print as a table.
 *
 * Then the differential run: the same cells through nginx in front of the same kind of origins,
 * compared with Legate's codec on what client and origin observe (`differential.ts`).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { requireTool } from '../support/system-tools';
import { disagreements } from './differential';
import { differenceList, failureTable, matrixCells, runMatrix, type CellOutcome } from './run';
import { RESPONSE_SHAPES, REQUESTS_PER_CELL, UPLOAD_SHAPES } from './shapes';
import { legateTarget, legateVariants, nginxTarget, variantName } from './targets';

const cells = matrixCells([...RESPONSE_SHAPES, ...UPLOAD_SHAPES]);
const variants = legateVariants();
const results = new Map<string, CellOutcome[]>();

before(async () => {
  const started = Date.now();
  await Promise.all(
    variants.map(async (v) => {
      results.set(variantName(v), await runMatrix(legateTarget(v), cells));
    }),
  );
  const requests = variants.length * cells.length * REQUESTS_PER_CELL;
  console.log(
    `shape matrix: ${variants.length} variants × ${cells.length} cells = ${variants.length * cells.length} cells, ` +
      `${requests} requests, ${Date.now() - started} ms`,
  );
});

for (const v of variants) {
  const name = variantName(v);
  test(`shape matrix: ${name}`, () => {
    const outcomes = results.get(name)!;
    assert.equal(outcomes.length, cells.length);
    const differences = differenceList(outcomes);
    if (differences.length > 0) console.log(`${name}: intended differences\n  ${differences.join('\n  ')}`);
    const table = failureTable(name, outcomes);
    if (table !== '') assert.fail(`\n${table}`);
  });
}

test('differential: nginx and Legate observe the same wherever they should agree', async (t) => {
  const nginxPath = requireTool(t, 'nginx');
  if (nginxPath === null) return;
  const nginx = nginxTarget(nginxPath);
  const runnable = cells.filter((c) => (nginx.unsupported?.(c) ?? null) === null);
  const leftOut = new Set(cells.filter((c) => !runnable.includes(c)).map((c) => nginx.unsupported!(c)!));
  const reference = variants.find((v) => v.codec === 'legate')!;
  const legate = results.get(variantName(reference))!;
  const started = Date.now();
  const outcomes = await runMatrix(nginx, runnable);
  console.log(
    `differential: ${runnable.length} cells through nginx vs ${variantName(reference)}, ${Date.now() - started} ms; ` +
      `left out: ${[...leftOut].join('; ') || 'none'}\n  intended differences:\n  ${differenceList(outcomes).join('\n  ')}`,
  );
  // nginx must behave as the matrix (with its listed differences) says, or the comparison is moot.
  const table = failureTable('nginx', outcomes);
  const rows = outcomes
    .map((o) => ({ o, found: disagreements(legate[o.cell.id]!, o) }))
    .filter(({ found }) => found.length > 0)
    .map(
      ({ o, found }) =>
        `${o.cell.shape.name} × ${o.cell.peer}: ${found[0]}${found.length > 1 ? ` (+${found.length - 1} more)` : ''}`,
    );
  const report = [table, rows.length > 0 ? `Legate ≠ nginx in ${rows.length} cells:\n${rows.join('\n')}` : '']
    .filter((s) => s !== '')
    .join('\n');
  if (report !== '') assert.fail(`\n${report}`);
});
