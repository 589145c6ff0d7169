import type { TaskStatus } from '../core/types.ts';

/**
 * Progress arithmetic for `status` and `--wait` (pure). A task's percent comes from the row's
 * `progress` (written by the reconciler) or, fresher, the BullMQ job's progress; both carry
 * `{stage, percent}` (HandlerContext.progress) — a bare number is accepted too.
 */
export interface RunProgress {
  complete: number;
  failed: number;
  total: number;
  /** 0..100, the mean of the tasks' percents (Complete = 100). */
  percent: number;
}

export function percentOf(p: unknown): number | null {
  if (typeof p === 'number' && Number.isFinite(p)) return clamp(p);
  if (p && typeof p === 'object' && 'percent' in p) {
    const v = (p as { percent: unknown }).percent;
    if (typeof v === 'number' && Number.isFinite(v)) return clamp(v);
  }
  return null;
}

function clamp(v: number): number {
  return Math.min(100, Math.max(0, v));
}

export interface ProgressSource {
  status: TaskStatus;
  progress: unknown;
  jobProgress?: unknown;
}

export function taskPercent(t: ProgressSource): number {
  if (t.status === 'Complete') return 100;
  // BullMQ reports 0 for a job nobody has touched, so neither source may hide the other: take the larger.
  return Math.max(percentOf(t.jobProgress) ?? 0, percentOf(t.progress) ?? 0);
}

export function runProgress(tasks: readonly ProgressSource[]): RunProgress {
  const total = tasks.length;
  const complete = tasks.filter((t) => t.status === 'Complete').length;
  const failed = tasks.filter((t) => t.status === 'Failed').length;
  const percent = total === 0 ? 0 : Math.round((tasks.reduce((s, t) => s + taskPercent(t), 0) / total) * 10) / 10;
  return { complete, failed, total, percent };
}
