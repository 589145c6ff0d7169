import assert from 'node:assert/strict';
import type { FinalReport } from './final-check.ts';
import { finalCheck, lostCount, type FinalCheckOptions } from './final-check.ts';
import { recordResult } from './results.ts';
import { until } from './proc.ts';
import type { FaultWorld } from './world.ts';

/**
 * Ends a scenario the same way everywhere: wait for the listed rows to be terminal, run the final
 * check on the whole table, record a results-table row, then assert (after recording, so a failing
 * scenario still shows in the table).
 */
export async function concludeScenario(
  world: FaultWorld,
  fault: string,
  opts: { waitFor: string[]; timeoutMs: number; tries?: number; expectComplete?: string[]; check?: FinalCheckOptions; extraProblems?: () => Promise<string[]> },
): Promise<FinalReport> {
  let waitError: Error | null = null;
  try {
    await until(
      `${opts.waitFor.length} rows to be terminal`,
      async () => (await world.store.getMany(opts.waitFor)).every((r) => r.status !== 'Queued' && r.status !== 'In Progress'),
      opts.timeoutMs,
      250,
    );
  } catch (err) {
    waitError = err as Error;
  }
  await world.monitor.catchUp().catch(() => {});
  const report = await finalCheck(world.store, world.monitor, opts.check);
  const problems = [...report.problems];
  for (const id of opts.expectComplete ?? []) {
    const row = await world.store.get(id);
    if (row?.status !== 'Complete') problems.push(`row ${id} ended ${row?.status} (${row?.errorMessage ?? ''}), expected Complete`);
  }
  if (opts.extraProblems) problems.push(...(await opts.extraProblems()));
  if (waitError) problems.push(waitError.message);
  const tries = opts.tries ?? 1;
  recordResult({ fault, tries, survived: problems.length === 0 ? tries : 0, lost: lostCount(report) });
  if (problems.length) {
    const logs = world.procs.map((p) => `--- ${p.name} (${p.alive() ? 'alive' : `exited ${p.child.exitCode ?? p.child.signalCode}`}) stderr tail:\n${p.stderr().slice(-1500)}`).join('\n');
    assert.fail(`${fault}: ${problems.length} problem(s):\n${problems.slice(0, 20).join('\n')}\n${logs}`);
  }
  return report;
}
