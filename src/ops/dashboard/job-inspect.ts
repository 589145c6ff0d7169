import type { Job, Queue } from 'bullmq';
import type { TaskRow } from '../../core/types.ts';

/** A task's BullMQ side, for the task page: its state and where it sits in its flow. */
export interface JobInfo {
  queue: string;
  state: string;
  attemptsMade: number;
  attemptsStarted: number;
  failedReason: string | null;
  processedBy: string | null;
  processedOn: number | null;
  finishedOn: number | null;
  /** Parent job as "queue/id" and its task id. */
  parent: { queue: string; taskId: string } | null;
  children: { bucket: string; queue: string; taskId: string }[];
}

/** Splits a fully qualified job key `<prefix>:<queue>:<id>`; the prefix itself may contain ':'. */
export function splitJobKey(key: string, prefix: string): { queue: string; taskId: string } | null {
  if (!key.startsWith(`${prefix}:`)) return null;
  const rest = key.slice(prefix.length + 1);
  const colon = rest.indexOf(':');
  if (colon < 0) return null;
  return { queue: rest.slice(0, colon), taskId: rest.slice(colon + 1) };
}

export async function findJob(queues: Map<string, Queue>, row: Pick<TaskRow, 'taskId' | 'queueName'>): Promise<Job | null> {
  const first = row.queueName ? queues.get(row.queueName) : undefined;
  const order = first ? [first, ...[...queues.values()].filter((q) => q !== first)] : [...queues.values()];
  for (const q of order) {
    const job = await q.getJob(row.taskId);
    if (job) return job;
  }
  return null;
}

export async function inspectJob(queues: Map<string, Queue>, prefix: string, row: Pick<TaskRow, 'taskId' | 'queueName'>): Promise<JobInfo | null> {
  const job = await findJob(queues, row);
  if (!job) return null;
  const [state, deps] = await Promise.all([job.getState(), job.getDependencies()]);
  const children: JobInfo['children'] = [];
  const add = (bucket: string, keys: string[]) => {
    for (const k of keys) {
      const s = splitJobKey(k, prefix);
      if (s) children.push({ bucket, ...s });
    }
  };
  add('processed', Object.keys(deps.processed ?? {}));
  add('pending', deps.unprocessed ?? []);
  add('failed', Object.keys((deps as { failed?: Record<string, string> }).failed ?? {}));
  add('ignored', Object.keys(deps.ignored ?? {}));
  const parent = job.parentKey ? splitJobKey(job.parentKey, prefix) : null;
  return {
    queue: job.queueName,
    state,
    attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted ?? 0,
    failedReason: job.failedReason || null,
    processedBy: job.processedBy ?? null,
    processedOn: job.processedOn ?? null,
    finishedOn: job.finishedOn ?? null,
    parent,
    children,
  };
}
