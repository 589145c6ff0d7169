import { ValidationError } from '../core/errors.ts';
import { TASK_STATUSES, type TaskStatus, type TaskUpdate } from '../core/types.ts';

/**
 * The monotonic status rules, as pure functions. The SQLite store runs them in TS; the PostgreSQL
 * function `smq_apply_update` (sql/pg/0002_smq.sql) is a line-for-line twin, and the contract suite
 * runs the same cases against both.
 *
 * Why these rules: the reconciler replays BullMQ events that may arrive late or twice (a stalled
 * job's `active` after its `completed`, a re-delivered batch after a crash). Ranking statuses and
 * refusing to move backwards makes replays harmless, and a row that reached a terminal state is the
 * record — only an explicit `requeue` reopens it.
 */

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['Complete', 'Failed', 'Cancelled'];

export function statusRank(status: TaskStatus): number {
  if (status === 'Queued') return 0;
  if (status === 'In Progress') return 1;
  return 2;
}

export function isTerminal(status: TaskStatus): boolean {
  return statusRank(status) === 2;
}

export function assertStatus(value: unknown, field = 'status'): TaskStatus {
  if (typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value)) return value as TaskStatus;
  throw new ValidationError(field, `unknown status ${JSON.stringify(value)}: use one of ${TASK_STATUSES.join(', ')}`);
}

/** The columns a transition may change. Progress is kept as its JSON text so equality is exact. */
export interface MutableState {
  status: TaskStatus;
  outputLocation: string | null;
  errorMessage: string | null;
  progressJson: string | null;
  workerId: string | null;
  attempts: number;
  /** Timestamps in whatever text form the store keeps; the rules only copy and compare them. */
  startedAt: string | null;
  finishedAt: string | null;
}

/** Checks an update's shape before any store touches the database; names the bad field. */
export function validateUpdate(update: TaskUpdate): void {
  if (update === null || typeof update !== 'object') throw new ValidationError('update', 'must be an object with at least taskId');
  if (typeof update.taskId !== 'string' || update.taskId === '') {
    throw new ValidationError('taskId', 'must be a non-empty string naming the task to update');
  }
  if (update.status !== undefined) assertStatus(update.status);
  if (update.attempts !== undefined && (!Number.isInteger(update.attempts) || update.attempts < 0)) {
    throw new ValidationError('attempts', `must be a non-negative integer, got ${JSON.stringify(update.attempts)}`);
  }
  for (const key of ['outputLocation', 'errorMessage', 'workerId', 'startedAt', 'finishedAt'] as const) {
    const v = update[key];
    if (v !== undefined && v !== null && typeof v !== 'string') {
      throw new ValidationError(key, `must be a string or null, got ${typeof v}`);
    }
  }
  for (const key of ['startedAt', 'finishedAt'] as const) {
    const v = update[key];
    if (typeof v === 'string' && Number.isNaN(Date.parse(v))) {
      throw new ValidationError(key, `${JSON.stringify(v)} is not a timestamp: use an ISO-8601 string`);
    }
  }
}

export function progressToJson(progress: unknown): string | null {
  if (progress === null || progress === undefined) return null;
  const text = JSON.stringify(progress);
  if (text === undefined) throw new ValidationError('progress', 'must be JSON-serialisable');
  return text;
}

/**
 * Plans one update against the current row. Returns the next state, or null when nothing would
 * change (stale, backwards, on a terminal row, or simply already applied). `now` is the store's
 * current timestamp text, used to stamp started_at / finished_at when the update does not.
 * `toStoreTime` converts an update's ISO timestamps into the store's text form.
 */
export function planTransition(
  current: MutableState,
  update: TaskUpdate,
  now: string,
  toStoreTime: (iso: string) => string = (s) => s,
): MutableState | null {
  if (isTerminal(current.status)) return null;
  const next: MutableState = { ...current };
  if (update.status !== undefined) {
    const target = assertStatus(update.status);
    const from = statusRank(current.status);
    const to = statusRank(target);
    // A backwards status is a stale event: drop the whole update, its fields are stale too.
    if (to < from) return null;
    if (to > from) {
      next.status = target;
      if (target === 'In Progress') next.startedAt = current.startedAt ?? now;
      if (to === 2) next.finishedAt = now;
    }
  }
  if (update.outputLocation !== undefined) next.outputLocation = update.outputLocation;
  if (update.errorMessage !== undefined) next.errorMessage = update.errorMessage;
  if (update.progress !== undefined) next.progressJson = progressToJson(update.progress);
  if (update.workerId !== undefined) next.workerId = update.workerId;
  if (update.startedAt !== undefined) next.startedAt = update.startedAt === null ? null : toStoreTime(update.startedAt);
  if (update.finishedAt !== undefined) next.finishedAt = update.finishedAt === null ? null : toStoreTime(update.finishedAt);
  if (update.attempts !== undefined) next.attempts = Math.max(current.attempts, update.attempts);
  return sameState(current, next) ? null : next;
}

function sameState(a: MutableState, b: MutableState): boolean {
  return (
    a.status === b.status &&
    a.outputLocation === b.outputLocation &&
    a.errorMessage === b.errorMessage &&
    a.progressJson === b.progressJson &&
    a.workerId === b.workerId &&
    a.attempts === b.attempts &&
    a.startedAt === b.startedAt &&
    a.finishedAt === b.finishedAt
  );
}
