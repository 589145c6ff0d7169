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
  children: FlowNode[];
}

/** One node of the flow tree under a job, from BullMQ's dependency sets (children run first). */
export interface FlowNode {
  bucket: string;
  queue: string;
  taskId: string;
  children: FlowNode[];
}

/** Enough for any travel run's chain; beyond it the page says the tree was cut. */
const MAX_FLOW_NODES = 300;
const MAX_FLOW_DEPTH = 64;

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
  const state = await job.getState();
  const budget = { left: MAX_FLOW_NODES };
  const children = await flowChildren(job, queues, prefix, 0, budget);
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

async function flowChildren(job: Job, queues: Map<string, Queue>, prefix: string, depth: number, budget: { left: number }): Promise<FlowNode[]> {
  if (depth >= MAX_FLOW_DEPTH || budget.left <= 0) return [];
  const deps = await job.getDependencies();
  const keyed: [string, string][] = [
    ...Object.keys(deps.processed ?? {}).map((k): [string, string] => ['processed', k]),
    ...(deps.unprocessed ?? []).map((k): [string, string] => ['pending', k]),
    ...Object.keys((deps as { failed?: Record<string, string> }).failed ?? {}).map((k): [string, string] => ['failed', k]),
    ...Object.keys(deps.ignored ?? {}).map((k): [string, string] => ['ignored', k]),
  ];
  const nodes: FlowNode[] = [];
  for (const [bucket, key] of keyed) {
    const where = splitJobKey(key, prefix);
    if (!where || budget.left-- <= 0) continue;
    const child = await queues.get(where.queue)?.getJob(where.taskId);
    nodes.push({ bucket, ...where, children: child ? await flowChildren(child, queues, prefix, depth + 1, budget) : [] });
  }
  return nodes;
}
