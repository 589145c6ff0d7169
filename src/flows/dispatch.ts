import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { JobData, TaskRow } from '../core/types.ts';
import { ValidationError } from '../core/errors.ts';
import { queueForTask, type QueueName } from './queues.ts';
import { jobOptionsFor } from './job-options.ts';

export type DispatchableRow = Pick<TaskRow, 'taskId' | 'taskType' | 'params' | 'runId' | 'parentTaskId'>;

/** The BullMQ job a row becomes (one definition for add() and a bulk producer's addBulk()). */
export function jobForRow(row: DispatchableRow, extra: JobsOptions = {}): { queueName: QueueName; name: string; data: JobData; opts: JobsOptions } {
  if (!row.params) throw new ValidationError('params', `task ${row.taskId} has params that are not a JSON object; fix the row's params`);
  const queueName = queueForTask(row.taskType, row.params);
  const data: JobData = { taskType: row.taskType, params: row.params, runId: row.runId, parentTaskId: row.parentTaskId };
  return { queueName, name: row.taskType, data, opts: { ...jobOptionsFor(row.taskType), ...extra, jobId: row.taskId } };
}

/**
 * Puts a canonical row on its BullMQ queue. The job id is the row's task_id, so dispatching the
 * same row twice adds nothing (BullMQ ignores an existing id). Used by producers, the reconciler's
 * ingest and its sweep alike — one path from row to job.
 */
export class Dispatcher {
  private readonly queues = new Map<string, Queue>();
  constructor(
    private readonly connection: ConnectionOptions,
    readonly prefix: string,
  ) {}

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, q);
    }
    return q;
  }

  async dispatchRow(row: DispatchableRow, extra: JobsOptions = {}): Promise<QueueName> {
    const job = jobForRow(row, extra);
    await this.queue(job.queueName).add(job.name, job.data, job.opts);
    return job.queueName;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
