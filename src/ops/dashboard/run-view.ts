import type { TaskRow } from '../../core/types.ts';

/** Pure shaping of canonical rows into what the runs page and `/api/runs/:id` show. */

export const RUN_ROOT_TYPES = ['travel_orchestrator', 'different_pose_orchestrator'] as const;

export interface StepView {
  taskId: string;
  taskType: string;
  /** segment_index for travel segments, else null. */
  index: number | null;
  status: TaskRow['status'];
  percent: number | null;
  stage: string | null;
  workerId: string | null;
  attempts: number;
  durationMs: number | null;
  outputLocation: string | null;
  errorMessage: string | null;
}

export interface RunView {
  runId: string;
  rootTaskId: string;
  kind: string;
  status: TaskRow['status'];
  createdAt: string;
  durationMs: number | null;
  percent: number;
  finalVideo: string | null;
  errorMessage: string | null;
  steps: StepView[];
}

export function durationMs(row: Pick<TaskRow, 'startedAt' | 'finishedAt'>, now = Date.now()): number | null {
  if (!row.startedAt) return null;
  const start = Date.parse(row.startedAt);
  const end = row.finishedAt ? Date.parse(row.finishedAt) : now;
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null;
}

/** Progress as the worker reported it: a {percent, stage} object (or a bare number). */
export function progressOf(row: Pick<TaskRow, 'progress' | 'status'>): { percent: number | null; stage: string | null } {
  if (row.status === 'Complete') return { percent: 100, stage: null };
  const p = row.progress;
  if (typeof p === 'number' && Number.isFinite(p)) return { percent: clamp(p), stage: null };
  if (p && typeof p === 'object') {
    const o = p as Record<string, unknown>;
    const percent = typeof o.percent === 'number' && Number.isFinite(o.percent) ? clamp(o.percent) : null;
    const stage = typeof o.stage === 'string' ? o.stage : null;
    return { percent, stage };
  }
  return { percent: null, stage: null };
}

function clamp(n: number): number {
  return Math.max(0, Math.min(100, Math.round(n)));
}

function segmentIndex(row: TaskRow): number | null {
  const v = row.params?.segment_index;
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

export function stepView(row: TaskRow, now = Date.now()): StepView {
  const { percent, stage } = progressOf(row);
  return {
    taskId: row.taskId,
    taskType: row.taskType,
    index: segmentIndex(row),
    status: row.status,
    percent,
    stage,
    workerId: row.workerId,
    attempts: row.attempts,
    durationMs: durationMs(row, now),
    outputLocation: row.outputLocation,
    errorMessage: row.errorMessage,
  };
}

const STEP_ORDER: Record<string, number> = { travel_segment: 1, different_pose_guide: 1, generate_openpose: 1, travel_stitch: 2, different_pose_finalize: 2 };

export function isVideoLocation(loc: string | null): loc is string {
  return typeof loc === 'string' && /\.(mp4|webm|mov|mkv)(\?.*)?$/i.test(loc);
}

/**
 * A run is its root row plus every row sharing its run id. The final video is the root's output
 * when it is a video, else the last finishing step's (stitch / finalize) video.
 */
export function buildRunView(root: TaskRow, rows: TaskRow[], now = Date.now()): RunView {
  const steps = rows
    .filter((r) => r.taskId !== root.taskId)
    .map((r) => stepView(r, now))
    .sort((a, b) => (STEP_ORDER[a.taskType] ?? 3) - (STEP_ORDER[b.taskType] ?? 3) || (a.index ?? 0) - (b.index ?? 0) || a.taskId.localeCompare(b.taskId));
  const finisher = [...steps].reverse().find((s) => s.status === 'Complete' && isVideoLocation(s.outputLocation));
  const finalVideo = isVideoLocation(root.outputLocation) ? root.outputLocation : root.status === 'Complete' ? (finisher?.outputLocation ?? null) : null;
  const percent =
    root.status === 'Complete'
      ? 100
      : steps.length === 0
        ? 0
        : Math.round(steps.reduce((acc, s) => acc + (s.status === 'Complete' ? 100 : (s.percent ?? 0)), 0) / steps.length);
  return {
    runId: root.runId ?? root.taskId,
    rootTaskId: root.taskId,
    kind: root.taskType,
    status: root.status,
    createdAt: root.createdAt,
    // A run's time is enqueue to finish: the root's own started_at is only its last activation.
    durationMs: durationMs({ startedAt: root.createdAt, finishedAt: root.finishedAt }, now),
    percent,
    finalVideo,
    errorMessage: root.errorMessage,
    steps,
  };
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}
