import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { JobData, TaskRow, TaskUpdate } from '../core/types.ts';
import type { TaskStore } from '../db/task-store.ts';
import type { Dispatcher } from '../flows/dispatch.ts';
import { smqKeys } from '../flows/queues.ts';
import { outputLocationOf } from './event-mapping.ts';
import { failUnrunnable, isPermanentDispatchError } from './ingest.ts';
import { resolveChildFailures } from './job-facts.ts';

/**
 * The sweep compares the table with Redis, because the events stream is best-effort (trimmed,
 * lost with a Redis restart) and the table is the record:
 *
 * - an open row whose job is gone is dispatched again from the row. A child of a run whose root
 *   orchestrator job is gone too is not dispatched alone: the root is requeued and re-dispatched and
 *   re-plans from the rows (skipping Complete children), so the flow tree is rebuilt whole;
 * - an open row whose job finished (event missed) gets the job's outcome;
 * - a job without a row gets its row.
 *
 * Why the grace period: producers insert the row just before adding the job, and an orchestrator
 * adds children with `parent` set. Dispatching a child in that window would add it without its
 * parent (BullMQ then ignores the orchestrator's own add), so a row must have been seen missing its
 * job by two sweeps at least `graceMs` apart before the sweep acts. (The row's updated_at is no
 * guide: a producer may insert rows well before it adds their jobs.)
 */

export interface SweepResult {
  checked: number;
  redispatched: number;
  created: number;
  failed: number;
  completed: number;
  startedAt: string;
  durationMs: number;
}

export interface SweepDeps {
  redis: Redis;
  prefix: string;
  queues: readonly string[];
  store: TaskStore;
  dispatcher: Dispatcher;
  graceMs: number;
  pageSize: number;
  /** How many ids per job state and queue the orphan-job scan looks at. */
  orphanScanLimit: number;
  log: Logger;
  /** Persisted across sweeps: when each row was first seen without its job. */
  missingSince: Map<string, number>;
}

interface JobState {
  exists: boolean;
  completed: boolean;
  failed: boolean;
  returnvalue: string | null;
  failedReason: string | null;
  finishedOn: number | null;
  attemptsMade: number | null;
  processedBy: string | null;
  processedOn: number | null;
}

// BullMQ's own state keys; smqKeys names only the job hash and the events stream.
const stateKey = (prefix: string, queue: string, state: string) => `${prefix}:${queue}:${state}`;

async function readJobStates(redis: Redis, prefix: string, refs: readonly { queue: string; jobId: string }[]): Promise<JobState[]> {
  if (refs.length === 0) return [];
  const keys = smqKeys(prefix);
  const pipe = redis.pipeline();
  for (const { queue, jobId } of refs) {
    pipe.hmget(keys.job(queue, jobId), 'timestamp', 'returnvalue', 'failedReason', 'finishedOn', 'atm', 'pb', 'processedOn');
    pipe.zscore(stateKey(prefix, queue, 'completed'), jobId);
    pipe.zscore(stateKey(prefix, queue, 'failed'), jobId);
  }
  const res = (await pipe.exec()) ?? [];
  return refs.map((_, i) => {
    const [e1, hash] = res[i * 3] ?? [];
    const [, completedScore] = res[i * 3 + 1] ?? [];
    const [, failedScore] = res[i * 3 + 2] ?? [];
    if (e1) throw e1;
    const [timestamp, returnvalue, failedReason, finishedOn, atm, pb, processedOn] = (hash as (string | null)[]) ?? [];
    return {
      exists: timestamp != null,
      completed: completedScore != null,
      failed: failedScore != null,
      returnvalue: returnvalue ?? null,
      failedReason: failedReason ?? null,
      finishedOn: finishedOn != null ? Number(finishedOn) : null,
      attemptsMade: atm != null ? Number(atm) : null,
      processedBy: pb ?? null,
      processedOn: processedOn != null ? Number(processedOn) : null,
    };
  });
}

function isOpen(row: TaskRow): boolean {
  return row.status === 'Queued' || row.status === 'In Progress';
}

export class Sweeper {
  constructor(private readonly d: SweepDeps) {}

  async run(): Promise<SweepResult> {
    const started = Date.now();
    const r: SweepResult = { checked: 0, redispatched: 0, created: 0, failed: 0, completed: 0, startedAt: new Date(started).toISOString(), durationMs: 0 };
    await this.sweepRows(r);
    await this.sweepOrphanJobs(r);
    r.durationMs = Date.now() - started;
    return r;
  }

