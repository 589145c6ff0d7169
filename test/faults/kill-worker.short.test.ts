import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concludeScenario } from '../support/faults/scenario.ts';
import { sigkill, until } from '../support/faults/proc.ts';
import { FaultWorld } from '../support/faults/world.ts';

// Short locks so a dead worker's segment is taken over in seconds, not the default 30–60 s.
const FAST_LOCKS = ['--lock-duration', '2000', '--stalled-interval', '1500'];

test('SIGKILL a worker mid-segment: the segment is taken over, the run completes, nothing runs twice', { timeout: 300_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    world.spawnReconciler();
    const victim = world.spawnWorker('victim', FAST_LOCKS);
    await until('the victim to register', async () => (await world.workerNames('gpu-onnx')).includes('victim'), 60_000);
    const run = await world.travel(await world.images(5), { frames: 12, overlap: 2 });
    assert.equal(run.numSegments, 4);
    const seg = await until(
      'a segment to be active on the victim',
      async () => {
        for (const id of run.segmentTaskIds) {
          const job = await world.queue('gpu-onnx').getJob(id);
          if (job && job.processedBy === 'victim' && (await job.getState()) === 'active') return id;
        }
        return null;
      },
      120_000,
      50,
    );
    await sigkill(victim);
    world.spawnWorker('rescuer', FAST_LOCKS);
    await concludeScenario(world, 'SIGKILL worker mid-segment', {
      waitFor: run.taskIds,
      timeoutMs: 240_000,
      expectComplete: run.taskIds,
      extraProblems: async () => {
        const row = await world.store.get(seg);
        return row?.workerId === 'rescuer' ? [] : [`killed segment ${seg} finished on ${row?.workerId}, expected the rescuer`];
      },
    });
  } finally {
    await world.close();
  }
});
