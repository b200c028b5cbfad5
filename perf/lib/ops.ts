/** Runs the mitata benchmarks registered so far and prints their table, then ops/s per case. */
import { run } from 'mitata';

export async function runAndPrintOpsPerSecond(): Promise<void> {
  const { benchmarks } = await run();
  console.log('\nops/s');
  for (const trial of benchmarks) {
    for (const r of trial.runs) {
      if (r.stats === undefined) continue;
      const ops = Math.round(1e9 / r.stats.avg).toLocaleString('en-US');
      console.log(`  ${r.name.padEnd(40)} ${ops.padStart(14)}`);
    }
  }
}
