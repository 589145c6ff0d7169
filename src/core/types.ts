/**
 * Shared vocabulary of smq: the task row, its statuses, and the update shape every
 * layer (producers, reconciler, dashboard) speaks. The strings are the seed's exactly,
 * because the seed's Python tools read and write the same table.
 */

export const TASK_STATUSES = ['Queued', 'In Progress', 'Complete', 'Failed', 'Cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

/** Task types smq has handlers for. The column stays free text: unknown types fail loudly at dispatch. */
export const KNOWN_TASK_TYPES = [
  'travel_orchestrator',
  'travel_segment',
  'travel_stitch',
  'generate_openpose',
  'rife_interpolate_images',
  'comfyui_workflow',
  'standard_wgp_task',
  'different_pose_orchestrator',
  'different_pose_guide',
  'different_pose_finalize',
  // A handler that does nothing: a canary for health checks and the dispatch benchmarks.
  'noop',
] as const;
export type KnownTaskType = (typeof KNOWN_TASK_TYPES)[number];

export function isKnownTaskType(value: unknown): value is KnownTaskType {
  return typeof value === 'string' && (KNOWN_TASK_TYPES as readonly string[]).includes(value);
}

/** Default when a legacy row has no task_type and params carry none (the seed's migration rule). */
export const LEGACY_DEFAULT_TASK_TYPE = 'standard_wgp_task';

/** Engines a generation step may run on (shared/spec/README.md decision 7). */
export const ENGINES = ['onnx', 'wgp', 'comfyui'] as const;
export type EngineName = (typeof ENGINES)[number];
export const DEFAULT_ENGINE: EngineName = 'onnx';

/** One row of the canonical `tasks` table, dialect-neutral, camelCased in exactly one place (the stores). */
export interface TaskRow {
  taskId: string;
  taskType: string;
  /** Parsed params, or null when the stored text is not a JSON object (then paramsError says why). */
  params: Record<string, unknown> | null;
  paramsError: string | null;
  status: TaskStatus;
  workerId: string | null;
  outputLocation: string | null;
  createdAt: string;
  updatedAt: string;
  attempts: number;
  errorMessage: string | null;
  progress: unknown | null;
  runId: string | null;
  parentTaskId: string | null;
  /** BullMQ queue the row was dispatched to; null means "not yet dispatched" (ingest picks it up). */
  queueName: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface NewTask {
  taskId: string;
  taskType: string;
  params: Record<string, unknown>;
  status?: TaskStatus; // default Queued
  runId?: string | null;
  parentTaskId?: string | null;
  queueName?: string | null;
}

/**
 * A monotonic update. Fields left undefined are not touched. A status that would move the
 * row backwards (e.g. a late `In Progress` after `Complete`) is ignored, and so are field
 * changes on a terminal row — except when the update itself is the terminal transition.
 */
export interface TaskUpdate {
  taskId: string;
  status?: TaskStatus;
  outputLocation?: string | null;
  errorMessage?: string | null;
  progress?: unknown;
  workerId?: string | null;
  /** Absolute attempt count; the stored value only ever grows. */
  attempts?: number;
  startedAt?: string | null;
  finishedAt?: string | null;
}

/** What every job returns (BullMQ returnvalue); the reconciler copies output_location to the row. */
export interface JobResult {
  output_location: string | null;
  [key: string]: unknown;
}

/** The BullMQ job payload: name = taskType, id = taskId. */
export interface JobData {
  taskType: string;
  params: Record<string, unknown>;
  runId?: string | null;
  parentTaskId?: string | null;
  /** Orchestrators keep their step here across waiting-children rounds (BullMQ re-runs from the top). */
  step?: string;
}
