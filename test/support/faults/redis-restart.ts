import assert from 'node:assert/strict';
import { concludeScenario } from './scenario.ts';
import { until } from './proc.ts';
import { PrivateRedis } from './redis-server.ts';
import { FaultWorld } from './world.ts';

/**
 * Redis crashes (SIGKILL) and comes back while a travel run is half done. Without persistence
 * every job, flow and stream is gone and the reconciler's sweep must rebuild the run from the
 * table; with AOF the queues come back and work simply resumes.
 */
export async function redisRestartScenario(persistent: boolean): Promise<void> {
  const redis = await PrivateRedis.start({ persistent });
  const world = await FaultWorld.create({ redisUrl: redis.url });
  try {
    world.spawnReconciler();
    const locks = ['--lock-duration', '2000', '--stalled-interval', '1500'];
    world.spawnWorker('w1', locks);
    world.spawnWorker('w2', locks);
    await until('both workers to register', async () => (await world.workerNames('gpu-onnx')).length >= 2, 60_000);
    const run = await world.travel(await world.images(6), { frames: 12, overlap: 2 });
    await until(
      'the run to be part done',
      async () => (await world.store.getMany(run.segmentTaskIds)).some((r) => r.status === 'Complete'),
      120_000,
      100,
    );
    const before = await world.store.getMany(run.taskIds);
    assert.ok(before.some((r) => r.status !== 'Complete'), 'the run was not already finished when Redis went down');
    await redis.restart(1000);
    await concludeScenario(world, `Redis restart ${persistent ? 'with AOF' : 'without persistence'} mid-run`, {
      waitFor: run.taskIds,
      timeoutMs: 240_000,
      expectComplete: run.taskIds,
    });
  } finally {
    await world.close();
    await redis.stop();
  }
}
