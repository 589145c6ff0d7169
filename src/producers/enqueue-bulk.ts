import { StoreError, ValidationError } from '../core/errors.ts';
import { jobForRow, type Dispatcher } from '../flows/dispatch.ts';
import type { QueueName } from '../flows/queues.ts';
import { DISPATCH_TIMEOUT_MS, quietQueue, withTimeout } from './commit-and-dispatch.ts';
import { withDeps, type ProducerDeps } from './deps.ts';
import { prepareTask, type TaskSpec } from './task-spec.ts';

/**
 * Queues many independent tasks with one insert and one addBulk per queue and chunk, instead of
 * three round trips per task. Rows are written before their jobs, as on the single path, so there
 * is never a job without a row.
 *
 * Unlike the single path, the rows are inserted with their queue name already set when Redis
 * answered: a batch keeps its rows undispatched for the whole addBulk, long enough for the
 * reconciler's ingest (which takes rows with queue_name NULL every 250 ms) to dispatch a good part
 * of them a second time. A failed addBulk sets queue_name back to NULL for every row not yet on its
 * queue, so the ingest takes them; a producer that dies between insert and addBulk leaves rows whose
 * job is missing, which the sweep re-dispatches after its grace period. With Redis down from the
 * start the rows go in with queue_name NULL.
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

/** Adds the committed rows' jobs; on the first Redis failure hands every row not yet added to the ingest and returns false. */
async function dispatchSpecs(specs: readonly TaskSpec[], deps: ProducerDeps & { dispatcher: Dispatcher }): Promise<boolean> {
  const chunks: { queueName: QueueName; items: TaskSpec[] }[] = [];
  for (const [queueName, items] of byQueue(specs)) {
    for (let i = 0; i < items.length; i += ADD_BULK_CHUNK) chunks.push({ queueName, items: items.slice(i, i + ADD_BULK_CHUNK) });
  }
  for (let c = 0; c < chunks.length; c++) {
    const { queueName, items } = chunks[c]!;
    const jobs = items.map((s) => {
      const { name, data, opts } = jobForRow(s.row, s.jobOpts);
      return { name, data, opts };
    });
    try {
      await withTimeout(quietQueue(deps.dispatcher, queueName).addBulk(jobs), DISPATCH_TIMEOUT_MS, `dispatching ${jobs.length} tasks to ${queueName}`);
    } catch {
      // Redis went away; the later chunks would fail the same way. (A chunk that timed out but
      // landed is harmless: the ingest's add of an existing job id adds nothing.)
      const left = chunks.slice(c).flatMap((x) => x.items.map((s) => s.row.taskId));
      await deps.store.setQueueNames(left, null);
      return false;
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
    const dispatcher = d.dispatcher;
    const inserted = await d.store.insertMany(specs.map((s) => (dispatcher ? { ...s.row, queueName: s.queue } : s.row)));
    if (inserted !== specs.length) {
      // Another producer wrote some of these ids between the check and the insert. Which rows are
      // ours cannot be told apart, so none is dispatched here: the reconciler dispatches ours from
      // the rows (the ingest if queue_name is NULL, else the sweep, which finds their jobs missing).
      throw new StoreError(
        `${specs.length - inserted} of ${specs.length} task ids were inserted at the same time by another producer; the other ${inserted} rows are Queued and the reconciler dispatches them`,
        { retryable: false },
      );
    }
    return { taskIds, dispatched: dispatcher ? await dispatchSpecs(specs, { ...d, dispatcher }) : false };
  });
}
