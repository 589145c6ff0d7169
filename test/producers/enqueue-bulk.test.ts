import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { StoreError, ValidationError } from '../../src/core/errors.ts';
import { createFailFastRedis } from '../../src/core/redis.ts';
import { Dispatcher } from '../../src/flows/dispatch.ts';
import { ADD_BULK_CHUNK, enqueueTask, enqueueTasks, type BulkTask } from '../../src/producers/api.ts';
import { openProducerRedis, type ProducerDeps } from '../../src/producers/deps.ts';
import { Reconciler } from '../../src/reconciler/reconciler.ts';
import { createTestStore, type TestStoreKind } from '../support/stores.ts';
import { dropPrefix, REDIS_URL, testPrefix } from './helpers.ts';

interface Env {
  deps: ProducerDeps;
  prefix: string;
  queue(name: string): Queue;
  /** The same store and config, with no dispatcher: what producers get when Redis does not answer. */
  offline(): ProducerDeps;
  close(): Promise<void>;
}

async function setup(kind: TestStoreKind): Promise<Env> {
  const prefix = testPrefix();
  const ts = await createTestStore(kind);
  const redis = await openProducerRedis(REDIS_URL);
  assert.ok(redis, 'the test Redis answers');
  const dispatcher = new Dispatcher(redis, prefix);
  const deps: ProducerDeps = { store: ts.store, dispatcher, redis, config: { ...ts.config, redisUrl: REDIS_URL, queuePrefix: prefix } };
  const queues: Queue[] = [];
  return {
    deps,
    prefix,
    queue(name) {
      const q = new Queue(name, { connection: { url: REDIS_URL }, prefix });
      queues.push(q);
      return q;
    },
    offline: () => ({ ...deps, dispatcher: null, redis: null }),
    async close() {
      for (const q of queues) await q.close().catch(() => {});
      await dispatcher.close();
      redis.disconnect();
      await dropPrefix(prefix);
      await ts.cleanup();
    },
  };
}

/** Every job id on a queue, whatever its state. */
async function jobIds(q: Queue): Promise<string[]> {
  const jobs = await q.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed']);
  return jobs.map((j) => j.id!).sort();
}

async function rowCount(deps: ProducerDeps): Promise<number> {
  return Object.values(await deps.store.countsByStatus()).reduce((a, b) => a + b, 0);
}

