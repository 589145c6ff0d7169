import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WaitingChildrenError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobData } from '../../src/core/types.ts';
import { Dispatcher } from '../../src/flows/dispatch.ts';
import { Reconciler } from '../../src/reconciler/reconciler.ts';
import { createTestStore, type TestStoreKind } from '../support/stores.ts';
import { REDIS_URL, deletePrefix, namedWorker, newPrefix, quietLogger, waitFor } from './helpers.ts';

const KINDS: TestStoreKind[] = (process.env.SMQ_RECONCILER_KINDS ?? 'sqlite,postgres').split(',') as TestStoreKind[];

/**
 * Redis loses everything mid-run (every key of the test's prefix deleted: FLUSHALL for this test's
 * slice of the shared Redis). A run is an orchestrator root with segment children that it adds to
 * BullMQ itself, re-planning from the rows (skipping Complete ones) as smq's orchestrators do;
 * beside it, standalone tasks. The table must bring every row to Complete.
 */
for (const kind of KINDS) {
  test(`${kind}: Redis flushed in the middle of a multi-segment run: every row still ends Complete`, { timeout: 90_000 }, async () => {
    const { store, cleanup } = await createTestStore(kind);
    const prefix = newPrefix();
    const redis = new Redis(REDIS_URL);
    const dispatcher = new Dispatcher({ host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) }, prefix);
    const reconciler = new Reconciler({ store, redisUrl: REDIS_URL, prefix, logger: quietLogger(), sweepIntervalMs: 300, sweepGraceMs: 800 });
    const runs = new Map<string, number>();
    const count = (id: string) => runs.set(id, (runs.get(id) ?? 0) + 1);

    const orchestrator = namedWorker(prefix, 'cpu', 'cpu-1', async (job: Job<JobData>, token?: string) => {
      count(job.id!);
      if (job.name === 'travel_orchestrator') {
        const pending = (await store.listByRun(job.data.runId!)).filter((r) => r.parentTaskId === job.id && r.status !== 'Complete');
        for (const child of pending) await dispatcher.dispatchRow(child, { parent: { id: job.id!, queue: job.queueQualifiedName } });
        if (await job.moveToWaitingChildren(token!)) throw new WaitingChildrenError();
        return { output_location: `/out/${job.id}-final.mp4` };
      }
      await new Promise((r) => setTimeout(r, 120));
      return { output_location: `/out/${job.id}.mp4` };
    }, 4);
    const gpu = namedWorker(prefix, 'gpu-onnx', 'gpu-1', async (job: Job<JobData>) => {
      count(job.id!);
      await new Promise((r) => setTimeout(r, 250));
      return { output_location: `/out/${job.id}.mp4` };
    });

    try {
      await reconciler.start();
      const runId = 'run-flush';
      const root = { taskId: 'orch-1', taskType: 'travel_orchestrator', params: { n: 4 } as Record<string, unknown>, runId: runId as string | null, queueName: 'cpu' };
      const segments = [0, 1, 2, 3].map((i) => ({ taskId: `seg-${i}`, taskType: 'travel_segment', params: { segment_index: i }, runId, parentTaskId: 'orch-1', queueName: 'gpu-onnx' }));
      const singles = [0, 1, 2, 3, 4, 5].map((i) => ({ taskId: `single-${i}`, taskType: 'noop', params: { i } as Record<string, unknown>, runId: null as string | null, queueName: 'cpu' }));
      await store.insertMany([root, ...segments, ...singles]);
      for (const row of [root, ...singles]) await dispatcher.dispatchRow({ ...row, parentTaskId: null });

      // Flush once a segment has finished and another is running: the run is half done.
      await waitFor(
        async () => {
          const rows = await store.listByRun(runId);
          return rows.some((r) => r.taskId.startsWith('seg-') && r.status === 'Complete') && rows.some((r) => r.taskId.startsWith('seg-') && r.status === 'In Progress');
        },
        { timeoutMs: 30_000, what: 'a segment Complete and another In Progress' },
      );
      const completeBefore = new Set((await store.listByRun(runId)).filter((r) => r.status === 'Complete').map((r) => r.taskId));
      assert.ok((await deletePrefix(redis, prefix)) > 0);

      const all = [root, ...segments, ...singles].map((r) => r.taskId);
      const rows = await waitFor(
        async () => {
          const got = await store.getMany(all);
          return got.every((r) => r.status === 'Complete') ? got : null;
        },
        { timeoutMs: 60_000, intervalMs: 100, what: 'every row Complete after the flush' },
      );
      for (const r of rows) assert.ok(r.outputLocation, `${r.taskId} has an output location`);
      assert.equal(rows.find((r) => r.taskId === 'orch-1')!.outputLocation, '/out/orch-1-final.mp4');
      // Segments finished before the flush were not generated again: the re-plan skipped them.
      for (const id of completeBefore) if (id.startsWith('seg-')) assert.equal(runs.get(id), 1, `${id} ran once`);
      const sweep = reconciler.stats().lastSweep;
      assert.ok(sweep && sweep.checked >= 0);
    } finally {
      await orchestrator.close(true);
      await gpu.close(true);
      await reconciler.stop();
      await dispatcher.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await cleanup();
    }
  });
}
