import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { smqKeys } from '../../src/flows/queues.ts';
import { compareStreamIds } from '../../src/reconciler/stream-ids.ts';
import { createTestStore, type TestStoreKind } from '../support/stores.ts';
import { REDIS_URL, deletePrefix, installTransitionLog, namedWorker, newPrefix, waitFor } from './helpers.ts';

const KINDS: TestStoreKind[] = (process.env.SMQ_RECONCILER_KINDS ?? 'sqlite,postgres').split(',') as TestStoreKind[];
const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'reconcile-child.ts');

function startChild(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"ready":true')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`reconciler child exited early (${code})`)));
  });
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

for (const kind of KINDS) {
  test(`${kind}: reconciler SIGKILLed mid-batch and restarted: no transition lost, none applied twice`, { timeout: 120_000 }, async () => {
    const { store, config, cleanup } = await createTestStore(kind);
    const prefix = newPrefix();
    const redis = new Redis(REDIS_URL);
    const log = await installTransitionLog(config);
    const env = { SMQ_TEST_CONFIG: JSON.stringify({ ...config, redisUrl: REDIS_URL }), SMQ_TEST_PREFIX: prefix, SMQ_TEST_BATCH: '40' };
    const N = 1200;
    const ids = Array.from({ length: N }, (_, i) => `k-${String(i).padStart(5, '0')}`);
    const queue = new Queue('cpu', { connection: { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) }, prefix });
    const worker = namedWorker(prefix, 'cpu', 'kill-worker', async (job: Job) => {
      await new Promise((r) => setTimeout(r, 2));
      return { output_location: `/out/${job.id}.mp4` };
    }, 16);
    let child: ChildProcess | null = null;
    try {
      await store.insertMany(ids.map((taskId) => ({ taskId, taskType: 'noop', params: {}, queueName: 'cpu' })));
      child = await startChild(env);
      // Jobs arrive in waves while the first reconciler works, so it is busy when killed.
      const producing = (async () => {
        for (let i = 0; i < N; i += 100) {
          await queue.addBulk(ids.slice(i, i + 100).map((id) => ({ name: 'noop', data: { taskType: 'noop', params: {} }, opts: { jobId: id } })));
          await new Promise((r) => setTimeout(r, 40));
        }
      })();
      const completes = async () => (await log.transitions()).filter((t) => t.new_status === 'Complete').length;
      await waitFor(async () => (await completes()) >= N / 4, { timeoutMs: 60_000, intervalMs: 5, what: 'a quarter of the rows Complete' });
      child.kill('SIGKILL');
      await exited(child);
      const atKill = await completes();
      await producing;
      assert.ok(atKill < N, `killed before the end (${atKill}/${N} applied)`);

      child = await startChild(env);
      await waitFor(async () => (await completes()) >= N, { timeoutMs: 60_000, intervalMs: 50, what: 'every row Complete after the restart' });

      const rows = await store.getMany(ids);
      assert.equal(rows.length, N);
      for (const r of rows) {
        assert.equal(r.status, 'Complete', r.taskId);
        assert.equal(r.outputLocation, `/out/${r.taskId}.mp4`);
        assert.equal(r.workerId, 'kill-worker');
      }
      // Row level: every task became Complete exactly once, through In Progress at most once, never backwards.
      const perTask = new Map<string, string[]>();
      for (const t of await log.transitions()) perTask.set(t.task_id, [...(perTask.get(t.task_id) ?? []), `${t.old_status}>${t.new_status}`]);
      assert.equal(perTask.size, N);
      for (const [id, moves] of perTask) {
        const ok = (moves.length === 2 && moves[0] === 'Queued>In Progress' && moves[1] === 'In Progress>Complete') || (moves.length === 1 && moves[0] === 'Queued>Complete');
        assert.ok(ok, `${id}: ${moves.join(', ')}`);
      }
      // Stream level: the cursor only moved forward and each batch started where the last committed one
      // ended, across the kill — nothing skipped, nothing re-read from an older point.
      const moves = await log.cursorMoves('cpu');
      assert.ok(moves.length > 2);
      for (let i = 1; i < moves.length; i++) {
        assert.equal(moves[i]!.old_id, moves[i - 1]!.new_id);
        assert.ok(compareStreamIds(moves[i]!.new_id, moves[i]!.old_id!) > 0);
      }
      const [[lastId]] = await redis.xrevrange(smqKeys(prefix).events('cpu'), '+', '-', 'COUNT', 1);
      await waitFor(async () => (await store.getCursor('cpu')) === lastId, { timeoutMs: 10_000, what: 'cursor at the stream end' });
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited(child);
      }
      await worker.close();
      await queue.close();
      await log.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await cleanup();
    }
  });
}
