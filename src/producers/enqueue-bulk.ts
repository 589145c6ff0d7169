import { StoreError, ValidationError } from '../core/errors.ts';
import { jobForRow } from '../flows/dispatch.ts';
import type { QueueName } from '../flows/queues.ts';
import { DISPATCH_TIMEOUT_MS, quietQueue, withTimeout } from './commit-and-dispatch.ts';
import { withDeps, type ProducerDeps } from './deps.ts';
import { prepareTask, type TaskSpec } from './task-spec.ts';

/**
 * Queues many independent tasks with one insert, one addBulk per queue and chunk, and one
 * queue-name update per chunk, instead of three round trips per task. The producer rule is the
 * single path's: rows are written first with queue_name NULL, so a Redis that is down (or fails
 * half way) leaves `Queued` rows the reconciler's ingest dispatches later — never a job without a row.
 */

export interface BulkTask {
  taskType: string;
  params: unknown;
  /** Default: `params.task_id` if it is a string, else `sm_task_<12hex>`. */
  taskId?: string;
  runId?: string | null;
  /** 1 (most urgent) … 2097151; none means BullMQ's FIFO. */
  priority?: number | null;
}

export interface BulkEnqueueResult {
  /** In the order the tasks were given. */
  taskIds: string[];
  /** True when every task reached its queue; false leaves the rest `Queued` for the reconciler's ingest. */
  dispatched: boolean;
}

/** Jobs per addBulk call: big enough to amortise the round trip, small enough not to stall Redis for others. */
export const ADD_BULK_CHUNK = 1000;

/** Validates every task (so nothing is written if one is bad) and refuses an id given twice. */
export function prepareBulk(tasks: readonly BulkTask[]): TaskSpec[] {
  if (!Array.isArray(tasks)) throw new ValidationError('tasks', 'must be an array of { taskType, params, taskId?, runId?, priority? }');
  if (tasks.length === 0) throw new ValidationError('tasks', 'is empty; give at least one task');
  const seen = new Map<string, number>();
  return tasks.map((task, i) => {
    if (typeof task !== 'object' || task === null || Array.isArray(task)) {
      throw new ValidationError(`tasks[${i}]`, 'must be an object like { "taskType": "noop", "params": {} }');
    }
    const spec = prepareTask(task, (f) => `tasks[${i}].${f}`);
    const first = seen.get(spec.row.taskId);
    if (first !== undefined) {
      throw new ValidationError(`tasks[${i}].taskId`, `${JSON.stringify(spec.row.taskId)} is also the id of tasks[${first}]; give every task its own id`);
    }
    seen.set(spec.row.taskId, i);
    return spec;
  });
}

/** Groups by queue, keeping the caller's order inside each queue (FIFO among equal priorities). */
function byQueue(specs: readonly TaskSpec[]): Map<QueueName, TaskSpec[]> {
  const out = new Map<QueueName, TaskSpec[]>();
  for (const s of specs) {
    const list = out.get(s.queue);
    if (list) list.push(s);
    else out.set(s.queue, [s]);
  }
  return out;
}

/** Adds the committed rows' jobs; false as soon as Redis fails (what is left stays for the ingest). */
async function dispatchSpecs(specs: readonly TaskSpec[], deps: ProducerDeps): Promise<boolean> {
  if (!deps.dispatcher) return false;
  for (const [queueName, items] of byQueue(specs)) {
    const queue = quietQueue(deps.dispatcher, queueName);
    for (let i = 0; i < items.length; i += ADD_BULK_CHUNK) {
      const chunk = items.slice(i, i + ADD_BULK_CHUNK);
      const jobs = chunk.map((s) => {
        const { name, data, opts } = jobForRow(s.row, s.jobOpts);
        return { name, data, opts };
      });
      try {
        await withTimeout(queue.addBulk(jobs), DISPATCH_TIMEOUT_MS, `dispatching ${jobs.length} tasks to ${queueName}`);
      } catch {
        // Redis went away; the next chunk would fail the same way. Rows keep queue_name NULL.
        return false;
      }
      await deps.store.setQueueNames(
        chunk.map((s) => s.row.taskId),
        queueName,
      );
    }
  }
  return true;
}

/**
 * Queues many tasks of known types and returns at once. Every task is validated before anything
 * is written; if any id is already in the table, nothing is written and a StoreError names the ids.
 */
export async function enqueueTasks(tasks: readonly BulkTask[], deps?: ProducerDeps): Promise<BulkEnqueueResult> {
  const specs = prepareBulk(tasks);
  const taskIds = specs.map((s) => s.row.taskId);
  return withDeps(deps, async (d) => {
    const existing = await d.store.getMany(taskIds);
    if (existing.length > 0) {
      const ids = existing.slice(0, 5).map((r) => r.taskId);
      throw new StoreError(
        `${existing.length} of the task ids already exist in ${d.store.tableName} (${ids.join(', ')}${existing.length > 5 ? ', …' : ''}); nothing was queued (give new ids)`,
        { retryable: false },
      );
    }
    const inserted = await d.store.insertMany(specs.map((s) => s.row));
    if (inserted !== specs.length) {
      // Another producer wrote some of these ids between the check and the insert. Which rows are
      // ours cannot be told apart, so none is dispatched here: ours wait (queue_name NULL) for the ingest.
      throw new StoreError(
        `${specs.length - inserted} of ${specs.length} task ids were inserted at the same time by another producer; the other ${inserted} rows are Queued and the reconciler's ingest dispatches them`,
        { retryable: false },
      );
    }
    return { taskIds, dispatched: await dispatchSpecs(specs, d) };
  });
}
