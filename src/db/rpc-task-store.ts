import { assertTableName } from '../core/config.ts';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import type { NewTask, TaskRow, TaskStatus, TaskUpdate } from '../core/types.ts';
import type { CompletedSegment, StreamCursor, TaskFilter, TaskStore } from './task-store.ts';
import { checkLimit, emptyCounts, newTaskToColumns, rowFromDb, updateToJson, validateCursor, type RawTaskRow } from './row-mapping.ts';
import { assertStatus, validateUpdate } from './status-rules.ts';

export type RpcArgs = Record<string, string | number | boolean | null | object>;

/**
 * The TaskStore logic shared by the PostgreSQL and Supabase stores: both call the same sql/pg
 * functions with the same named arguments and differ only in transport (the `postgres` driver vs
 * PostgREST over HTTP). Inputs are checked here first so both refuse bad input identically; the
 * SQL functions check again for callers that bypass smq.
 */
export abstract class RpcTaskStore implements TaskStore {
  abstract readonly kind: 'postgres' | 'supabase';
  readonly tableName: string;

  constructor(tableName: string) {
    this.tableName = assertTableName(tableName);
  }

  abstract init(): Promise<void>;
  abstract close(): Promise<void>;
  /** Calls a set-returning function; rows as plain objects. */
  protected abstract rows(fn: string, args: RpcArgs): Promise<Record<string, unknown>[]>;
  /** Calls a scalar function; its value. */
  protected abstract scalar(fn: string, args: RpcArgs): Promise<unknown>;

  private tasks(fn: string, args: RpcArgs): Promise<TaskRow[]> {
    return this.rows(fn, { p_table_name: this.tableName, ...args }).then((rs) => rs.map((r) => rowFromDb(r as unknown as RawTaskRow)));
  }

  private call(fn: string, args: RpcArgs = {}): Promise<unknown> {
    return this.scalar(fn, { p_table_name: this.tableName, ...args });
  }

  async insert(task: NewTask): Promise<boolean> {
    return (await this.call('func_smq_insert', { p_task: newTaskToColumns(task) })) === true;
  }

  async insertMany(tasks: NewTask[]): Promise<number> {
    if (!Array.isArray(tasks)) throw new ValidationError('tasks', 'must be an array of tasks');
    if (tasks.length === 0) return 0;
    return Number(await this.call('func_smq_insert_many', { p_tasks: tasks.map(newTaskToColumns) }));
  }

  async get(taskId: string): Promise<TaskRow | null> {
    if (typeof taskId !== 'string') throw new ValidationError('taskId', 'must be a string');
    return (await this.tasks('func_smq_get', { p_task_id: taskId }))[0] ?? null;
  }

  async getMany(taskIds: string[]): Promise<TaskRow[]> {
    if (!Array.isArray(taskIds) || taskIds.some((id) => typeof id !== 'string')) throw new ValidationError('taskIds', 'must be an array of task id strings');
    if (taskIds.length === 0) return [];
    return this.tasks('func_smq_get_many', { p_task_ids: taskIds });
  }

  async list(filter: TaskFilter): Promise<TaskRow[]> {
    const f: Record<string, unknown> = { limit: checkLimit(filter.limit ?? 100) };
    if (filter.offset !== undefined) {
      if (!Number.isInteger(filter.offset) || filter.offset < 0) throw new ValidationError('offset', `must be a non-negative integer, got ${JSON.stringify(filter.offset)}`);
      f.offset = filter.offset;
    }
    if (filter.taskId !== undefined) f.task_id = filter.taskId;
    if (filter.runId !== undefined) f.run_id = filter.runId;
    if (filter.status !== undefined) f.status = assertStatus(filter.status);
    if (filter.taskType !== undefined) f.task_type = filter.taskType;
    if (filter.rootsOnly) f.roots_only = true;
    return this.tasks('func_smq_list', { p_filter: f });
  }

  async listByRun(runId: string): Promise<TaskRow[]> {
    if (typeof runId !== 'string' || runId === '') throw new ValidationError('runId', 'must be a non-empty string');
    return this.tasks('func_smq_list_by_run', { p_run_id: runId });
  }

