import type { EngineName } from '../core/types.ts';
import { DEFAULT_ENGINE, ENGINES } from '../core/types.ts';
import { UnknownTaskTypeError } from '../core/errors.ts';

/**
 * Every queue name and every smq-owned Redis key, in one module.
 *
 * GPU work is split per engine (`gpu-onnx`, `gpu-wgp`, `gpu-comfyui`) so a worker only takes what
 * its engines can run and a task that asks for an engine nobody serves waits visibly instead of
 * running elsewhere (spec decision 7). CPU work (orchestration, stitching, pose guides) has its own
 * queue so GPU workers never sit on it.
 *
 * All queues share one BullMQ prefix, `{smq}` by default: the braces are a Redis Cluster hash tag,
 * and a flow's Lua touches parent keys across queues, so the whole flow family must live in one slot.
 */
export const CPU_QUEUE = 'cpu';
export type QueueName = 'cpu' | `gpu-${EngineName}`;

export function gpuQueue(engine: EngineName): QueueName {
  return `gpu-${engine}`;
}

export const ALL_QUEUES: readonly QueueName[] = [CPU_QUEUE, ...ENGINES.map(gpuQueue)];

const CPU_TASK_TYPES = new Set([
  'travel_orchestrator',
  'travel_stitch',
  'different_pose_orchestrator',
  'different_pose_guide',
  'different_pose_finalize',
  'noop',
]);
const GPU_TASK_TYPES = new Set(['travel_segment', 'generate_openpose', 'rife_interpolate_images', 'standard_wgp_task']);

/** Engine a params object asks for; rows without the key (seed rows included) run on onnx. */
export function engineOf(params: Record<string, unknown> | null | undefined): EngineName {
  const direct = params?.execution_engine;
  const nested = (params?.full_orchestrator_payload as Record<string, unknown> | undefined)?.execution_engine;
  const raw = typeof direct === 'string' ? direct : typeof nested === 'string' ? nested : undefined;
  if (raw === undefined || raw === '') return DEFAULT_ENGINE;
  if ((ENGINES as readonly string[]).includes(raw)) return raw as EngineName;
  // Validation at the edge rejects this earlier; here we refuse to guess.
  throw new UnknownTaskTypeError(`engine:${raw}`);
}

/** The queue a task type runs on. Unknown task types are an error, never a silent generation. */
export function queueForTask(taskType: string, params: Record<string, unknown> | null | undefined): QueueName {
  if (CPU_TASK_TYPES.has(taskType)) return CPU_QUEUE;
  if (taskType === 'comfyui_workflow') return gpuQueue('comfyui');
  if (GPU_TASK_TYPES.has(taskType)) return gpuQueue(engineOf(params));
  throw new UnknownTaskTypeError(taskType);
}

/** smq's own Redis keys, under the same hash-tagged prefix as the queues. */
export function smqKeys(prefix: string) {
  return {
    /** Pub/sub channel: cancel broadcasts (BullMQ has no cross-process cancel). */
    cancelChannel: `${prefix}:smq:cancel`,
    /** Set of cancelled task ids, so a job picked up after the broadcast is still refused. */
    cancelledSet: `${prefix}:smq:cancelled`,
    /** Leader lock for the reconciler's ingest. */
    reconcilerLeader: `${prefix}:smq:reconciler-leader`,
    /** Hash the reconciler publishes its lag and last sweep to (read by the dashboard's /metrics). */
    reconcilerStats: `${prefix}:smq:reconciler-stats`,
    /** Events stream of a queue (BullMQ's own key). */
    events: (queue: string) => `${prefix}:${queue}:events`,
    /** Job hash (BullMQ's own key). */
    job: (queue: string, jobId: string) => `${prefix}:${queue}:${jobId}`,
  };
}
