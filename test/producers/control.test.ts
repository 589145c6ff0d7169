import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowProducer, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { NotFoundError, StoreError, ValidationError } from '../../src/core/errors.ts';
import type { NewTask } from '../../src/core/types.ts';
import { Dispatcher } from '../../src/flows/dispatch.ts';
import { smqKeys } from '../../src/flows/queues.ts';
import { enqueueTask } from '../../src/producers/api.ts';
import { dispatchExisting } from '../../src/producers/commit-and-dispatch.ts';
import { cancel, retry, status } from '../../src/producers/control.ts';
import type { ProducerDeps } from '../../src/producers/deps.ts';
import { openProducerRedis } from '../../src/producers/deps.ts';
import { createTestStore, type TestStoreKind } from '../support/stores.ts';
import { dropPrefix, REDIS_URL, testPrefix, until } from './helpers.ts';

interface Env {
  deps: ProducerDeps;
  prefix: string;
  queue(name: string): Queue;
  worker(name: string, fn: (job: Job) => Promise<unknown>): Worker;
  flows(): FlowProducer;
  close(): Promise<void>;
}

/** Real store + real Redis under a fresh prefix; everything it opens is closed by close(). */
async function setup(kind: TestStoreKind): Promise<Env> {
  const prefix = testPrefix();
  const ts = await createTestStore(kind);
  const redis = (await openProducerRedis(REDIS_URL))!;
  assert.ok(redis, 'the test Redis answers');
  const dispatcher = new Dispatcher(redis, prefix);
  const deps: ProducerDeps = { store: ts.store, dispatcher, redis, config: { ...ts.config, redisUrl: REDIS_URL, queuePrefix: prefix } };
  const closers: Array<() => Promise<unknown>> = [];
  return {
    deps,
    prefix,
    queue(name) {
      const q = new Queue(name, { connection: { url: REDIS_URL }, prefix });
      closers.push(() => q.close());
      return q;
    },
    worker(name, fn) {
      const w = new Worker(name, fn, { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix, concurrency: 1 });
      closers.push(() => w.close(true));
      return w;
    },
    flows() {
      const f = new FlowProducer({ connection: { url: REDIS_URL }, prefix });
      closers.push(() => f.close());
      return f;
    },
    async close() {
      for (const c of closers.reverse()) await c().catch(() => {});
      await dispatcher.close();
      redis.disconnect();
      await dropPrefix(prefix);
      await ts.cleanup();
    },
  };
}