const silent = pino({ level: 'silent' });

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`enqueueTasks on ${kind}`, { timeout: 120_000 }, () => {
    it('writes one Queued row per task and one job per row on its queue, with the single path’s job options', async () => {
      const env = await setup(kind);
      try {
        const tasks: BulkTask[] = [
          { taskType: 'noop', params: {}, taskId: 'bulk_a', runId: 'run_bulk' },
          { taskType: 'standard_wgp_task', params: { prompt: 'a cat', execution_engine: 'wgp' }, taskId: 'bulk_b', priority: 3 },
          { taskType: 'noop', params: { task_id: 'bulk_from_params' } },
          { taskType: 'noop', params: {} },
        ];
        const r = await enqueueTasks(tasks, env.deps);
        assert.equal(r.dispatched, true);
        assert.equal(r.taskIds.length, 4);
        assert.deepEqual(r.taskIds.slice(0, 3), ['bulk_a', 'bulk_b', 'bulk_from_params']);
        assert.match(r.taskIds[3]!, /^sm_task_[0-9a-f]{12}$/);

        const rows = new Map((await env.deps.store.getMany(r.taskIds)).map((row) => [row.taskId, row]));
        assert.equal(rows.size, 4);
        for (const id of r.taskIds) assert.equal(rows.get(id)!.status, 'Queued', id);
        assert.equal(rows.get('bulk_a')!.queueName, 'cpu');
        assert.equal(rows.get('bulk_a')!.runId, 'run_bulk');
        assert.equal(rows.get('bulk_b')!.queueName, 'gpu-wgp');
        assert.equal(rows.get('bulk_b')!.taskType, 'standard_wgp_task');
        assert.deepEqual(rows.get('bulk_b')!.params, { prompt: 'a cat', execution_engine: 'wgp' });

        const cpu = env.queue('cpu');
        const wgp = env.queue('gpu-wgp');
        assert.deepEqual(await jobIds(cpu), [...r.taskIds.filter((id) => id !== 'bulk_b')].sort());
        assert.deepEqual(await jobIds(wgp), ['bulk_b']);

        // The single path's job for a twin task is the reference: same name, data and options.
        await enqueueTask('standard_wgp_task', { prompt: 'a cat', execution_engine: 'wgp' }, env.deps, { taskId: 'single_b', priority: 3 });
        const bulkJob = (await wgp.getJob('bulk_b'))!;
        const singleJob = (await wgp.getJob('single_b'))!;
        assert.equal(bulkJob.name, singleJob.name);
        assert.deepEqual(bulkJob.data, singleJob.data);
        const { jobId: _b, ...bulkOpts } = bulkJob.opts as Record<string, unknown>;
        const { jobId: _s, ...singleOpts } = singleJob.opts as Record<string, unknown>;
        assert.deepEqual(bulkOpts, singleOpts);
        assert.equal(bulkJob.opts.priority, 3);
        assert.deepEqual((await cpu.getJob('bulk_a'))!.data, { taskType: 'noop', params: {}, runId: 'run_bulk', parentTaskId: null });
      } finally {
        await env.close();
      }
    });

    it(`dispatches more than one addBulk chunk (${ADD_BULK_CHUNK}) and records the queue of every row`, async () => {
      const env = await setup(kind);
      try {
        const n = ADD_BULK_CHUNK * 2 + 7;
        const tasks = Array.from({ length: n }, (_, i) => ({ taskType: 'noop', params: { i }, taskId: `bulk_many_${i}` }));
        const r = await enqueueTasks(tasks, env.deps);
        assert.equal(r.dispatched, true);
        assert.deepEqual(r.taskIds, tasks.map((t) => t.taskId));
        const counts = await env.queue('cpu').getJobCounts('waiting', 'prioritized');
        assert.equal(counts.waiting, n);
        const rows = await env.deps.store.getMany(r.taskIds);
        assert.equal(rows.length, n);
        assert.deepEqual(new Set(rows.map((row) => row.queueName)), new Set(['cpu']));
        // FIFO in the order given.
        const first = await env.queue('cpu').getWaiting(0, 2);
        assert.deepEqual(first.map((j) => j.id), ['bulk_many_0', 'bulk_many_1', 'bulk_many_2']);
      } finally {
        await env.close();
      }
    });

    it('refuses bad input naming the task and field, and writes nothing', async () => {
      const env = await setup(kind);
      try {
        const ok = { taskType: 'noop', params: {} };
        const cases: Array<[unknown, string, RegExp]> = [
          [[], 'tasks', /empty/],
          ['noop', 'tasks', /array/],
          [[ok, null], 'tasks[1]', /object/],
          [[ok, { taskType: 'render_everything', params: {} }], 'tasks[1].taskType', /noop/],
          [[ok, { taskType: 'noop', params: [1] }], 'tasks[1].params', /JSON object/],
          [[ok, { taskType: 'noop', params: {}, taskId: 'a:b' }], 'tasks[1].taskId', /':'/],
          [[ok, { taskType: 'noop', params: {}, taskId: '12345' }], 'tasks[1].taskId', /digits/],
          [[ok, { taskType: 'noop', params: {}, priority: 0 }], 'tasks[1].priority', /between 1/],
          [[ok, { taskType: 'noop', params: {}, runId: '' }], 'tasks[1].runId', /non-empty/],
          [[ok, { taskType: 'standard_wgp_task', params: { execution_engine: 'tpu' } }], 'tasks[1].params.execution_engine', /onnx, wgp or comfyui/],
          [
            [
              { ...ok, taskId: 'twice' },
              ok,
              { ...ok, taskId: 'twice' },
            ],
            'tasks[2].taskId',
            /tasks\[0\]/,
          ],
        ];
        for (const [tasks, field, message] of cases) {
          await assert.rejects(
            enqueueTasks(tasks as BulkTask[], env.deps),
            (e: unknown) => e instanceof ValidationError && e.field === field && message.test(e.message),
            `${JSON.stringify(tasks)} → ${field}`,
          );
        }
        assert.equal(await rowCount(env.deps), 0);
        assert.deepEqual(await jobIds(env.queue('cpu')), []);
        assert.deepEqual(await jobIds(env.queue('gpu-onnx')), []);
      } finally {
        await env.close();
      }
    });

    it('refuses ids that are already in the table and writes none of the batch', async () => {
      const env = await setup(kind);
      try {
        await enqueueTask('noop', {}, env.deps, { taskId: 'bulk_taken' });
        await assert.rejects(
          enqueueTasks(
            [
              { taskType: 'noop', params: {}, taskId: 'bulk_fresh' },
              { taskType: 'noop', params: {}, taskId: 'bulk_taken' },
            ],
            env.deps,
          ),
          (e: unknown) => e instanceof StoreError && /already exist/.test(e.message) && e.message.includes('bulk_taken') && /nothing was queued/.test(e.message),
        );
        assert.equal(await env.deps.store.get('bulk_fresh'), null);
        assert.equal(await rowCount(env.deps), 1);
        assert.deepEqual(await jobIds(env.queue('cpu')), ['bulk_taken']);
      } finally {
        await env.close();
      }
    });

    it('with Redis unreachable: rows Queued with queue_name NULL, dispatched false; the reconciler’s ingest then dispatches them', async () => {
      const env = await setup(kind);
      try {
        const tasks = Array.from({ length: 5 }, (_, i) => ({ taskType: 'noop', params: {}, taskId: `bulk_offline_${i}`, priority: i === 4 ? 1 : null }));
        const r = await enqueueTasks(tasks, env.offline());
        assert.equal(r.dispatched, false);
        const rows = await env.deps.store.getMany(r.taskIds);
        assert.equal(rows.length, 5);
        for (const row of rows) {
          assert.equal(row.status, 'Queued');
          assert.equal(row.queueName, null);
        }
        assert.deepEqual(await jobIds(env.queue('cpu')), []);

        const reconciler = new Reconciler({ store: env.deps.store, redisUrl: REDIS_URL, prefix: env.prefix, queues: ['cpu'], logger: silent });
        const stats = await reconciler.runOnce();
        assert.equal(stats.ingested, 5);
        assert.deepEqual(await jobIds(env.queue('cpu')), [...r.taskIds].sort());
        for (const row of await env.deps.store.getMany(r.taskIds)) assert.equal(row.queueName, 'cpu', row.taskId);
      } finally {
        await env.close();
      }
    });

    it('rows of a producer that died between its insert and its addBulk (queue name set, no job) are dispatched by the sweep', async () => {
      const env = await setup(kind);
      try {
        // What enqueueTasks writes before its addBulk when Redis answered.
        const ids = ['bulk_orphan_0', 'bulk_orphan_1'];
        await env.deps.store.insertMany(ids.map((taskId) => ({ taskId, taskType: 'noop', params: {}, status: 'Queued', runId: null, parentTaskId: null, queueName: 'cpu' })));
        const reconciler = new Reconciler({ store: env.deps.store, redisUrl: REDIS_URL, prefix: env.prefix, queues: ['cpu'], logger: silent, sweepGraceMs: 200 });
        const stats = await reconciler.runOnce();
        assert.equal(stats.ingested, 0, 'the ingest takes only rows with queue_name NULL');
        assert.equal(stats.lastSweep?.redispatched, 2);
        assert.deepEqual(await jobIds(env.queue('cpu')), ids);
      } finally {
        await env.close();
      }
    });

    it('when Redis drops after the rows are written, the rows stay for the ingest and dispatched is false', async () => {
      const env = await setup(kind);
      const dead = createFailFastRedis(REDIS_URL);
      dead.on('error', () => {});
      const deadDispatcher = new Dispatcher(dead, env.prefix);
      try {
        await new Promise<void>((resolve) => dead.once('ready', () => resolve()));
        dead.disconnect();
        const r = await enqueueTasks(
          [
            { taskType: 'noop', params: {}, taskId: 'bulk_drop_0' },
            { taskType: 'noop', params: {}, taskId: 'bulk_drop_1' },
          ],
          { ...env.deps, dispatcher: deadDispatcher },
        );
        assert.equal(r.dispatched, false);
        for (const row of await env.deps.store.getMany(r.taskIds)) {
          assert.equal(row.status, 'Queued');
          assert.equal(row.queueName, null);
        }
        assert.deepEqual(await jobIds(env.queue('cpu')), []);
      } finally {
        await deadDispatcher.close().catch(() => {});
        await env.close();
      }
    });
  });
}
