import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { concludeScenario } from '../support/faults/scenario.ts';
import { until } from '../support/faults/proc.ts';
import { recordResult } from '../support/faults/results.ts';
import { FaultWorld } from '../support/faults/world.ts';

const NOOPS = Number(process.env.SMQ_FAULTS_LOAD_NOOPS ?? 10_000);
const RUNS = Number(process.env.SMQ_FAULTS_LOAD_RUNS ?? 200);

test(`load: ${NOOPS} no-op tasks and ${RUNS} travel runs through 4 workers and the reconciler`, { timeout: 1_500_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    world.spawnReconciler();
    for (let i = 0; i < 4; i++) world.spawnWorker(`load-${i}`, ['--concurrency', '2']);
    await until('4 workers', async () => (await world.workerNames('cpu')).length >= 4, 90_000);
    const images = await world.images(3);
    const started = Date.now();
    // No-ops as a producer would write them: row first, then the job (bulk, 500 at a time).
    const ids = Array.from({ length: NOOPS }, (_, i) => `load_${String(i).padStart(5, '0')}`);
    const q: Queue = world.queue('cpu');
    for (let i = 0; i < ids.length; i += 500) {
      const slice = ids.slice(i, i + 500);
      await world.store.insertMany(slice.map((taskId) => ({ taskId, taskType: 'noop', params: {}, queueName: 'cpu' })));
      await q.addBulk(slice.map((id) => ({ name: 'noop', data: { taskType: 'noop', params: {} }, opts: { jobId: id, removeOnComplete: { age: 3600, count: 100_000 } } })));
    }
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await world.travel(images, { frames: 8, overlap: 2 }));
    const all = [...ids, ...runs.flatMap((r) => r.taskIds)];
    const report = await concludeScenario(world, `load: ${NOOPS} no-ops + ${RUNS} travel runs`, {
      waitFor: all,
      timeoutMs: 1_300_000,
      expectComplete: all,
      tries: all.length,
      check: { probe: (row) => row.taskType === 'travel_orchestrator' },
    });
    const secs = (Date.now() - started) / 1000;
    const line = `load: ${all.length} tasks (${NOOPS} no-ops, ${RUNS} runs) in ${secs.toFixed(1)} s = ${(all.length / secs).toFixed(1)} tasks/s; lost ${report.stuck.length}, duplicated ${report.duplicated.length}, bad outputs ${report.badOutputs.length}`;
    console.log(line);
    recordResult({ fault: `load throughput ${(all.length / secs).toFixed(1)} tasks/s`, tries: 1, survived: 1, lost: 0 });
    assert.equal(report.stuck.length + report.duplicated.length, 0);
  } finally {
    await world.close();
  }
});
