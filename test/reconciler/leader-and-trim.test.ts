import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { openStore } from '../../src/db/open-store.ts';
import { smqKeys } from '../../src/flows/queues.ts';
import { Reconciler } from '../../src/reconciler/reconciler.ts';
import { compareStreamIds } from '../../src/reconciler/stream-ids.ts';
import { createTestStore, type TestStoreKind } from '../support/stores.ts';
import { REDIS_URL, deletePrefix, namedWorker, newPrefix, quietLogger, seedClient, waitFor } from './helpers.ts';

const KINDS: TestStoreKind[] = (process.env.SMQ_RECONCILER_KINDS ?? 'sqlite,postgres').split(',') as TestStoreKind[];
const connection = () => ({ host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) });

for (const kind of KINDS) {
  test(`${kind}: two reconcilers at once: each ingested row is dispatched once, across a leader hand-over`, { timeout: 90_000 }, async () => {
    const { store, config, cleanup } = await createTestStore(kind);
    // The second reconciler has its own database connection, as a second process would.
    const store2 = await openStore(config);
    const prefix = newPrefix();
    const redis = new Redis(REDIS_URL);
    const client = seedClient(config);
    const opts = { redisUrl: REDIS_URL, prefix, logger: quietLogger(), ingestIntervalMs: 50, statsIntervalMs: 200, leaderTtlMs: 1000, sweepGraceMs: 60_000 };
    const a = new Reconciler({ ...opts, store, id: 'rec-a' });
    const b = new Reconciler({ ...opts, store: store2, id: 'rec-b' });
    const processed = new Map<string, number>();
    const worker = namedWorker(prefix, 'cpu', 'w', async (job: Job) => {
      processed.set(job.id!, (processed.get(job.id!) ?? 0) + 1);
      return { output_location: `/o/${job.id}` };
    }, 8);
    const N = 120;
    const ids = Array.from({ length: N }, (_, i) => `two-${i}`);
    try {
      await Promise.all([a.start(), b.start()]);
      assert.equal([a.stats().leader, b.stats().leader].filter(Boolean).length, 1, 'exactly one leader');
      await client.addTasks(ids.slice(0, N / 2).map((id) => ({ task_id: id, task_type: 'noop' })));
      // Hand leadership over mid-stream: the leader stops, the other takes the lock.
      const leader = a.stats().leader ? a : b;
      const other = leader === a ? b : a;
      await leader.stop();
      await waitFor(async () => other.stats().leader, { timeoutMs: 10_000, what: 'the other reconciler to lead' });
      await client.addTasks(ids.slice(N / 2).map((id) => ({ task_id: id, task_type: 'noop' })));
      await waitFor(async () => (await store.getMany(ids)).every((r) => r.status === 'Complete'), { timeoutMs: 60_000, intervalMs: 100, what: 'all rows Complete' });
      const events = await redis.xrange(smqKeys(prefix).events('cpu'), '-', '+');
      const added = new Map<string, number>();
      for (const [, flat] of events) {
        const f = Object.fromEntries(flat.reduce<string[][]>((acc, v, i) => (i % 2 ? (acc[acc.length - 1]!.push(v), acc) : [...acc, [v]]), []));
        if (f.event === 'added') added.set(f.jobId!, (added.get(f.jobId!) ?? 0) + 1);
        assert.notEqual(f.event, 'duplicated', `job ${f.jobId} was added twice`);
      }
      for (const id of ids) {
        assert.equal(added.get(id), 1, `${id} added once`);
        assert.equal(processed.get(id), 1, `${id} ran once`);
      }
      assert.equal(leader.stats().ingested + other.stats().ingested, N);
    } finally {
      await worker.close();
      await a.stop();
      await b.stop();
      await client.close();
      await store2.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await cleanup();
    }
  });

  test(`${kind}: a stream trimmed past the stored cursor is noticed and the sweep fills the gap`, { timeout: 90_000 }, async () => {
    const { store, cleanup } = await createTestStore(kind);
    const prefix = newPrefix();
    const redis = new Redis(REDIS_URL);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(chunk.toString()), cb()) }));
    const queue = new Queue('cpu', { connection: connection(), prefix });
    let worker = null as ReturnType<typeof namedWorker> | null;
    try {
      // A first reconciler applies one task, so a cursor is stored.
      const r1 = new Reconciler({ store, redisUrl: REDIS_URL, prefix, logger: quietLogger() });
      await r1.start();
      await store.insert({ taskId: 'first', taskType: 'noop', params: {}, queueName: 'cpu' });
      await queue.add('noop', { taskType: 'noop', params: {} }, { jobId: 'first' });
      worker = namedWorker(prefix, 'cpu', 'trim-w', async (job: Job) => ({ output_location: `/o/${job.id}` }), 4);
      await waitFor(async () => (await store.get('first'))?.status === 'Complete', { timeoutMs: 15_000, what: 'first Complete' });
      await r1.stop();
      const cursor = await store.getCursor('cpu');
      assert.ok(cursor);

      // While no reconciler runs, 30 tasks finish and the stream loses everything but its tail.
      const ids = Array.from({ length: 30 }, (_, i) => `gap-${i}`);
      await store.insertMany(ids.map((taskId) => ({ taskId, taskType: 'noop', params: {}, queueName: 'cpu' })));
      await queue.addBulk(ids.map((id) => ({ name: 'noop', data: { taskType: 'noop', params: {} }, opts: { jobId: id } })));
      await waitFor(async () => (await queue.getCompletedCount()) === 31, { timeoutMs: 15_000, what: 'jobs done' });
      await redis.xtrim(smqKeys(prefix).events('cpu'), 'MAXLEN', 2);
      const [[firstLeft]] = await redis.xrange(smqKeys(prefix).events('cpu'), '-', '+', 'COUNT', 1);
      assert.ok(compareStreamIds(firstLeft!, cursor!) > 0, 'the stored cursor is older than what is left');

      const r2 = new Reconciler({ store, redisUrl: REDIS_URL, prefix, logger });
      await r2.start();
      try {
        const rows = await waitFor(async () => {
          const got = await store.getMany(ids);
          return got.every((r) => r.status === 'Complete') ? got : null;
        }, { timeoutMs: 20_000, intervalMs: 50, what: 'gap rows Complete' });
        for (const r of rows) assert.equal(r.outputLocation, `/o/${r.taskId}`);
        assert.ok(lines.some((l) => l.includes('trimmed past the cursor')), 'the gap was logged');
        // The stream kept at most its last couple of entries; the sweep did the rest.
        await waitFor(async () => (r2.stats().lastSweep?.completed ?? 0) >= 28, { timeoutMs: 5000, what: `sweep to report the rows it completed (${JSON.stringify(r2.stats().lastSweep)})` });
      } finally {
        await r2.stop();
      }
    } finally {
      await worker?.close();
      await queue.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await cleanup();
    }
  });
}
