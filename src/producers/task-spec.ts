import type { JobsOptions } from 'bullmq';
import { isKnownTaskType, KNOWN_TASK_TYPES, type NewTask } from '../core/types.ts';
import { SmqError, ValidationError } from '../core/errors.ts';
import { queueForTask, type QueueName } from '../flows/queues.ts';
import { priorityOpts } from './commit-and-dispatch.ts';
import { assertJobId, genericTaskId } from './ids.ts';

/**
 * The edge check of a generic task (`enqueueTask`, `enqueueTasks`, `smq enqueue`): one set of rules
 * and messages for the single and the bulk path, which only differ in how they name a field.
 */

export interface TaskInput {
  taskType: unknown;
  params: unknown;
  /** Default: `params.task_id` if it is a string, else `sm_task_<12hex>`. */
  taskId?: unknown;
  runId?: unknown;
  /** 1 (most urgent) … 2097151; none means BullMQ's FIFO. */
  priority?: unknown;
}

export type TaskField = 'taskType' | 'params' | 'taskId' | 'runId' | 'priority' | 'params.execution_engine';

/** A validated task: its undispatched row, the queue it goes to and its extra job options. */
export interface TaskSpec {
  row: NewTask & { runId: string | null; parentTaskId: null; queueName: null };
  queue: QueueName;
  jobOpts: JobsOptions;
}

export const MAX_PRIORITY = 2_097_151;

export function prepareTask(input: TaskInput, field: (f: TaskField) => string): TaskSpec {
  const { taskType, params } = input;
  if (!isKnownTaskType(taskType)) {
    throw new ValidationError(field('taskType'), `${JSON.stringify(taskType)} is not a task type smq can run; use one of ${KNOWN_TASK_TYPES.join(', ')}`);
  }
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ValidationError(field('params'), 'must be a JSON object, e.g. {"prompt": "a cat"}');
  }
  const p = params as Record<string, unknown>;
  const taskId = assertJobId((input.taskId ?? (typeof p.task_id === 'string' ? p.task_id : genericTaskId())) as string, field('taskId'));
  const priority = input.priority ?? null;
  if (priority !== null && !(Number.isInteger(priority) && (priority as number) >= 1 && (priority as number) <= MAX_PRIORITY)) {
    throw new ValidationError(field('priority'), `must be an integer between 1 (most urgent) and ${MAX_PRIORITY}, got ${JSON.stringify(priority)}`);
  }
  const runId = input.runId ?? null;
  if (runId !== null && (typeof runId !== 'string' || runId === '')) {
    throw new ValidationError(field('runId'), `must be a non-empty string or absent, got ${JSON.stringify(runId)}`);
  }
  let queue: QueueName;
  try {
    queue = queueForTask(taskType, p);
  } catch (err) {
    // queueForTask reports an unknown engine as an unknown type; at this edge it is a bad param.
    if (err instanceof SmqError && err.code === 'UNKNOWN_TASK_TYPE') {
      throw new ValidationError(field('params.execution_engine'), `${JSON.stringify(p.execution_engine)} is not an engine smq knows; use onnx, wgp or comfyui`);
    }
    throw err;
  }
  return {
    row: { taskId, taskType, params: p, status: 'Queued', runId, parentTaskId: null, queueName: null },
    queue,
    jobOpts: priorityOpts(priority as number | null),
  };
}
