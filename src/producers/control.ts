import type { Redis } from 'ioredis';
import type { Job } from 'bullmq';
import type { TaskRow, TaskStatus } from '../core/types.ts';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import { queueForTask, smqKeys } from '../flows/queues.ts';
import { dispatchExisting, quietQueue } from './commit-and-dispatch.ts';
import { openProducerRedis, withDeps, type ProducerDeps } from './deps.ts';
import { runProgress, type RunProgress } from './progress.ts';

/**
 * `status`, `cancel` and `retry` of a run or a single task, addressed by run id, orchestrator task
 * id or any task id of the run. The table decides what a run is (rows sharing run_id); Redis is
 * consulted for job states and cleaned up, but an unreachable Redis never stops the table change.
 */

const TERMINAL: ReadonlySet<TaskStatus> = new Set(['Complete', 'Failed', 'Cancelled']);

export interface RunRows {
  /** The run id, or the task id of a standalone task. */
  runId: string;
  root: TaskRow;
  rows: TaskRow[];
}

/** Finds the rows `id` designates: the whole run of a task that has a run_id, else the task alone. */
export async function findRun(deps: Pick<ProducerDeps, 'store'>, id: string): Promise<RunRows> {
  if (typeof id !== 'string' || id.trim() === '') throw new ValidationError('id', 'give a run id or a task id');
  const row = await deps.store.get(id);
  const runId = row ? row.runId : id;
  const rows = runId ? await deps.store.listByRun(runId) : [];
  if (row && rows.length === 0) rows.push(row);
  if (rows.length === 0) throw new NotFoundError(`no task or run with id ${id} in table ${deps.store.tableName}; check the id (smq status lists run ids and task ids alike)`);
  const root = rows.find((r) => r.parentTaskId === null && r.taskType.endsWith('_orchestrator')) ?? rows.find((r) => r.parentTaskId === null) ?? row ?? rows[0]!;
  return { runId: runId ?? root.taskId, root, rows };
}

function queueNameOf(row: TaskRow): string | null {
  if (row.queueName && !row.queueName.includes(':')) return row.queueName;
  try {
    return queueForTask(row.taskType, row.params);
  } catch {
    return null;
  }
}

async function getJob(deps: ProducerDeps, row: TaskRow): Promise<Job | null> {
  const q = queueNameOf(row);
  if (!deps.dispatcher || !q) return null;
  return (await quietQueue(deps.dispatcher, q).getJob(row.taskId)) ?? null;
}

