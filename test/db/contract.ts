import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ConfigError, NotFoundError, ValidationError } from '../../src/core/errors.ts';
import type { TaskUpdate } from '../../src/core/types.ts';
import type { TaskStore } from '../../src/db/task-store.ts';

/**
 * The one TaskStore contract, run unchanged against SQLite, PostgreSQL and Supabase (stand-in).
 * Each test opens its own table so claims never see another test's rows.
 */
export interface ContractHarness {
  /** A store on the shared database for `tableName`, init() already run. */
  open(tableName: string): Promise<TaskStore>;
  /** Writes a row whose params are not a JSON object, bypassing the store (as another tool might). */
  insertBadParams(tableName: string, taskId: string): Promise<void>;
  cleanup(): Promise<void>;
}

const hex = () => randomBytes(4).toString('hex');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function waitTick(): Promise<void> {
  // created_at has millisecond resolution; FIFO between separate inserts needs a distinct ms.
  const start = Date.now();
  while (Date.now() === start) await new Promise((r) => setImmediate(r));
}

export function runTaskStoreContract(label: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`TaskStore contract: ${label}`, { timeout: 120_000 }, () => {
    let h: ContractHarness;
    const opened: TaskStore[] = [];
    const fresh = async (): Promise<TaskStore> => {
      const s = await h.open(`t_${hex()}`);
      opened.push(s);
      return s;
    };
    before(async () => {
      h = await makeHarness();
    });
    after(async () => {
      for (const s of opened) await s.close();
      await h.cleanup();
    });

    it('inserts a row and reads it back with defaults; a duplicate id changes nothing', async () => {
      const s = await fresh();
      assert.equal(await s.insert({ taskId: 'a1', taskType: 'travel_segment', params: { x: 1, nested: { y: 'z' } }, runId: 'r1', parentTaskId: 'p1' }), true);
      const row = await s.get('a1');
      assert.ok(row);
      assert.equal(row.taskId, 'a1');
      assert.equal(row.taskType, 'travel_segment');
      assert.deepEqual(row.params, { x: 1, nested: { y: 'z' } });
      assert.equal(row.paramsError, null);
      assert.equal(row.status, 'Queued');
      assert.equal(row.attempts, 0);
      assert.equal(row.runId, 'r1');
      assert.equal(row.parentTaskId, 'p1');
      assert.equal(row.queueName, null);
      assert.equal(row.workerId, null);
      assert.equal(row.progress, null);
      assert.match(row.createdAt, ISO);
      assert.match(row.updatedAt, ISO);
      assert.ok(Math.abs(Date.parse(row.createdAt) - Date.now()) < 60_000, `createdAt ${row.createdAt} should be now (UTC)`);
      assert.equal(await s.insert({ taskId: 'a1', taskType: 'noop', params: { other: true } }), false);
      assert.deepEqual((await s.get('a1'))?.params, { x: 1, nested: { y: 'z' } });
      assert.equal(await s.get('missing'), null);
    });

    it('insertMany counts only new rows; getMany returns the existing ones', async () => {
      const s = await fresh();
      await s.insert({ taskId: 'm0', taskType: 'noop', params: {} });
      const n = await s.insertMany([
        { taskId: 'm0', taskType: 'noop', params: {} },
        { taskId: 'm1', taskType: 'noop', params: { i: 1 }, queueName: 'cpu' },
        { taskId: 'm2', taskType: 'noop', params: { i: 2 }, status: 'In Progress' },
      ]);
      assert.equal(n, 2);
      const rows = await s.getMany(['m1', 'm2', 'nope']);
      assert.deepEqual(rows.map((r) => r.taskId).sort(), ['m1', 'm2']);
      assert.equal(rows.find((r) => r.taskId === 'm1')?.queueName, 'cpu');
      assert.equal(rows.find((r) => r.taskId === 'm2')?.status, 'In Progress');
      assert.deepEqual(await s.getMany([]), []);
    });

    it('refuses bad inserts, naming the field', async () => {
      const s = await fresh();
      await assert.rejects(s.insert({ taskId: '', taskType: 'noop', params: {} }), (e: unknown) => e instanceof ValidationError && e.field === 'taskId');
      await assert.rejects(s.insert({ taskId: 'b', taskType: 'noop', params: [] as unknown as Record<string, unknown> }), (e: unknown) => e instanceof ValidationError && e.field === 'params');
      await assert.rejects(s.insert({ taskId: 'b', taskType: 'noop', params: {}, status: 'Done' as never }), (e: unknown) => e instanceof ValidationError && e.field === 'status');
      // Validation happens before anything is written: a bad row anywhere means no row at all.
      await assert.rejects(s.insertMany([{ taskId: 'ok1', taskType: 'noop', params: {} }, { taskId: 'bad', taskType: '', params: {} }]), ValidationError);
      assert.equal(await s.get('ok1'), null);
    });

    it('lists with filters, newest first, and pages', async () => {
      const s = await fresh();
      await s.insert({ taskId: 'l1', taskType: 'travel_orchestrator', params: {}, runId: 'run-a' });
      await waitTick();
      await s.insert({ taskId: 'l2', taskType: 'travel_segment', params: {}, runId: 'run-a', parentTaskId: 'l1' });
      await waitTick();
      await s.insert({ taskId: 'l3', taskType: 'travel_segment', params: {}, runId: 'run-b', parentTaskId: 'x' });
      await s.transition({ taskId: 'l3', status: 'In Progress' });
      assert.deepEqual((await s.list({})).map((r) => r.taskId), ['l3', 'l2', 'l1']);
      assert.deepEqual((await s.list({ runId: 'run-a' })).map((r) => r.taskId), ['l2', 'l1']);
      assert.deepEqual((await s.list({ status: 'In Progress' })).map((r) => r.taskId), ['l3']);
      assert.deepEqual((await s.list({ taskType: 'travel_segment' })).map((r) => r.taskId), ['l3', 'l2']);
      assert.deepEqual((await s.list({ rootsOnly: true })).map((r) => r.taskId), ['l1']);
      assert.deepEqual((await s.list({ taskId: 'l2' })).map((r) => r.taskId), ['l2']);
      assert.deepEqual((await s.list({ limit: 1, offset: 1 })).map((r) => r.taskId), ['l2']);
      await assert.rejects(s.list({ limit: 0 }), (e: unknown) => e instanceof ValidationError && e.field === 'limit');
      await assert.rejects(s.list({ limit: 5000 }), (e: unknown) => e instanceof ValidationError && e.field === 'limit');
      await assert.rejects(s.list({ status: 'Done' as never }), (e: unknown) => e instanceof ValidationError && e.field === 'status');
      assert.deepEqual((await s.listByRun('run-a')).map((r) => r.taskId), ['l1', 'l2']);
      assert.deepEqual(await s.listByRun('run-none'), []);
    });

    it('claims the oldest Queued row atomically, once', async () => {
      const s = await fresh();
      assert.equal(await s.claim('w0'), null);
      await s.insert({ taskId: 'c1', taskType: 'noop', params: { n: 1 } });
      await waitTick();
      await s.insert({ taskId: 'c2', taskType: 'noop', params: { n: 2 } });
      await waitTick();
      await s.insert({ taskId: 'c3', taskType: 'noop', params: {}, status: 'Complete' });
      const first = await s.claim('worker_1');
      assert.equal(first?.taskId, 'c1');
      assert.equal(first?.status, 'In Progress');
      assert.equal(first?.workerId, 'worker_1');
      assert.deepEqual(first?.params, { n: 1 });
      assert.match(first?.startedAt ?? '', ISO);
      assert.equal((await s.claim('worker_2'))?.taskId, 'c2');
      assert.equal(await s.claim('worker_3'), null);
      assert.equal((await s.get('c1'))?.workerId, 'worker_1');
      await assert.rejects(s.claim(''), (e: unknown) => e instanceof ValidationError && e.field === 'workerId');
    });

    it('transitions monotonically and idempotently', async () => {
      const s = await fresh();
      await s.insert({ taskId: 't1', taskType: 'noop', params: {} });
      assert.equal(await s.transition({ taskId: 't1', status: 'In Progress', workerId: 'w1', attempts: 1 }), true);
      assert.equal(await s.transition({ taskId: 't1', status: 'In Progress', workerId: 'w1', attempts: 1 }), false, 'same update twice');
      const started = (await s.get('t1'))?.startedAt;
      assert.match(started ?? '', ISO);
      // Field-only on a non-terminal row applies.
      assert.equal(await s.transition({ taskId: 't1', progress: { stage: 'gen', percent: 40 } }), true);
      assert.deepEqual((await s.get('t1'))?.progress, { stage: 'gen', percent: 40 });
      assert.equal(await s.transition({ taskId: 't1', progress: { stage: 'gen', percent: 40 } }), false);
      // Attempts only grow.
      assert.equal(await s.transition({ taskId: 't1', attempts: 0 }), false);
      assert.equal((await s.get('t1'))?.attempts, 1);
      // Backwards status is a stale event: nothing of it applies.
      assert.equal(await s.transition({ taskId: 't1', status: 'Queued', errorMessage: 'stale' }), false);
      assert.equal((await s.get('t1'))?.errorMessage, null);
      assert.equal(await s.transition({ taskId: 't1', status: 'Complete', outputLocation: '/out/t1.mp4' }), true);
      const done = await s.get('t1');
      assert.equal(done?.status, 'Complete');
      assert.equal(done?.outputLocation, '/out/t1.mp4');
      assert.match(done?.finishedAt ?? '', ISO);
      assert.equal(done?.startedAt, started);
      assert.equal(done?.workerId, 'w1');
      // Terminal rows never change: not a late In Progress, not another terminal, not fields.
      assert.equal(await s.transition({ taskId: 't1', status: 'In Progress', workerId: 'w9' }), false);
      assert.equal(await s.transition({ taskId: 't1', status: 'Failed', errorMessage: 'late' }), false);
      assert.equal(await s.transition({ taskId: 't1', outputLocation: '/elsewhere' }), false);
      assert.equal(await s.transition({ taskId: 't1', status: 'Complete', outputLocation: '/out/t1.mp4' }), false);
      const after = await s.get('t1');
      assert.deepEqual({ ...after, updatedAt: '' }, { ...done, updatedAt: '' });
      assert.equal(after?.updatedAt, done?.updatedAt, 'a refused update does not touch updated_at');
    });

    it('goes Queued → Failed/Cancelled directly, with explicit timestamps kept', async () => {
      const s = await fresh();
      await s.insertMany([
        { taskId: 'f1', taskType: 'noop', params: {} },
        { taskId: 'f2', taskType: 'noop', params: {} },
      ]);
      assert.equal(await s.transition({ taskId: 'f1', status: 'Failed', errorMessage: 'boom', finishedAt: '2024-01-02T03:04:05.678Z' }), true);
      const f1 = await s.get('f1');
      assert.equal(f1?.errorMessage, 'boom');
      assert.equal(f1?.finishedAt, '2024-01-02T03:04:05.678Z');
      assert.equal(await s.transition({ taskId: 'f2', status: 'Cancelled' }), true);
      assert.equal((await s.get('f2'))?.status, 'Cancelled');
    });

    it('refuses unknown statuses and answers false for a missing task', async () => {
      const s = await fresh();
      await s.insert({ taskId: 'u1', taskType: 'noop', params: {} });
      await assert.rejects(s.transition({ taskId: 'u1', status: 'Done' as never }), (e: unknown) => e instanceof ValidationError && e.field === 'status' && /Queued/.test(e.message));
      await assert.rejects(s.transition({ taskId: 'u1', attempts: -1 }), (e: unknown) => e instanceof ValidationError && e.field === 'attempts');
      assert.equal((await s.get('u1'))?.status, 'Queued');
      assert.equal(await s.transition({ taskId: 'no-such-task', status: 'Complete' }), false);
      assert.equal(await s.requeue('no-such-task'), false);
      await assert.rejects(s.setQueueName('no-such-task', 'cpu'), NotFoundError);
    });

    it('requeues explicitly: back to Queued, attempts + 1, result fields cleared', async () => {
      const s = await fresh();
      await s.insert({ taskId: 'q1', taskType: 'noop', params: {}, queueName: 'cpu' });
      await s.transition({ taskId: 'q1', status: 'In Progress', workerId: 'w', attempts: 2 });
      await s.transition({ taskId: 'q1', status: 'Failed', errorMessage: 'oom', outputLocation: '/partial' });
      assert.equal(await s.requeue('q1'), true);
      let row = await s.get('q1');
      assert.equal(row?.status, 'Queued');
      assert.equal(row?.attempts, 3);
      assert.equal(row?.errorMessage, null);
      assert.equal(row?.outputLocation, null);
      assert.equal(row?.finishedAt, null);
      assert.equal(row?.queueName, 'cpu', 'queue kept when not given');
      assert.equal(await s.requeue('q1', 'gpu-onnx'), true);
      row = await s.get('q1');
      assert.equal(row?.attempts, 4);
      assert.equal(row?.queueName, 'gpu-onnx');
      assert.equal(await s.requeue('q1', null), true);
      assert.equal((await s.get('q1'))?.queueName, null);
      // A requeued row moves forward again normally.
      assert.equal(await s.transition({ taskId: 'q1', status: 'In Progress' }), true);
    });

    it('applies a batch and its cursor together, or neither', async () => {
      const s = await fresh();
      await s.insertMany([1, 2, 3].map((i) => ({ taskId: `b${i}`, taskType: 'noop', params: {} })));
      assert.equal(await s.getCursor('cpu'), null);
      const updates: TaskUpdate[] = [
        { taskId: 'b1', status: 'In Progress' },
        { taskId: 'b1', status: 'Complete', outputLocation: '/o/b1' },
        { taskId: 'b2', status: 'In Progress' },
        { taskId: 'b2', status: 'In Progress' },
        { taskId: 'missing', status: 'Complete' },
      ];
      assert.equal(await s.applyBatch(updates, { name: 'cpu', lastId: '1700000000000-5' }), 3);
      assert.equal(await s.getCursor('cpu'), '1700000000000-5');
      assert.equal((await s.get('b1'))?.outputLocation, '/o/b1');
      assert.equal((await s.get('b2'))?.status, 'In Progress');
      // Replaying the same batch is harmless.
      assert.equal(await s.applyBatch(updates, { name: 'cpu', lastId: '1700000000000-5' }), 0);
      // A bad update anywhere rejects the whole batch: no row change, no cursor move.
      await assert.rejects(
        s.applyBatch([{ taskId: 'b3', status: 'Complete' }, { taskId: 'b2', status: 'Bogus' as never }], { name: 'cpu', lastId: '1700000000001-0' }),
        (e: unknown) => e instanceof ValidationError && e.field === 'status',
      );
      assert.equal((await s.get('b3'))?.status, 'Queued');
      assert.equal(await s.getCursor('cpu'), '1700000000000-5');
      assert.equal(await s.applyBatch([], { name: 'cpu', lastId: '1700000000002-0' }), 0);
      assert.equal(await s.getCursor('cpu'), '1700000000002-0');
      await assert.rejects(s.applyBatch([], { name: 'cpu', lastId: '' }), (e: unknown) => e instanceof ValidationError && e.field === 'cursor.lastId');
    });

    it('returns completed travel segments of a run, ordered by segment_index', async () => {
      const s = await fresh();
      const seg = (id: string, run: string, idx: number) => ({ taskId: id, taskType: 'travel_segment', params: { orchestrator_run_id: run, segment_index: idx } });
      await s.insertMany([seg('s2', 'R', 2), seg('s0', 'R', 0), seg('s1', 'R', 1), seg('o0', 'OTHER', 0), { taskId: 'st', taskType: 'travel_stitch', params: { orchestrator_run_id: 'R', segment_index: 9 } }]);
      for (const id of ['s2', 's0', 'o0', 'st']) await s.transition({ taskId: id, status: 'Complete', outputLocation: `/v/${id}.mp4` });
      await s.transition({ taskId: 's1', status: 'In Progress' });
      assert.deepEqual(await s.completedTravelSegments('R'), [
        { segmentIndex: 0, outputLocation: '/v/s0.mp4' },
        { segmentIndex: 2, outputLocation: '/v/s2.mp4' },
      ]);
      assert.deepEqual(await s.completedTravelSegments('nobody'), []);
    });

    it('counts rows by status, every status present', async () => {
      const s = await fresh();
      assert.deepEqual(await s.countsByStatus(), { Queued: 0, 'In Progress': 0, Complete: 0, Failed: 0, Cancelled: 0 });
      await s.insertMany([1, 2, 3, 4].map((i) => ({ taskId: `n${i}`, taskType: 'noop', params: {} })));
      await s.transition({ taskId: 'n1', status: 'Complete' });
      await s.transition({ taskId: 'n2', status: 'In Progress' });
      assert.deepEqual(await s.countsByStatus(), { Queued: 2, 'In Progress': 1, Complete: 1, Failed: 0, Cancelled: 0 });
    });

    it('claimUndispatched takes each undispatched Queued row once, oldest first', async () => {
      const s = await fresh();
      for (let i = 0; i < 5; i++) {
        await s.insert({ taskId: `d${i}`, taskType: 'noop', params: {}, queueName: i === 4 ? 'cpu' : null });
        await waitTick();
      }
      await s.transition({ taskId: 'd3', status: 'In Progress' });
      const a = await s.claimUndispatched(2, 'ingest:1');
      assert.deepEqual(a.map((r) => r.taskId), ['d0', 'd1']);
      assert.ok(a.every((r) => r.queueName === 'ingest:1' && r.taskType === 'noop'));
      const b = await s.claimUndispatched(10, 'ingest:2');
      assert.deepEqual(b.map((r) => r.taskId), ['d2']);
      assert.deepEqual(await s.claimUndispatched(10, 'ingest:3'), []);
      await assert.rejects(s.claimUndispatched(0, 'x'), (e: unknown) => e instanceof ValidationError && e.field === 'limit');
    });

    it('sets queue names and lists open dispatched rows by keyset', async () => {
      const s = await fresh();
      await s.insertMany(['k1', 'k2', 'k3', 'k4', 'k5'].map((id) => ({ taskId: id, taskType: 'noop', params: {} })));
      for (const id of ['k1', 'k2', 'k3', 'k5']) await s.setQueueName(id, 'cpu');
      await s.transition({ taskId: 'k2', status: 'In Progress' });
      await s.transition({ taskId: 'k3', status: 'Complete' });
      assert.equal((await s.get('k1'))?.queueName, 'cpu');
      const page1 = await s.listOpen(2);
      assert.deepEqual(page1.map((r) => r.taskId), ['k1', 'k2']);
      const page2 = await s.listOpen(2, page1[1].taskId);
      assert.deepEqual(page2.map((r) => r.taskId), ['k5']);
      await s.setQueueName('k5', null);
      assert.deepEqual((await s.listOpen(10, 'k2')).map((r) => r.taskId), []);
    });

    it('sets one queue name on many rows at once, skipping unknown ids', async () => {
      const s = await fresh();
      const ids = Array.from({ length: 1203 }, (_, i) => `m${i}`);
      await s.insertMany(ids.map((id) => ({ taskId: id, taskType: 'noop', params: {} })));
      // More ids than one SQLite statement may bind, plus ids that do not exist.
      assert.equal(await s.setQueueNames([...ids.slice(0, 1200), 'nope-1', 'nope-2'], 'cpu'), 1200);
      const rows = await s.getMany(ids);
      assert.equal(rows.filter((r) => r.queueName === 'cpu').length, 1200);
      assert.deepEqual(rows.filter((r) => r.queueName === null).map((r) => r.taskId).sort(), ['m1200', 'm1201', 'm1202']);
      assert.equal((await s.listOpen(10_000)).length, 1200);
      assert.equal(await s.setQueueNames(['m0', 'm1'], null), 2);
      assert.equal((await s.get('m0'))?.queueName, null);
      assert.equal(await s.setQueueNames([], 'cpu'), 0);
      await assert.rejects(s.setQueueNames(['ok', ''], 'cpu'), (e: unknown) => e instanceof ValidationError && e.field === 'taskIds');
      await assert.rejects(s.setQueueNames('m0' as never, 'cpu'), (e: unknown) => e instanceof ValidationError && e.field === 'taskIds');
    });

    it('reads a row with malformed params without throwing', async () => {
      const s = await fresh();
      await h.insertBadParams(s.tableName, 'bad1');
      const row = await s.get('bad1');
      assert.ok(row);
      assert.equal(row.params, null);
      assert.match(row.paramsError ?? '', /params/);
      assert.equal(row.taskType, 'standard_wgp_task');
      assert.equal((await s.list({})).length, 1);
      const claimed = await s.claim('w');
      assert.equal(claimed?.taskId, 'bad1');
      assert.equal(claimed?.params, null);
    });

    it('refuses table names that are not plain identifiers', async () => {
      for (const bad of ['tasks; drop table x', '"x"', '1tasks', '']) {
        await assert.rejects(h.open(bad), (e: unknown) => e instanceof ConfigError && e.field === 'POSTGRES_TABLE_NAME', `table name ${JSON.stringify(bad)}`);
      }
    });

    it('re-runs init on an existing table and keeps its rows', async () => {
      const s = await fresh();
      await s.insert({ taskId: 'keep', taskType: 'noop', params: { v: 1 } });
      const again = await h.open(s.tableName);
      opened.push(again);
      assert.deepEqual((await again.get('keep'))?.params, { v: 1 });
    });
  });
}
