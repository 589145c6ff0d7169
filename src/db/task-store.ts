import type { NewTask, TaskRow, TaskStatus, TaskUpdate } from '../core/types.ts';

/** Filter for listing rows (dashboard search, `smq status`). All fields are ANDed. */
export interface TaskFilter {
  taskId?: string;
  runId?: string;
  status?: TaskStatus;
  taskType?: string;
  /** Only rows without a parent (run roots). */
  rootsOnly?: boolean;
  limit?: number; // default 100, max 1000
  offset?: number;
}

export interface CompletedSegment {
  segmentIndex: number;
  outputLocation: string;
}

/** Where the reconciler has got to in one queue's event stream; stored with the updates it covers. */
export interface StreamCursor {
  name: string;
  lastId: string;
}

/**
 * The one seam between smq and its canonical SQL table (SQLite, PostgreSQL direct, Supabase RPC).
 * One contract test suite runs unchanged against all three implementations.
 *
 * Every status change goes through the monotonic rules of status-rules.ts: idempotent (the
 * same update twice changes nothing) and never backwards; only `requeue` moves a row back
 * to `Queued`, and it counts the attempt.
 */
export interface TaskStore {
  readonly kind: 'sqlite' | 'postgres' | 'supabase';
  readonly tableName: string;

  /** Creates/migrates the table (versioned, idempotent); migrates seed-style rows without task_type. */
  init(): Promise<void>;
  close(): Promise<void>;

  /** Inserts a row; false (and nothing changed) if the task_id exists. */
  insert(task: NewTask): Promise<boolean>;
  /** Inserts many in one transaction, skipping existing ids; returns how many were new. */
  insertMany(tasks: NewTask[]): Promise<number>;

  get(taskId: string): Promise<TaskRow | null>;
  getMany(taskIds: string[]): Promise<TaskRow[]>;
  list(filter: TaskFilter): Promise<TaskRow[]>;
  listByRun(runId: string): Promise<TaskRow[]>;

  /** The seed's claim: oldest Queued row by created_at becomes In Progress with worker_id, atomically. */
  claim(workerId: string): Promise<TaskRow | null>;

  /** Applies one monotonic update; true if the row changed. Unknown task_id → false. */
  transition(update: TaskUpdate): Promise<boolean>;
  /**
   * Applies many updates and (optionally) advances a stream cursor, all in one transaction,
   * so a crash either keeps both or neither. Returns how many rows changed.
   */
  applyBatch(updates: TaskUpdate[], cursor?: StreamCursor): Promise<number>;
  getCursor(name: string): Promise<string | null>;

  /** Explicit re-queue (retry): status → Queued, attempts + 1, error/output/finished cleared. */
  requeue(taskId: string, queueName?: string | null): Promise<boolean>;

  /** Complete `travel_segment` rows of a run, ordered by segment_index (the seed RPC's semantics). */
  completedTravelSegments(runId: string): Promise<CompletedSegment[]>;
  countsByStatus(): Promise<Record<TaskStatus, number>>;

  /**
   * Ingest: atomically takes up to `limit` Queued rows that were never dispatched (queue_name
   * IS NULL), oldest first, and stamps queue_name = `claimMark`, so concurrent callers never
   * take the same row. Rows without task_type get it the seed's migration way first.
   */
  claimUndispatched(limit: number, claimMark: string): Promise<TaskRow[]>;
  /** Records the queue a row was dispatched to. */
  setQueueName(taskId: string, queueName: string | null): Promise<void>;
  /**
   * Records one queue for many rows in one statement (a bulk enqueue's addBulk). Ids that do not
   * exist are skipped, not an error; returns how many rows were updated.
   */
  setQueueNames(taskIds: string[], queueName: string | null): Promise<number>;
  /** Non-terminal rows (Queued / In Progress) that were dispatched, for the sweep; keyset-paged by task_id. */
  listOpen(limit: number, afterTaskId?: string): Promise<TaskRow[]>;
}
