import type { JobsOptions } from 'bullmq';
import type { NewTask, TaskRow } from '../core/types.ts';
import { SmqError, StoreError } from '../core/errors.ts';
import type { Dispatcher } from '../flows/dispatch.ts';
import { queueForTask } from '../flows/queues.ts';
import type { ProducerDeps } from './deps.ts';

/** How long a dispatch may take before the row is left for the reconciler instead. */
export const DISPATCH_TIMEOUT_MS = 10_000;

const guarded = new WeakSet<object>();

/**
 * Attaches a no-op 'error' listener to a dispatcher queue once: an EventEmitter 'error' with no
 * listener would crash the producer when Redis drops, and the failing add() already reports it.
 */
export function quietQueue(dispatcher: Dispatcher, name: string) {
  const q = dispatcher.queue(name);
  if (!guarded.has(q)) {
    q.on('error', () => {});
    guarded.add(q);
  }
  return q;
}

/** Rejects when `p` has not settled within `ms` (a half-open Redis connection would hang a producer). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Puts an existing row on its queue and records the queue name. Returns false (row left with
 * queue_name NULL, for the reconciler's ingest) when there is no dispatcher or Redis fails; errors
 * that are about the row itself (unknown task type, bad params) are thrown.
 */
export async function dispatchExisting(
  row: Pick<TaskRow, 'taskId' | 'taskType' | 'params' | 'runId' | 'parentTaskId'>,
  deps: ProducerDeps,
  jobOpts: JobsOptions = {},
): Promise<boolean> {
  if (!deps.dispatcher) return false;
  const queueName = queueForTask(row.taskType, row.params);
  quietQueue(deps.dispatcher, queueName);
  try {
    await withTimeout(deps.dispatcher.dispatchRow(row, jobOpts), DISPATCH_TIMEOUT_MS, `dispatching ${row.taskId}`);
  } catch (err) {
    if (err instanceof SmqError) throw err;
    return false;
  }
  await deps.store.setQueueName(row.taskId, queueName);
  return true;
}

/**
 * The producer's rule: the table row is the commitment. Insert it undispatched (queue_name NULL)
 * first, then dispatch. A crash or a dead Redis in between leaves a `Queued` row the reconciler
 * ingests later, never a job without a row.
 */
export async function commitAndDispatch(task: NewTask, deps: ProducerDeps, jobOpts: JobsOptions = {}, onInserted?: () => void): Promise<boolean> {
  // Resolve the queue before writing anything, so a row that could never be dispatched is refused up front.
  queueForTask(task.taskType, task.params);
  const inserted = await deps.store.insert({ ...task, status: 'Queued', queueName: null });
  if (!inserted) throw new StoreError(`task ${task.taskId} already exists in ${deps.store.tableName}; nothing was queued (give a new id)`, { retryable: false });
  onInserted?.();
  return dispatchExisting(
    { taskId: task.taskId, taskType: task.taskType, params: task.params, runId: task.runId ?? null, parentTaskId: task.parentTaskId ?? null },
    deps,
    jobOpts,
  );
}

/** BullMQ job options from a producer's priority (null/undefined = none). */
export function priorityOpts(priority: number | null | undefined): JobsOptions {
  return priority ? { priority } : {};
}
