/**
 * The runner end to end on a failover scenario, with no proxy in the way (`direct`: the load goes
 * to origin 0): origin 0 is killed 1 s into the run and started again at 2 s. The client must see
 * errors only from the kill on, the restarted origin must serve again, and every origin must be up
 * after the run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runScenario } from '../../bench/runner/execute';
import { stopAll } from '../../bench/runner/processes';
import { parseScenario } from '../../bench/runner/scenario';

const REPO = join(__dirname, '..', '..', '..');

test('kill and restart an origin during a run: per-second errors, recovery, origins restored', async () => {
  const runDir = mkdtempSync(join(tmpdir(), 'legate-failover-e2e-'));
  const log: string[] = [];
  try {
    const sc = parseScenario(
      {
        name: 'kill-direct',
        title: 'kill-direct',
        kind: 'http',
        origin: { type: 'node', delaysMs: [0, 0] },
        systems: ['direct'],
        baseline: 'direct',
        events: [
          { at: '1s', action: 'kill-origin', origin: 0 },
          { at: '2s', action: 'start-origin', origin: 0 },
        ],
        load: { connections: 4, duration: '4s', rate: 200 },
      },
      'kill-direct.json',
    );
    const outcome = await runScenario(sc, {
      benchDir: join(REPO, 'bench'),
      repoRoot: REPO,
      runDir,
      reps: 1,
      durationMs: 500, // ignored: a scenario with events keeps its own duration
      missingPrograms: new Set(),
      log: (line) => void log.push(line),
    });
    assert.deepEqual(outcome.failures, {});
    const [run] = outcome.records;
    assert.ok(run?.ok, `run: ${run?.error}`);
    const f = run.failover!;
    assert.equal(f.seconds.length, 4, 'the scenario kept its 4 s duration');
    assert.deepEqual(
      run.events!.map((e) => [e.action, e.error]),
      [
        ['kill-origin', undefined],
        ['start-origin', undefined],
      ],
      log.join('\n'),
    );
    assert.equal(f.seconds[0]!.errors, 0, 'no errors before the kill');
    assert.ok(f.seconds[0]!.requests >= 190, `second 0: ${f.seconds[0]!.requests} requests`);
    assert.ok(f.errorsDuringOutage > 0, 'the client saw the origin die');
    assert.equal(f.errorsStopAfterS, null, 'nothing fails over without a proxy: errors until the restart');
    assert.equal(f.seconds[3]!.errors, 0, 'no errors once it is back');
    assert.ok(f.seconds[3]!.requests >= 190, `second 3: ${f.seconds[3]!.requests} requests`);
    assert.ok(
      f.restartedTakesTrafficAfterS !== null && f.restartedTakesTrafficAfterS < 1.5,
      `restarted origin serves after ${f.restartedTakesTrafficAfterS} s`,
    );
    assert.ok(f.seconds[3]!.originRequests[0]! > 100, `origin 0 counted ${f.seconds[3]!.originRequests}`);
    assert.equal(f.seconds[3]!.originRequests[1], 0, 'origin 1 got no traffic');
  } finally {
    await stopAll();
    rmSync(runDir, { recursive: true, force: true });
  }
});