const RUN = '20250603_221500_123456';
const ROOT = 'sm_travel_orchestrator_20250603_aaaaaaaaaaaa';
const seg = (i: number) => `travel_seg_${RUN}_0${i}`;
const row = (taskId: string, taskType: string, parentTaskId: string | null, queueName: string | null): NewTask => ({
  taskId,
  taskType,
  params: taskType === 'travel_orchestrator' ? { orchestrator_details: { run_id: RUN, priority: null } } : { segment_index: 0 },
  runId: RUN,
  parentTaskId,
  queueName,
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`control on ${kind}`, { timeout: 120_000 }, () => {
    it('cancel: rows Cancelled, ids in the set and on the channel, queued jobs removed, the active one left to its worker; idempotent', async () => {
      const env = await setup(kind);
      const sub = new Redis(REDIS_URL);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      try {
        const { deps, prefix } = env;
        await deps.store.insertMany([row(ROOT, 'travel_orchestrator', null, 'cpu'), row(seg(0), 'travel_segment', ROOT, 'gpu-onnx'), row(seg(1), 'travel_segment', ROOT, 'gpu-onnx'), row(seg(2), 'travel_segment', ROOT, 'gpu-onnx')]);
        await deps.store.transition({ taskId: seg(2), status: 'Complete', outputLocation: '/out/seg2.mp4' });
        const gpu = env.queue('gpu-onnx');
        const cpu = env.queue('cpu');
        await cpu.add('travel_orchestrator', {}, { jobId: ROOT });
        await gpu.add('travel_segment', {}, { jobId: seg(1) });
        env.worker('gpu-onnx', () => held);
        await until(async () => (await gpu.getJobState(seg(1))) === 'active', 'segment 1 active');
        await gpu.add('travel_segment', {}, { jobId: seg(0) });

        const messages: string[] = [];
        await sub.subscribe(smqKeys(prefix).cancelChannel);
        sub.on('message', (_c, m) => messages.push(m));

        const r = await cancel(RUN, deps);
        assert.deepEqual([...r.cancelled].sort(), [ROOT, seg(0), seg(1)].sort());
        assert.deepEqual([...r.removedJobs].sort(), [ROOT, seg(0)].sort());
        assert.deepEqual(r.signalled, [seg(1)]);
        assert.equal(r.redisReachable, true);
        for (const id of [ROOT, seg(0), seg(1)]) assert.equal((await deps.store.get(id))!.status, 'Cancelled');
        assert.equal((await deps.store.get(seg(2)))!.status, 'Complete', 'finished work stays Complete');
        assert.deepEqual((await deps.redis!.smembers(smqKeys(prefix).cancelledSet)).sort(), [ROOT, seg(0), seg(1)].sort());
        await until(async () => messages.length > 0, 'the cancel broadcast');
        assert.deepEqual((JSON.parse(messages[0]!) as { taskIds: string[] }).taskIds.sort(), [ROOT, seg(0), seg(1)].sort());
        assert.equal(await cpu.getJob(ROOT), undefined);
        assert.equal(await gpu.getJob(seg(0)), undefined);
        assert.equal(await gpu.getJobState(seg(1)), 'active');

        // by any task id of the run, again: nothing more changes
        const again = await cancel(seg(0), deps);
        assert.deepEqual(again.cancelled, []);
        assert.deepEqual(again.removedJobs, []);
        assert.equal((await deps.store.get(seg(2)))!.status, 'Complete');
      } finally {
        release();
        sub.disconnect();
        await env.close();
      }
    });

    it('cancel removes a waiting-children parent with its children', async () => {
      const env = await setup(kind);
      try {
        const { deps } = env;
        await deps.store.insertMany([row(ROOT, 'travel_orchestrator', null, 'cpu'), row(seg(0), 'travel_segment', ROOT, 'gpu-onnx')]);
        await env.flows().add({ name: 'travel_orchestrator', queueName: 'cpu', data: {}, opts: { jobId: ROOT }, children: [{ name: 'travel_segment', queueName: 'gpu-onnx', data: {}, opts: { jobId: seg(0) } }] });
        const cpu = env.queue('cpu');
        assert.equal(await cpu.getJobState(ROOT), 'waiting-children');
        const r = await cancel(ROOT, deps);
        assert.deepEqual([...r.removedJobs].sort(), [ROOT, seg(0)].sort());
        assert.equal(await cpu.getJob(ROOT), undefined);
        assert.equal(await env.queue('gpu-onnx').getJob(seg(0)), undefined);
      } finally {
        await env.close();
      }
    });

    it('retry: requeues Failed/Cancelled rows only, clears their jobs and the cancelled mark, re-dispatches the root', async () => {
      const env = await setup(kind);
      try {
        const { deps, prefix } = env;
        await deps.store.insertMany([row(ROOT, 'travel_orchestrator', null, null), row(seg(0), 'travel_segment', ROOT, 'gpu-onnx'), row(seg(1), 'travel_segment', ROOT, 'gpu-onnx')]);
        assert.equal(await dispatchExisting((await deps.store.get(ROOT))!, deps), true);
        const gpu = env.queue('gpu-onnx');
        const cpu = env.queue('cpu');
        await gpu.add('travel_segment', {}, { jobId: seg(1) });
        // Real failures: both jobs end in BullMQ's failed set.
        const failer = async () => {
          throw new UnrecoverableError('out of memory');
        };
        const workers = [env.worker('gpu-onnx', failer), env.worker('cpu', failer)];
        await until(async () => (await gpu.getJobState(seg(1))) === 'failed' && (await cpu.getJobState(ROOT)) === 'failed', 'both jobs failed');
        for (const w of workers) await w.close();
        await deps.store.transition({ taskId: seg(0), status: 'Complete', outputLocation: '/out/seg0.mp4' });
        await deps.store.transition({ taskId: seg(1), status: 'Failed', errorMessage: 'out of memory' });
        await deps.store.transition({ taskId: ROOT, status: 'Failed', errorMessage: 'segment 1 failed' });
        await deps.redis!.sadd(smqKeys(prefix).cancelledSet, seg(1), 'someone_else');

        const r = await retry(seg(1), deps);
        assert.deepEqual([...r.requeued].sort(), [ROOT, seg(1)].sort());
        assert.deepEqual([...r.removedJobs].sort(), [ROOT, seg(1)].sort());
        assert.equal(r.dispatched, true);
        const [root, s0, s1] = await Promise.all([ROOT, seg(0), seg(1)].map((id) => deps.store.get(id)));
        assert.equal(root!.status, 'Queued');
        assert.equal(root!.queueName, 'cpu');
        assert.equal(root!.errorMessage, null);
        assert.ok(root!.attempts >= 1, 'the retry counts as an attempt');
        assert.equal(s0!.status, 'Complete', 'a finished segment is not redone');
        assert.equal(s0!.outputLocation, '/out/seg0.mp4');
        assert.equal(s1!.status, 'Queued');
        assert.equal(s1!.queueName, 'gpu-onnx', 'children keep their queue so ingest never dispatches them outside the flow');
        assert.equal(await cpu.getJobState(ROOT), 'waiting', 'the root runs again (a fresh job)');
        assert.equal(await gpu.getJob(seg(1)), undefined, 'the failed segment job is gone; the orchestrator re-plans it');
        assert.deepEqual(await deps.redis!.smembers(smqKeys(prefix).cancelledSet), ['someone_else']);

        // Nothing failed any more: retry says so and changes nothing.
        await assert.rejects(retry(RUN, deps), (e: unknown) => e instanceof ValidationError && /nothing to retry/.test(e.message));
      } finally {
        await env.close();
      }
    });

    it('standalone task: enqueueTask, status, cancel and retry', async () => {
      const env = await setup(kind);
      try {
        const { deps } = env;
        const q = await enqueueTask('noop', { note: 'x' }, deps);
        assert.match(q.orchestratorTaskId, /^sm_task_[0-9a-f]{12}$/);
        assert.equal(q.dispatched, true);
        const cpu = env.queue('cpu');
        assert.equal(await cpu.getJobState(q.orchestratorTaskId), 'waiting');
        await deps.store.transition({ taskId: q.orchestratorTaskId, status: 'In Progress', progress: { stage: 'x', percent: 40 } });
        const st = await status(q.orchestratorTaskId, deps);
        assert.equal(st.tasks.length, 1);
        assert.equal(st.tasks[0]!.jobState, 'waiting');
        assert.equal(st.progress.percent, 40);
        assert.equal(st.redisReachable, true);

        const c = await cancel(q.orchestratorTaskId, deps);
        assert.deepEqual(c.cancelled, [q.orchestratorTaskId]);
        assert.equal(await cpu.getJob(q.orchestratorTaskId), undefined);
        const rr = await retry(q.orchestratorTaskId, deps);
        assert.deepEqual(rr.requeued, [q.orchestratorTaskId]);
        assert.equal(rr.dispatched, true);
        assert.equal(await cpu.getJobState(q.orchestratorTaskId), 'waiting');
        assert.equal((await deps.store.get(q.orchestratorTaskId))!.status, 'Queued');

        await assert.rejects(enqueueTask('render_everything', {}, deps), (e: unknown) => e instanceof ValidationError && e.field === 'task_type');
        await assert.rejects(enqueueTask('standard_wgp_task', { execution_engine: 'tpu' }, deps), (e: unknown) => e instanceof ValidationError && e.field === 'params.execution_engine');
        await assert.rejects(enqueueTask('noop', { task_id: 'a:b' }, deps), (e: unknown) => e instanceof ValidationError && e.field === 'task_id');
        await assert.rejects(enqueueTask('noop', {}, deps, { taskId: q.orchestratorTaskId }), StoreError);
        await assert.rejects(status('no_such_thing', deps), NotFoundError);
      } finally {
        await env.close();
      }
    });

    it('status of a run reads every row and its job; without Redis it still answers from the table', async () => {
      const env = await setup(kind);
      try {
        const { deps } = env;
        await deps.store.insertMany([row(ROOT, 'travel_orchestrator', null, 'cpu'), row(seg(0), 'travel_segment', ROOT, 'gpu-onnx'), row(seg(1), 'travel_segment', ROOT, 'gpu-onnx')]);
        await deps.store.transition({ taskId: seg(0), status: 'Complete', outputLocation: '/out/seg0.mp4' });
        await env.queue('gpu-onnx').add('travel_segment', {}, { jobId: seg(1) });
        const st = await status(seg(0), deps);
        assert.equal(st.runId, RUN);
        assert.equal(st.rootTaskId, ROOT);
        assert.deepEqual(st.tasks.map((t) => t.taskId).sort(), [ROOT, seg(0), seg(1)].sort());
        assert.equal(st.tasks.find((t) => t.taskId === seg(1))!.jobState, 'waiting');
        assert.deepEqual(st.progress, { complete: 1, failed: 0, total: 2, percent: 50 });
        const offline = await status(RUN, { ...deps, dispatcher: null, redis: null });
        assert.equal(offline.redisReachable, false);
        assert.ok(offline.tasks.every((t) => t.jobState === null));
        // cancel without Redis still cancels the rows, and says Redis was not reached
        const c = await cancel(RUN, { ...deps, dispatcher: null, redis: null });
        assert.equal(c.redisReachable, false);
        assert.deepEqual([...c.cancelled].sort(), [ROOT, seg(1)].sort());
        // retry without Redis refuses and changes nothing
        await assert.rejects(retry(RUN, { ...deps, dispatcher: null, redis: null }), /does not answer/);
        assert.equal((await deps.store.get(ROOT))!.status, 'Cancelled');
      } finally {
        await env.close();
      }
    });
  });
}
