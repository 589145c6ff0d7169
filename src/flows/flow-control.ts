import { WaitingChildrenError, type FlowProducer, type Job, type Queue } from 'bullmq';
import type { ChildTask, FlowControl } from '../consumers/handlers/types.ts';
import { CancelledError } from '../core/errors.ts';
import type { JobData, TaskRow } from '../core/types.ts';
import type { TaskStore } from '../db/task-store.ts';
import { flattenTrees, pruneTrees, toFlowJob, toNewTasks, type FlatNode } from './flow-tree.ts';

/**
 * FlowControl on BullMQ 6.7 for orchestrator handlers: a running job adds its planned tree as its
 * own children, then parks in `waiting-children` and is run again from the top once they are done.
 *
 * Adding is idempotent against both stores:
 * - canonical rows first (`insertMany` skips existing ids), so a crash before the flow is added
 *   leaves Queued rows that a re-run of the orchestrator re-adds;
 * - nodes whose row is already Complete are not added again (after `removeOnComplete` the job id
 *   no longer protects us, the row does), nor is anything below them;
 * - a node whose job still exists is re-added on purpose: BullMQ treats it as a duplicate and only
 *   re-attaches it to its parent (or hands a completed value over), so nothing runs twice;
 * - except a job left `failed` by an earlier attempt of the run: re-attaching it would leave the
 *   parent waiting on a child that never finishes, so it is removed and its row requeued first.
 */

export interface FlowDeps {
  store: TaskStore;
  flowProducer: FlowProducer;
  /** Queue handles on the same prefix as the FlowProducer (a `Dispatcher` fits). */
  queues: { queue(name: string): Queue; readonly prefix: string };
}

export interface AddChildrenReport {
  rowsInserted: number;
  rowsRequeued: string[];
  jobsRemoved: string[];
  /** Task ids skipped because their rows were Complete. */
  skippedComplete: string[];
  /** Task ids handed to the FlowProducer (new or re-attached). */
  added: string[];
}

export function createFlowControl(job: Job, token: string | undefined, deps: FlowDeps): FlowControl & { lastReport: AddChildrenReport | null } {
  const data = job.data as JobData;
  const control = {
    lastReport: null as AddChildrenReport | null,
    get step() {
      return (job.data as JobData).step;
    },
    async addChildren(trees: ChildTask[]): Promise<void> {
      control.lastReport = await addChildTrees(job, trees, data.runId ?? null, deps);
    },
    async waitForChildren(nextStep: string): Promise<false> {
      // The step lives in job data: BullMQ runs the processor again from the top after the wait.
      await job.updateData({ ...(job.data as JobData), step: nextStep });
      const waiting = await job.moveToWaitingChildren(token ?? '');
      // Thrown only when the job really moved: thrown after `false` it would stay active, unlocked, and stall.
      if (waiting) throw new WaitingChildrenError();
      return false;
    },
  };
  return control;
}

async function addChildTrees(job: Job, trees: ChildTask[], runIdFallback: string | null, deps: FlowDeps): Promise<AddChildrenReport> {
  const parentTaskId = job.id!;
  const all = flattenTrees(trees, parentTaskId, runIdFallback);
  // Sent first, so its round trip overlaps reading and inserting the rows (synchronous on SQLite).
  const failedLookup = failedJobIds(all, deps.queues);
  failedLookup.catch(() => {}); // awaited below; a rejection before then is not unhandled
  const rows = new Map<string, TaskRow>((await deps.store.getMany(all.map((f) => f.node.taskId))).map((r) => [r.taskId, r]));
  const cancelled = all.find((f) => rows.get(f.node.taskId)?.status === 'Cancelled');
  if (cancelled) {
    throw new CancelledError(`task ${cancelled.node.taskId} of this run was cancelled; use \`smq retry\` on the run to run it again`);
  }
  const skippedComplete = all.filter((f) => rows.get(f.node.taskId)?.status === 'Complete').map((f) => f.node.taskId);
  // A first plan finds nothing Complete: the trees are added as they are.
  const pending = skippedComplete.length > 0 ? pruneTrees(trees, (n) => rows.get(n.taskId)?.status !== 'Complete') : trees;
  const flat = skippedComplete.length > 0 ? flattenTrees(pending, parentTaskId, runIdFallback) : all;

  // New rows do not depend on the repairs below, which only touch jobs and rows that already exist.
  const rowsInserted = await deps.store.insertMany(toNewTasks(flat));
  const rowsRequeued: string[] = [];
  const jobsRemoved: string[] = [];
  const failedJobs = await failedLookup;
  // Children before parents, so a failed parent is never removed while its failed child still points at it.
  for (const f of [...flat].reverse()) {
    const id = f.node.taskId;
    const existing = failedJobs.has(id) ? await deps.queues.queue(f.queueName).getJob(id) : undefined;
    if (existing) {
      await existing.remove({ removeChildren: false });
      jobsRemoved.push(id);
    }
    if (rows.get(id)?.status === 'Failed') {
      await deps.store.requeue(id, f.queueName);
      rowsRequeued.push(id);
    }
  }

  const parent = { id: parentTaskId, queue: job.queueQualifiedName };
  for (const root of pending) {
    const flow = toFlowJob(root, { prefix: deps.queues.prefix, parentTaskId, runIdFallback });
    flow.opts = { ...flow.opts, parent };
    await deps.flowProducer.add(flow);
  }
  return { rowsInserted, rowsRequeued, jobsRemoved, skippedComplete, added: flat.map((f) => f.node.taskId) };
}

// KEYS[1]: a queue's `failed` zset; ARGV: job ids. Returns those of the ids that are in it.
const FAILED_AMONG = `
local out = {}
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then out[#out + 1] = ARGV[i] end
end
return out
`;
const withFailedAmong = new WeakSet<object>();

/**
 * Which nodes' jobs sit in their queue's `failed` set (BullMQ's own state for a failed job): one
 * script call per queue, usually two. A getJob + getState per node cost two round trips per
 * segment, which at a thousand segments was a large share of the time the plan took.
 */
async function failedJobIds(flat: FlatNode[], queues: FlowDeps['queues']): Promise<Set<string>> {
  const byQueue = new Map<string, string[]>();
  for (const f of flat) {
    const ids = byQueue.get(f.queueName);
    if (ids) ids.push(f.node.taskId);
    else byQueue.set(f.queueName, [f.node.taskId]);
  }
  const found = await Promise.all(
    [...byQueue].map(async ([name, ids]) => {
      const queue = queues.queue(name);
      const client = await queue.getBackend().client;
      if (!withFailedAmong.has(client)) {
        client.defineCommand('smqFailedAmong', { numberOfKeys: 1, lua: FAILED_AMONG });
        withFailedAmong.add(client);
      }
      return (await client.runCommand('smqFailedAmong', [queue.keys.failed, ...ids])) as string[];
    }),
  );
  return new Set(found.flat());
}
