import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { Reconciler } from '../../src/reconciler/reconciler.ts';
import { smqKeys } from '../../src/flows/queues.ts';
import { createTestStore, type TestStoreKind } from '../support/stores.ts';
import { REDIS_URL, deletePrefix, namedWorker, newPrefix, quietLogger, seedClient, waitFor } from './helpers.ts';

const KINDS: TestStoreKind[] = (process.env.SMQ_RECONCILER_KINDS ?? 'sqlite,postgres').split(',') as TestStoreKind[];

for (const kind of KINDS) {
  test(`${kind}: a seed-style client sees its row go Queued → In Progress → Complete with an output location`, { timeout: 60_000 }, async () => {
    const { store, config, cleanup } = await createTestStore(kind);
    const prefix = newPrefix();
    const redis = new Redis(REDIS_URL);
    const client = seedClient(config);
    const reconciler = new Reconciler({ store, redisUrl: REDIS_URL, prefix, logger: quietLogger(), sweepIntervalMs: 500, sweepGraceMs: 1000 });
    // The handler holds the job until the client has seen it running, so every state is observable.
    const seen: string[] = [];
    const worker = namedWorker(prefix, 'cpu', 'seed-test-worker', async (job: Job) => {
      await job.updateProgress({ stage: 'working', percent: 50 });
      await waitFor(async () => seen.includes('In Progress'), { timeoutMs: 15_000, what: 'client to see In Progress' });
      return { output_location: `/outputs/${job.id}.mp4` };
    });
    try {
      await reconciler.start();
      const taskId = `seedtask-${Date.now()}`;
      await client.addTask({ task_id: taskId, task_type: 'noop', prompt: 'a cat' });
      const insertedAt = Date.now();
      let dispatchedAt = 0;
      const final = await waitFor(
        async () => {
          const row = await client.poll(taskId);
          if (row && seen[seen.length - 1] !== row.status) seen.push(row.status);
          if (!dispatchedAt && (await redis.exists(smqKeys(prefix).job('cpu', taskId)))) dispatchedAt = Date.now();
          return row && row.status !== 'Queued' && row.status !== 'In Progress' ? row : null;
        },
        { timeoutMs: 30_000, intervalMs: 10, what: 'row to finish' },
      );
      assert.deepEqual(seen, ['Queued', 'In Progress', 'Complete']);
      assert.equal(final.output_location, `/outputs/${taskId}.mp4`);
      assert.ok(dispatchedAt - insertedAt < 1500, `ingest took ${dispatchedAt - insertedAt} ms (target: within a second)`);
      const row = await store.get(taskId);
      assert.equal(row!.workerId, 'seed-test-worker');
      assert.equal(row!.taskType, 'noop');
      assert.equal(row!.queueName, 'cpu');
      assert.ok(row!.startedAt && row!.finishedAt && Date.parse(row!.finishedAt) >= Date.parse(row!.startedAt));
      assert.deepEqual(row!.progress, { stage: 'working', percent: 50 });
      const stats = reconciler.stats();
      assert.ok(stats.appliedEvents >= 4, `appliedEvents=${stats.appliedEvents}`);
      assert.equal(stats.leader, true);
      assert.ok(stats.streams.cpu && stats.streams.cpu !== '0-0');
      assert.equal(await store.getCursor('cpu'), stats.streams.cpu);
      // The dashboard reads the same figures from Redis.
      const published = await waitFor(async () => {
        const h = await redis.hgetall(smqKeys(prefix).reconcilerStats);
        return Number(h.appliedEvents) >= 4 ? h : null;
      }, { timeoutMs: 5000, what: 'stats hash' });
      assert.equal(published.leader, '1');
      assert.ok(Number.isFinite(Number(published.lagMs)));
    } finally {
      await worker.close();
      await reconciler.stop();
      await client.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await cleanup();
    }
  });

  test(`${kind}: ingest fails rows it can never run, with the reason, and keeps going`, { timeout: 60_000 }, async () => {
    const { store, config, cleanup } = await createTestStore(kind);
    const prefix = newPrefix();
    const redis = new Redis(REDIS_URL);
    const client = seedClient(config);
    const reconciler = new Reconciler({ store, redisUrl: REDIS_URL, prefix, logger: quietLogger() });
    try {
      await reconciler.start();
      await client.addTask({ task_id: 'unknown-type', task_type: 'make_coffee' });
      if (client.addRaw) await client.addRaw('bad-params', '{not json');
      await client.addTask({ task_id: 'good-one', task_type: 'noop' });
      const unknown = await waitFor(async () => ((await client.poll('unknown-type'))?.status === 'Failed' ? store.get('unknown-type') : null), { timeoutMs: 10_000, what: 'unknown type failed' });
      assert.match(unknown!.errorMessage ?? '', /make_coffee/);
      if (client.addRaw) {
        const bad = await waitFor(async () => ((await client.poll('bad-params'))?.status === 'Failed' ? store.get('bad-params') : null), { timeoutMs: 10_000, what: 'bad params failed' });
        assert.match(bad!.errorMessage ?? '', /params/);
      }
      await waitFor(async () => (await redis.exists(smqKeys(prefix).job('cpu', 'good-one'))) === 1, { timeoutMs: 10_000, what: 'good row dispatched' });
      assert.equal((await store.get('good-one'))!.queueName, 'cpu');
      assert.equal(await redis.exists(smqKeys(prefix).job('cpu', 'unknown-type')), 0);
    } finally {
      await reconciler.stop();
      await client.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await cleanup();
    }
  });
}