  async claim(workerId: string): Promise<TaskRow | null> {
    if (typeof workerId !== 'string' || workerId === '') throw new ValidationError('workerId', 'must be a non-empty string (e.g. "worker_123")');
    return (await this.tasks('func_smq_claim', { p_worker_id: workerId }))[0] ?? null;
  }

  async transition(update: TaskUpdate): Promise<boolean> {
    validateUpdate(update);
    return (await this.call('func_smq_transition', { p_update: updateToJson(update) })) === true;
  }

  async applyBatch(updates: TaskUpdate[], cursor?: StreamCursor): Promise<number> {
    if (!Array.isArray(updates)) throw new ValidationError('updates', 'must be an array of task updates');
    updates.forEach(validateUpdate);
    if (cursor !== undefined) validateCursor(cursor);
    return Number(
      await this.call('func_smq_apply_batch', {
        p_updates: updates.map(updateToJson),
        p_cursor_name: cursor?.name ?? null,
        p_cursor_id: cursor?.lastId ?? null,
      }),
    );
  }

  async getCursor(name: string): Promise<string | null> {
    if (typeof name !== 'string' || name === '') throw new ValidationError('name', 'cursor name must be a non-empty string');
    const v = await this.scalar('func_smq_get_cursor', { p_name: name });
    return typeof v === 'string' ? v : null;
  }

  async requeue(taskId: string, queueName?: string | null): Promise<boolean> {
    if (typeof taskId !== 'string' || taskId === '') throw new ValidationError('taskId', 'must be a non-empty string');
    return (
      (await this.call('func_smq_requeue', { p_task_id: taskId, p_set_queue: queueName !== undefined, p_queue_name: queueName ?? null })) === true
    );
  }

  async completedTravelSegments(runId: string): Promise<CompletedSegment[]> {
    if (typeof runId !== 'string' || runId === '') throw new ValidationError('runId', 'must be a non-empty string');
    const rs = await this.rows('func_smq_completed_travel_segments', { p_table_name: this.tableName, p_run_id: runId });
    return rs.map((r) => ({ segmentIndex: Number(r.segment_index_out), outputLocation: String(r.output_location_out) }));
  }

  async countsByStatus(): Promise<Record<TaskStatus, number>> {
    const counts = emptyCounts();
    for (const r of await this.rows('func_smq_counts_by_status', { p_table_name: this.tableName })) {
      const status = String(r.status);
      if (status in counts) counts[status as TaskStatus] = Number(r.n);
    }
    return counts;
  }

  async claimUndispatched(limit: number, claimMark: string): Promise<TaskRow[]> {
    checkLimit(limit, 'limit', 10000);
    if (typeof claimMark !== 'string' || claimMark === '') throw new ValidationError('claimMark', 'must be a non-empty string');
    return this.tasks('func_smq_claim_undispatched', { p_limit: limit, p_claim_mark: claimMark });
  }

  async setQueueName(taskId: string, queueName: string | null): Promise<void> {
    if (typeof taskId !== 'string' || taskId === '') throw new ValidationError('taskId', 'must be a non-empty string');
    const found = await this.call('func_smq_set_queue_name', { p_task_id: taskId, p_queue_name: queueName });
    if (found !== true) throw new NotFoundError(`task ${taskId} does not exist in ${this.tableName}`);
  }

  async setQueueNames(taskIds: string[], queueName: string | null): Promise<number> {
    if (!Array.isArray(taskIds) || taskIds.some((id) => typeof id !== 'string' || id === '')) {
      throw new ValidationError('taskIds', 'must be an array of non-empty task id strings');
    }
    if (taskIds.length === 0) return 0;
    return Number(await this.call('func_smq_set_queue_names', { p_task_ids: taskIds, p_queue_name: queueName }));
  }

  async listOpen(limit: number, afterTaskId?: string): Promise<TaskRow[]> {
    checkLimit(limit, 'limit', 10000);
    return this.tasks('func_smq_list_open', { p_limit: limit, p_after_task_id: afterTaskId ?? null });
  }
}
