import type { FlowJob } from 'bullmq';
import type { ChildTask } from '../consumers/handlers/types.ts';
import type { JobData, NewTask } from '../core/types.ts';
import { flowChildOptionsFor } from './job-options.ts';
import { queueForTask } from './queues.ts';

/**
 * Pure conversions of ChildTask trees: to BullMQ FlowJobs, to canonical rows, and pruning.
 * Job id = task id everywhere, so the same tree added twice lands on the same jobs.
 */

export interface FlatNode {
  node: ChildTask;
  /** Direct flow parent (the orchestrator for a root). */
  parentTaskId: string;
  runId: string | null;
  queueName: string;
}

/**
 * The run a child belongs to: planners put `orchestrator_run_id` in every child's params; an
 * orchestrator row inserted by an old client has no run_id column, so the params win.
 */
export function runIdOf(node: ChildTask, fallback: string | null): string | null {
  const fromParams = node.params.orchestrator_run_id;
  return typeof fromParams === 'string' && fromParams !== '' ? fromParams : fallback;
}

export function flattenTrees(trees: ChildTask[], rootParentTaskId: string, runIdFallback: string | null): FlatNode[] {
  const out: FlatNode[] = [];
  const walk = (node: ChildTask, parentTaskId: string) => {
    out.push({ node, parentTaskId, runId: runIdOf(node, runIdFallback), queueName: queueForTask(node.taskType, node.params) });
    for (const c of node.children ?? []) walk(c, node.taskId);
  };
  for (const t of trees) walk(t, rootParentTaskId);
  return out;
}

/** Drops every node `keep` refuses, with its subtree (a finished node's inputs are not needed again). */
export function pruneTrees(trees: ChildTask[], keep: (node: ChildTask) => boolean): ChildTask[] {
  return trees.filter(keep).map((t) => {
    const children = pruneTrees(t.children ?? [], keep);
    const { children: _old, ...rest } = t;
    return children.length > 0 ? { ...rest, children } : rest;
  });
}

export function toNewTasks(flat: FlatNode[]): NewTask[] {
  return flat.map((f) => ({
    taskId: f.node.taskId,
    taskType: f.node.taskType,
    params: f.node.params,
    status: 'Queued',
    runId: f.runId,
    parentTaskId: f.parentTaskId,
    queueName: f.queueName,
  }));
}

export function toFlowJob(node: ChildTask, opts: { prefix: string; parentTaskId: string; runIdFallback: string | null }): FlowJob {
  const runId = runIdOf(node, opts.runIdFallback);
  const data: JobData = { taskType: node.taskType, params: node.params, runId, parentTaskId: opts.parentTaskId };
  const children = (node.children ?? []).map((c) => toFlowJob(c, { ...opts, parentTaskId: node.taskId }));
  return {
    name: node.taskType,
    queueName: queueForTask(node.taskType, node.params),
    prefix: opts.prefix,
    data,
    opts: { ...flowChildOptionsFor(node.taskType), jobId: node.taskId },
    ...(children.length > 0 ? { children } : {}),
  };
}
