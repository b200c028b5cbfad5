/**
 * The response-shape × connection-reuse matrix, end to end through the real `legate` process:
 * every response shape and upload shape of `shapes.ts` × fast, slow and pipelining clients × both
 * downstream codecs × native addon on and off, 5 requests in a row per cell. A cell fails on wrong
 * bytes, inconsistent framing, a request slower than the bound (a hang), or an upstream connection
 * reused when it must not be (or not reused when it should be). Failing cells print as a table.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { differenceList, failureTable, matrixCells, runMatrix, type CellOutcome } from './run';
import { RESPONSE_SHAPES, REQUESTS_PER_CELL, UPLOAD_SHAPES } from './shapes';
import { legateTarget, legateVariants, variantName } from './targets';

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