export interface TaskStatusView {
  taskId: string;
  taskType: string;
  status: TaskStatus;
  parentTaskId: string | null;
  queueName: string | null;
  /** BullMQ state of the job, null when Redis is unreachable or the job does not exist (e.g. removed after completion). */
  jobState: string | null;
  jobProgress: unknown;
  progress: unknown;
  outputLocation: string | null;
  errorMessage: string | null;
  attempts: number;
  workerId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface RunStatus {
  id: string;
  runId: string;
  rootTaskId: string;
  status: TaskStatus;
  outputLocation: string | null;
  errorMessage: string | null;
  progress: RunProgress;
  redisReachable: boolean;
  tasks: TaskStatusView[];
}

export async function status(id: string, deps?: ProducerDeps): Promise<RunStatus> {
  return withDeps(deps, async (d) => {
    const run = await findRun(d, id);
    const redisReachable = d.dispatcher !== null;
    const tasks: TaskStatusView[] = [];
    for (const r of run.rows) {
      let jobState: string | null = null;
      let jobProgress: unknown = null;
      if (redisReachable) {
        try {
          const job = await getJob(d, r);
          if (job) {
            jobState = await job.getState();
            jobProgress = job.progress ?? null;
          }
        } catch {
          // Redis went away mid-status: the table view stands on its own.
        }
      }
      tasks.push({
        taskId: r.taskId,
        taskType: r.taskType,
        status: r.status,
        parentTaskId: r.parentTaskId,
        queueName: r.queueName,
        jobState,
        jobProgress,
        progress: r.progress,
        outputLocation: r.outputLocation,
        errorMessage: r.errorMessage,
        attempts: r.attempts,
        workerId: r.workerId,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      });
    }
    return {
      id,
      runId: run.runId,
      rootTaskId: run.root.taskId,
      status: run.root.status,
      outputLocation: run.root.outputLocation,
      errorMessage: run.root.errorMessage,
      progress: runProgress(tasks.filter((t) => t.taskId !== run.root.taskId || tasks.length === 1)),
      redisReachable,
      tasks,
    };
  });
}

async function withRedis<T>(deps: ProducerDeps, fn: (r: Redis) => Promise<T>): Promise<T | null> {
  if (deps.redis) return fn(deps.redis);
  if (!deps.dispatcher) return null;
  const r = await openProducerRedis(deps.config.redisUrl);
  if (!r) return null;
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export interface CancelResult {
  runId: string;
  /** Rows this call moved to Cancelled. */
  cancelled: string[];
  /** Jobs removed from their queues (waiting, delayed, prioritized, waiting-children). */
  removedJobs: string[];
  /** Jobs a worker is running: told to stop over the cancel channel; the worker aborts them. */
  signalled: string[];
  /** False if Redis did not answer: rows are Cancelled, but run the cancel again once Redis is back to remove the jobs. */
  redisReachable: boolean;
}

const REMOVABLE = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children', 'wait', 'paused']);

/** Cancels a run (or a task) and everything under it. Idempotent: a second call changes nothing more. */
export async function cancel(id: string, deps?: ProducerDeps): Promise<CancelResult> {
  return withDeps(deps, async (d) => {
    const run = await findRun(d, id);
    const now = new Date().toISOString();
    const cancelled: string[] = [];
    for (const r of run.rows) {
      if (TERMINAL.has(r.status)) continue;
      if (await d.store.transition({ taskId: r.taskId, status: 'Cancelled', finishedAt: now, errorMessage: `cancelled by user (${id})` })) cancelled.push(r.taskId);
    }
    // Every Cancelled row of the run, not just the ones changed now: a repeat cancel after Redis was down finishes the Redis side.
    const after = await d.store.getMany(run.rows.map((r) => r.taskId));
    const ids = after.filter((r) => r.status === 'Cancelled').map((r) => r.taskId);
    const removedJobs: string[] = [];
    const signalled: string[] = [];
    const reachable = await withRedis(d, async (redis) => {
      if (ids.length === 0) return true;
      const keys = smqKeys(d.config.queuePrefix);
      await redis.sadd(keys.cancelledSet, ...ids);
      await redis.publish(keys.cancelChannel, JSON.stringify({ taskIds: ids }));
      // Leaves first: removing a parent while a child is active would throw for the whole subtree.
      const byDepth = [...after].filter((r) => r.status === 'Cancelled').sort((a, b) => depth(b, after) - depth(a, after));
      for (const r of byDepth) {
        const job = await getJob(d, r);
        if (!job) continue;
        const state = await job.getState();
        if (REMOVABLE.has(state)) {
          try {
            await job.remove();
            removedJobs.push(r.taskId);
          } catch {
            signalled.push(r.taskId); // a child became active meanwhile; the worker's abort handles it
          }
        } else if (state === 'active') {
          signalled.push(r.taskId);
        }
      }
      return true;
    });
    return { runId: run.runId, cancelled, removedJobs, signalled, redisReachable: reachable === true };
  });
}

function depth(row: TaskRow, rows: TaskRow[]): number {
  const byId = new Map(rows.map((r) => [r.taskId, r]));
  let d = 0;
  for (let p = row.parentTaskId; p && d < 1000; p = byId.get(p)?.parentTaskId ?? null) d++;
  return d;
}

export interface RetryResult {
  runId: string;
  rootTaskId: string;
  /** Rows moved back to Queued. */
  requeued: string[];
  /** Failed/cancelled jobs removed from Redis so their ids can run again. */
  removedJobs: string[];
  dispatched: boolean;
}

/**
 * Retries a failed or cancelled run (or task) from what failed: Failed/Cancelled rows go back to
 * Queued, Complete rows are left alone (finished segments are not redone), the old jobs are removed,
 * and the root is dispatched again; its orchestrator re-plans from the canonical rows.
 */
export async function retry(id: string, deps?: ProducerDeps): Promise<RetryResult> {
  return withDeps(deps, async (d) => {
    const run = await findRun(d, id);
    const targets = run.rows.filter((r) => r.status === 'Failed' || r.status === 'Cancelled');
    if (targets.length === 0) {
      throw new ValidationError(
        'id',
        `nothing to retry: no task of ${run.runId} is Failed or Cancelled (the run is ${run.root.status}); retry applies to failed or cancelled work only`,
      );
    }
    if (!d.dispatcher) {
      // Retry must clear the old failed jobs first, or their ids would swallow the new dispatch.
      throw new Error(`Redis (REDIS_URL=${d.config.redisUrl}) does not answer; retry needs it to clear the failed jobs. Nothing was changed; run the retry again once Redis is back`);
    }
    const removedJobs: string[] = [];
    // Redis first, before any row changes: an old failed job with the same id would swallow the new dispatch.
    const reachable = await withRedis(d, async (redis) => {
      const ordered = [...targets].sort((a, b) => depth(a, run.rows) - depth(b, run.rows));
      for (const r of ordered) {
        const job = await getJob(d, r);
        if (!job) continue;
        const state = await job.getState();
        if (state === 'active') {
          throw new ValidationError('id', `task ${r.taskId} is still running on a worker (its cancel is in progress); wait until it stops, then retry`);
        }
        try {
          await job.remove();
          removedJobs.push(r.taskId);
        } catch (err) {
          throw new ValidationError('id', `task ${r.taskId} could not be removed from its queue (${(err as Error).message}); wait until its running children stop, then retry`);
        }
      }
      await redis.srem(smqKeys(d.config.queuePrefix).cancelledSet, ...targets.map((r) => r.taskId));
      return true;
    });
    const requeued: string[] = [];
    for (const r of targets) {
      // The root goes back undispatched (queue_name NULL) so the reconciler dispatches it if we cannot;
      // children keep their queue name so ingest never dispatches them outside their flow.
      const isRoot = r.taskId === run.root.taskId;
      if (await d.store.requeue(r.taskId, isRoot ? null : undefined)) requeued.push(r.taskId);
    }
    let dispatched = false;
    if (reachable) {
      const root = (await d.store.get(run.root.taskId)) ?? run.root;
      if (root.status === 'Queued' && root.params) {
        const prio = (root.params.orchestrator_details as Record<string, unknown> | undefined)?.priority;
        dispatched = await dispatchExisting(root, d, typeof prio === 'number' && prio > 0 ? { priority: prio } : {});
      }
    }
    return { runId: run.runId, rootTaskId: run.root.taskId, requeued, removedJobs, dispatched };
  });
}
