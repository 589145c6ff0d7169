import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enqueueTask } from '../../src/producers/api.ts';
import { concludeScenario } from '../support/faults/scenario.ts';
import { PrivatePostgres } from '../support/faults/pg-cluster.ts';
import { sleep, until } from '../support/faults/proc.ts';
import { FaultWorld } from '../support/faults/world.ts';

test('PostgreSQL goes down for 5 s mid-run: workers and the reconciler keep going and catch up', { timeout: 400_000 }, async () => {
  const pg = await PrivatePostgres.start();
  const world = await FaultWorld.create({ databaseUrl: pg.url });
  try {
    world.spawnReconciler();
    const locks = ['--lock-duration', '3000', '--stalled-interval', '2000'];
    const workers = [world.spawnWorker('w1', locks), world.spawnWorker('w2', locks)];
    await until('workers to register', async () => (await world.workerNames('gpu-onnx')).length >= 2, 60_000);
    const run = await world.travel(await world.images(5), { frames: 12, overlap: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await enqueueTask('noop', {}, world.producer(), { taskId: `pgnoop_${i}` })).orchestratorTaskId);
    await until('part of the work done', async () => (await world.store.getMany(run.segmentTaskIds)).some((r) => r.status === 'Complete'), 120_000, 100);
    await pg.down();
    await sleep(5000);
    await pg.up();
    await concludeScenario(world, 'PostgreSQL down 5 s mid-run', {
      waitFor: [...run.taskIds, ...ids],
      timeoutMs: 240_000,
      expectComplete: [...run.taskIds, ...ids],
      extraProblems: async () => workers.filter((w) => !w.alive()).map((w) => `worker ${w.name} died during the outage`),
    });
    assert.ok(world.procs[0]!.alive(), 'the reconciler survived the outage');
  } finally {
    await world.close();
    await pg.stop();
  }
});
