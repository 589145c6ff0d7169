import { ValidationError } from '../core/errors.ts';
import { LEGACY_DEFAULT_TASK_TYPE, TASK_STATUSES, type NewTask, type TaskRow, type TaskStatus } from '../core/types.ts';
import type { TaskUpdate } from '../core/types.ts';
import type { StreamCursor } from './task-store.ts';
import { assertStatus } from './status-rules.ts';

/**
 * The one place where snake_case columns become camelCase fields (and back). Every store's raw
 * row — better-sqlite3 object, `postgres` driver row, or PostgREST JSON — passes through here, so a
 * TaskRow looks the same whichever database it came from (timestamps as ISO-8601 UTC strings).
 */
export interface RawTaskRow {
  task_id: string;
  task_type?: string | null;
  params: unknown;
  status: string;
  worker_id?: string | null;
  output_location?: string | null;
  created_at?: unknown;
  updated_at?: unknown;
  attempts?: number | string | null;
  error_message?: string | null;
  progress?: unknown;
  run_id?: string | null;
  parent_task_id?: string | null;
  queue_name?: string | null;
  started_at?: unknown;
  finished_at?: unknown;
}

/** `params` arrives as text (SQLite) or as parsed JSON (PostgreSQL jsonb); a bad value never throws. */
export function parseParams(raw: unknown): { params: Record<string, unknown> | null; paramsError: string | null } {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      return { params: null, paramsError: `params is not valid JSON: ${(err as Error).message}` };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { params: null, paramsError: `params is not a JSON object (got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})` };
  }
  return { params: value as Record<string, unknown>, paramsError: null };
}

/** The seed migration's rule: the column, else params.task_type, else standard_wgp_task. */
export function effectiveTaskType(column: string | null | undefined, params: Record<string, unknown> | null): string {
  if (typeof column === 'string' && column !== '') return column;
  const fromParams = params?.task_type;
  if (typeof fromParams === 'string' && fromParams !== '') return fromParams;
  return LEGACY_DEFAULT_TASK_TYPE;
}

/**
 * Timestamps: SQLite keeps UTC text `YYYY-MM-DD HH:MM:SS[.SSS]`, PostgreSQL gives Date objects
 * (postgres driver) or ISO text with an offset (PostgREST). All become `toISOString()` form.
 */
export function toIsoTime(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') {
    const sqliteForm = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value);
    const d = new Date(sqliteForm ? `${value.replace(' ', 'T')}Z` : value);
    return Number.isNaN(d.getTime()) ? value : d.toISOString();
  }
  return String(value);
}

/** ISO-8601 → SQLite's `YYYY-MM-DD HH:MM:SS.SSS` (UTC), so stored times sort as text. */
export function toSqliteTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new ValidationError('timestamp', `${JSON.stringify(iso)} is not a timestamp: use an ISO-8601 string`);
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

function parseProgress(raw: unknown): unknown | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export function rowFromDb(raw: RawTaskRow): TaskRow {
  const { params, paramsError } = parseParams(raw.params);
  const status = (TASK_STATUSES as readonly string[]).includes(raw.status) ? (raw.status as TaskStatus) : raw.status;
  return {
    taskId: raw.task_id,
    taskType: effectiveTaskType(raw.task_type, params),
    params,
    paramsError,
    // A status some other tool wrote is surfaced as-is rather than hidden; writes still refuse it.
    status: status as TaskStatus,
    workerId: raw.worker_id ?? null,
    outputLocation: raw.output_location ?? null,
    createdAt: toIsoTime(raw.created_at) ?? '',
    updatedAt: toIsoTime(raw.updated_at) ?? '',
    attempts: raw.attempts === null || raw.attempts === undefined ? 0 : Number(raw.attempts),
    errorMessage: raw.error_message ?? null,
    progress: parseProgress(raw.progress),
    runId: raw.run_id ?? null,
    parentTaskId: raw.parent_task_id ?? null,
    queueName: raw.queue_name ?? null,
    startedAt: toIsoTime(raw.started_at),
    finishedAt: toIsoTime(raw.finished_at),
  };
}

/** Validated insert payload in column names; params stays an object (each store serialises it). */
export interface NewTaskColumns {
  task_id: string;
  task_type: string;
  params: Record<string, unknown>;
  status: TaskStatus;
  run_id: string | null;
  parent_task_id: string | null;
  queue_name: string | null;
}

export function newTaskToColumns(task: NewTask): NewTaskColumns {
  if (task === null || typeof task !== 'object') throw new ValidationError('task', 'must be an object with taskId, taskType and params');
  if (typeof task.taskId !== 'string' || task.taskId === '') throw new ValidationError('taskId', 'must be a non-empty string');
  if (typeof task.taskType !== 'string' || task.taskType === '') {
    throw new ValidationError('taskType', `task ${task.taskId} needs a non-empty taskType (e.g. "travel_segment")`);
  }
  if (task.params === null || typeof task.params !== 'object' || Array.isArray(task.params)) {
    throw new ValidationError('params', `task ${task.taskId}: params must be a JSON object`);
  }
  for (const key of ['runId', 'parentTaskId', 'queueName'] as const) {
    const v = task[key];
    if (v !== undefined && v !== null && typeof v !== 'string') throw new ValidationError(key, `must be a string or null, got ${typeof v}`);
  }
  return {
    task_id: task.taskId,
    task_type: task.taskType,
    params: task.params,
    status: task.status === undefined ? 'Queued' : assertStatus(task.status),
    run_id: task.runId ?? null,
    parent_task_id: task.parentTaskId ?? null,
    queue_name: task.queueName ?? null,
  };
}

/** A TaskUpdate as the JSON object the PostgreSQL functions take (only the keys that were given). */
export function updateToJson(update: TaskUpdate): Record<string, unknown> {
  const out: Record<string, unknown> = { task_id: update.taskId };
  if (update.status !== undefined) out.status = update.status;
  if (update.outputLocation !== undefined) out.output_location = update.outputLocation;
  if (update.errorMessage !== undefined) out.error_message = update.errorMessage;
  if (update.progress !== undefined) out.progress = update.progress;
  if (update.workerId !== undefined) out.worker_id = update.workerId;
  if (update.attempts !== undefined) out.attempts = update.attempts;
  if (update.startedAt !== undefined) out.started_at = update.startedAt;
  if (update.finishedAt !== undefined) out.finished_at = update.finishedAt;
  return out;
}

export function emptyCounts(): Record<TaskStatus, number> {
  return Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
}

/** Shared filter checks so every store refuses the same bad input the same way. */
export function checkLimit(limit: unknown, field = 'limit', max = 1000): number {
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > max) {
    throw new ValidationError(field, `must be an integer from 1 to ${max}, got ${JSON.stringify(limit)}`);
  }
  return limit as number;
}

export function validateCursor(cursor: StreamCursor): void {
  if (cursor === null || typeof cursor !== 'object') throw new ValidationError('cursor', 'must be an object { name, lastId }');
  if (typeof cursor.name !== 'string' || cursor.name === '') throw new ValidationError('cursor.name', 'must be a non-empty string');
  if (typeof cursor.lastId !== 'string' || cursor.lastId === '') {
    throw new ValidationError('cursor.lastId', 'must be a non-empty stream id such as "1700000000000-0"');
  }
}