  private async sweepRows(r: SweepResult): Promise<void> {
    const stillMissing = new Set<string>();
    const rootsRedone = new Set<string>();
    const rowCache = new Map<string, TaskRow | null>();
    let after: string | undefined;
    for (;;) {
      const rows = await this.d.store.listOpen(this.d.pageSize, after);
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.taskId;
      r.checked += rows.length;
      for (const row of rows) rowCache.set(row.taskId, row);
      const states = await readJobStates(this.d.redis, this.d.prefix, rows.map((row) => ({ queue: row.queueName ?? '', jobId: row.taskId })));
      const finished: TaskUpdate[] = [];
      const failures = new Map<string, string>();
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const st = states[i]!;
        if (st.exists) {
          this.d.missingSince.delete(row.taskId);
          const at = st.finishedOn ? new Date(st.finishedOn).toISOString() : new Date().toISOString();
          // The row gets what the missed events would have given it: who ran it and when, too.
          const seen: Partial<TaskUpdate> = {};
          if (st.processedBy) seen.workerId = st.processedBy;
          if (st.processedOn) seen.startedAt = new Date(st.processedOn).toISOString();
          if (st.attemptsMade !== null) seen.attempts = st.attemptsMade;
          if (st.completed) {
            finished.push({ taskId: row.taskId, ...seen, status: 'Complete', outputLocation: outputLocationOf(st.returnvalue ?? undefined), finishedAt: at });
            r.completed++;
          } else if (st.failed) {
            if (st.failedReason) failures.set(row.taskId, st.failedReason);
            finished.push({ taskId: row.taskId, ...seen, status: 'Failed', errorMessage: st.failedReason ?? 'job failed (no reason recorded)', finishedAt: at });
            r.failed++;
          }
          continue;
        }
        stillMissing.add(row.taskId);
        if (!this.pastGrace(row)) continue;
        if (await this.redispatch(row, rowCache, rootsRedone)) r.redispatched++;
      }
      if (failures.size) {
        const resolved = await resolveChildFailures(this.d.redis, failures);
        for (const u of finished) if (resolved.has(u.taskId)) u.errorMessage = resolved.get(u.taskId)!;
      }
      if (finished.length) await this.d.store.applyBatch(finished);
      if (rows.length < this.d.pageSize) break;
    }
    for (const id of this.d.missingSince.keys()) if (!stillMissing.has(id)) this.d.missingSince.delete(id);
  }

  private pastGrace(row: TaskRow): boolean {
    const now = Date.now();
    const since = this.d.missingSince.get(row.taskId);
    if (since === undefined) {
      this.d.missingSince.set(row.taskId, now);
      return this.d.graceMs === 0;
    }
    return now - since >= this.d.graceMs;
  }

  /** Rows seen without their job and not yet re-dispatched (waiting out the grace period). */
  get pendingMissing(): number {
    return this.d.missingSince.size;
  }

  private async getRow(id: string, cache: Map<string, TaskRow | null>): Promise<TaskRow | null> {
    if (!cache.has(id)) cache.set(id, await this.d.store.get(id));
    return cache.get(id) ?? null;
  }

  private async jobExists(queue: string | null, jobId: string): Promise<boolean> {
    if (!queue) return false;
    return (await this.d.redis.exists(smqKeys(this.d.prefix).job(queue, jobId))) === 1;
  }

  /** Returns true if something was dispatched for this row (itself or its run's root). */
  private async redispatch(row: TaskRow, cache: Map<string, TaskRow | null>, rootsRedone: Set<string>): Promise<boolean> {
    if (row.parentTaskId) {
      const root = await this.findRoot(row, cache);
      if (root && isOpen(root)) {
        if (rootsRedone.has(root.taskId)) return false;
        if (!(await this.jobExists(root.queueName, root.taskId))) {
          rootsRedone.add(root.taskId);
          this.d.log.warn({ taskId: row.taskId, root: root.taskId }, 'sweep: run lost its jobs in Redis; re-dispatching the root, which re-plans from the rows');
          if (root.status !== 'Queued') await this.d.store.requeue(root.taskId, root.queueName);
          this.d.missingSince.delete(root.taskId);
          return this.dispatch(root);
        }
        const parent = await this.getRow(row.parentTaskId, cache);
        if (parent?.queueName && (await this.jobExists(parent.queueName, parent.taskId))) {
          return this.dispatch(row, { parent: { id: parent.taskId, queue: `${this.d.prefix}:${parent.queueName}` } });
        }
      }
    }
    this.d.log.warn({ taskId: row.taskId, status: row.status }, 'sweep: row has no job in Redis; dispatching it again from the row');
    return this.dispatch(row);
  }

  private async findRoot(row: TaskRow, cache: Map<string, TaskRow | null>): Promise<TaskRow | null> {
    let cur: TaskRow | null = row;
    for (let depth = 0; cur?.parentTaskId && depth < 16; depth++) cur = await this.getRow(cur.parentTaskId, cache);
    return cur && cur.taskId !== row.taskId ? cur : null;
  }

  private async dispatch(row: TaskRow, extra: Parameters<Dispatcher['dispatchRow']>[1] = {}): Promise<boolean> {
    try {
      const queue = await this.d.dispatcher.dispatchRow(row, extra);
      if (queue !== row.queueName) await this.d.store.setQueueName(row.taskId, queue);
      this.d.missingSince.delete(row.taskId);
      return true;
    } catch (err) {
      if (!isPermanentDispatchError(err)) throw err;
      await failUnrunnable(this.d.store, row, `cannot be redone after its job was lost: ${(err as Error).message}`);
      return false;
    }
  }

  /** Jobs in the smq queues whose task has no row (added by a raw BullMQ client, or the row was lost). */
  private async sweepOrphanJobs(r: SweepResult): Promise<void> {
    const n = this.d.orphanScanLimit;
    for (const queue of this.d.queues) {
      const key = (s: string) => stateKey(this.d.prefix, queue, s);
      const pipe = this.d.redis.pipeline();
      pipe.lrange(key('wait'), 0, n - 1);
      pipe.lrange(key('active'), 0, n - 1);
      pipe.zrange(key('delayed'), 0, n - 1);
      pipe.zrange(key('prioritized'), 0, n - 1);
      pipe.zrange(key('waiting-children'), 0, n - 1);
      pipe.zrevrange(key('completed'), 0, n - 1);
      pipe.zrevrange(key('failed'), 0, n - 1);
      const res = (await pipe.exec()) ?? [];
      const stateOf = new Map<string, 'open' | 'active' | 'completed' | 'failed'>();
      res.forEach(([err, ids], i) => {
        if (err || !Array.isArray(ids)) return;
        const state = i === 1 ? 'active' : i === 5 ? 'completed' : i === 6 ? 'failed' : 'open';
        for (const id of ids as string[]) stateOf.set(id, state);
      });
      if (stateOf.size === 0) continue;
      const known = new Set((await this.d.store.getMany([...stateOf.keys()])).map((row) => row.taskId));
      const orphans = [...stateOf.keys()].filter((id) => !known.has(id));
      if (orphans.length === 0) continue;
      const hashPipe = this.d.redis.pipeline();
      for (const id of orphans) hashPipe.hmget(smqKeys(this.d.prefix).job(queue, id), 'name', 'data', 'timestamp', 'returnvalue', 'failedReason', 'pb');
      const hashes = (await hashPipe.exec()) ?? [];
      for (let i = 0; i < orphans.length; i++) {
        const [err, value] = hashes[i] ?? [];
        if (err || !Array.isArray(value)) continue;
        const [name, data, timestamp, returnvalue, failedReason, pb] = value as (string | null)[];
        if (timestamp == null || Date.now() - Number(timestamp) < this.d.graceMs) continue;
        if (await this.createRow(orphans[i]!, queue, stateOf.get(orphans[i]!)!, { name, data, returnvalue, failedReason, pb })) r.created++;
      }
    }
  }

  private async createRow(
    taskId: string,
    queue: string,
    state: 'open' | 'active' | 'completed' | 'failed',
    h: { name: string | null; data: string | null; returnvalue: string | null; failedReason: string | null; pb: string | null },
  ): Promise<boolean> {
    let data: Partial<JobData> = {};
    try {
      const parsed: unknown = JSON.parse(h.data ?? '{}');
      if (parsed && typeof parsed === 'object') data = parsed as Partial<JobData>;
    } catch {
      // Keep an empty payload: the row still records that the job existed.
    }
    const params = data.params && typeof data.params === 'object' ? data.params : {};
    const inserted = await this.d.store.insert({
      taskId,
      taskType: data.taskType ?? h.name ?? 'unknown',
      params,
      runId: data.runId ?? null,
      parentTaskId: data.parentTaskId ?? null,
      queueName: queue,
    });
    if (!inserted) return false;
    this.d.log.warn({ taskId, queue }, 'sweep: job had no row; created it');
    const now = new Date().toISOString();
    if (state === 'active') await this.d.store.transition({ taskId, status: 'In Progress', workerId: h.pb, startedAt: now });
    if (state === 'completed') await this.d.store.transition({ taskId, status: 'Complete', outputLocation: outputLocationOf(h.returnvalue ?? undefined), finishedAt: now });
    if (state === 'failed') await this.d.store.transition({ taskId, status: 'Failed', errorMessage: h.failedReason ?? 'job failed (no reason recorded)', finishedAt: now });
    return true;
  }
}
