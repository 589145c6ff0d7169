import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { and, asc, desc, eq, gt, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { assertTableName } from '../core/config.ts';
import { NotFoundError, SmqError, StoreError, ValidationError } from '../core/errors.ts';
import type { NewTask, TaskRow, TaskStatus, TaskUpdate } from '../core/types.ts';
import type { CompletedSegment, StreamCursor, TaskFilter, TaskStore } from './task-store.ts';
import { sqliteTasksTable } from './schema.ts';
import { migrateSqlite } from './sqlite-migrate.ts';
import { checkLimit, emptyCounts, newTaskToColumns, rowFromDb, toSqliteTime, validateCursor, type RawTaskRow } from './row-mapping.ts';
import { assertStatus, planTransition, validateUpdate, type MutableState } from './status-rules.ts';

const NOW = `strftime('%Y-%m-%d %H:%M:%f','now')`;

/** SQL for the seed's task_type rule, safe on rows whose params are not valid JSON. */
const SEED_TASK_TYPE = `COALESCE(task_type,
  CASE WHEN json_valid(params) THEN CASE WHEN json_type(params, '$.task_type') = 'text' THEN json_extract(params, '$.task_type') END END,
  'standard_wgp_task')`;

function assertTaskIds(taskIds: unknown): asserts taskIds is string[] {
  if (!Array.isArray(taskIds) || taskIds.some((id) => typeof id !== 'string' || id === '')) {
    throw new ValidationError('taskIds', 'must be an array of non-empty task id strings');
  }
}

function sqliteNow(): string {
  return toSqliteTime(new Date().toISOString());
}

interface CurrentRow {
  status: string;
  output_location: string | null;
  error_message: string | null;
  progress: string | null;
  worker_id: string | null;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
}

/**
 * TaskStore on one SQLite file (better-sqlite3, synchronous under the async interface).
 *
 * WAL lets readers (dashboard, `smq status`) run beside the one writer; busy_timeout makes
 * concurrent processes wait for the write lock instead of failing. Every write that reads first
 * (claim, transition, batch) runs inside one IMMEDIATE transaction or is one statement, so two
 * processes never both take a row. Reads and listings go through drizzle; the hot paths
 * (applyBatch, claim) are raw prepared statements.
 */
export class SqliteStore implements TaskStore {
  readonly kind = 'sqlite' as const;
  readonly tableName: string;
  readonly filePath: string;
  private db: Database.Database | null = null;
  private orm: BetterSQLite3Database | null = null;
  private readonly table;
  private stmts: ReturnType<SqliteStore['prepare']> | null = null;
  private readonly getManyStatements = new Map<number, Database.Statement>();

  constructor(filePath: string, tableName = 'tasks') {
    this.tableName = assertTableName(tableName);
    this.filePath = path.resolve(filePath);
    this.table = sqliteTasksTable(this.tableName);
  }

  async init(): Promise<void> {
    if (this.db) return;
    this.guard(() => {
      mkdirSync(path.dirname(this.filePath), { recursive: true });
      const db = new Database(this.filePath);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 30000');
      db.pragma('synchronous = NORMAL');
      this.db = db;
      migrateSqlite(db, this.tableName);
      this.orm = drizzle(db);
      this.stmts = this.prepare(db);
    });
  }

  /** The applied migration version (after init). */
  migrationVersion(): number {
    const row = this.conn().prepare(`SELECT max(version) AS v FROM smq_migrations WHERE table_name = ?`).get(this.tableName) as { v: number | null };
    return row.v ?? 0;
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = null;
    this.getManyStatements.clear();
    this.orm = null;
    this.stmts = null;
  }

  private prepare(db: Database.Database) {
    const t = `"${this.tableName}"`;
    return {
      insert: db.prepare(
        `INSERT INTO ${t} (task_id, task_type, params, status, run_id, parent_task_id, queue_name, attempts, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0, ${NOW}, ${NOW}) ON CONFLICT(task_id) DO NOTHING`,
      ),
      current: db.prepare(
        `SELECT status, output_location, error_message, progress, worker_id, attempts, started_at, finished_at FROM ${t} WHERE task_id = ?`,
      ),
      write: db.prepare(
        `UPDATE ${t} SET status = ?, output_location = ?, error_message = ?, progress = ?, worker_id = ?, attempts = ?,
           started_at = ?, finished_at = ?, updated_at = ${NOW} WHERE task_id = ?`,
      ),
      // One statement: the write lock is taken before the sub-select reads, so it is atomic.
      claim: db.prepare(
        `UPDATE ${t} SET status = 'In Progress', worker_id = ?, task_type = ${SEED_TASK_TYPE},
           started_at = COALESCE(started_at, ${NOW}), updated_at = ${NOW}
         WHERE task_id = (SELECT task_id FROM ${t} WHERE status = 'Queued' ORDER BY created_at, rowid LIMIT 1)
           AND status = 'Queued'
         RETURNING *`,
      ),
      claimUndispatched: db.prepare(
        `UPDATE ${t} SET queue_name = ?, task_type = ${SEED_TASK_TYPE}, updated_at = ${NOW}
         WHERE task_id IN (SELECT task_id FROM ${t} WHERE status = 'Queued' AND queue_name IS NULL ORDER BY created_at, rowid LIMIT ?)
         RETURNING *, rowid AS smq_rowid`,
      ),
      requeue: db.prepare(
        `UPDATE ${t} SET status = 'Queued', attempts = attempts + 1, error_message = NULL, output_location = NULL,
           finished_at = NULL, started_at = NULL, worker_id = NULL, progress = NULL,
           queue_name = CASE WHEN ? THEN ? ELSE queue_name END, updated_at = ${NOW}
         WHERE task_id = ?`,
      ),
      setQueueName: db.prepare(`UPDATE ${t} SET queue_name = ?, updated_at = ${NOW} WHERE task_id = ?`),
      setCursor: db.prepare(
        `INSERT INTO smq_stream_cursors (name, last_id, updated_at) VALUES (?, ?, ${NOW})
         ON CONFLICT(name) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at`,
      ),
      getCursor: db.prepare(`SELECT last_id FROM smq_stream_cursors WHERE name = ?`),
      counts: db.prepare(`SELECT status, count(*) AS n FROM ${t} GROUP BY status`),
      segments: db.prepare(
        `SELECT seg, output_location FROM (
           SELECT CASE WHEN json_valid(params) THEN json_extract(params, '$.segment_index') END AS seg,
                  CASE WHEN json_valid(params) THEN json_extract(params, '$.orchestrator_run_id') END AS orun,
                  ${SEED_TASK_TYPE} AS ttype, run_id, status, output_location
           FROM ${t} WHERE status = 'Complete' AND output_location IS NOT NULL)
         WHERE (orun = ? OR run_id = ?) AND ttype = 'travel_segment' AND seg IS NOT NULL
         ORDER BY CAST(seg AS INTEGER)`,
      ),
    };
  }

  private conn(): Database.Database {
    if (!this.db) throw new StoreError('SQLite store is not open: call init() first', { retryable: false });
    return this.db;
  }

  private s() {
    this.conn();
    return this.stmts!;
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof SmqError) throw err;
      throw new StoreError(`SQLite ${this.filePath}: ${(err as Error).message}`, { cause: err });
    }
  }

  async insert(task: NewTask): Promise<boolean> {
    const c = newTaskToColumns(task);
    return this.guard(() => this.insertCols(c) === 1);
  }

  private insertCols(c: ReturnType<typeof newTaskToColumns>): number {
    return this.s().insert.run(c.task_id, c.task_type, JSON.stringify(c.params), c.status, c.run_id, c.parent_task_id, c.queue_name).changes;
  }

  async insertMany(tasks: NewTask[]): Promise<number> {
    if (!Array.isArray(tasks)) throw new ValidationError('tasks', 'must be an array of tasks');
    const cols = tasks.map(newTaskToColumns);
    return this.guard(() =>
      this.conn()
        .transaction(() => cols.reduce((n, c) => n + this.insertCols(c), 0))
        .immediate(),
    );
  }

  async get(taskId: string): Promise<TaskRow | null> {
    if (typeof taskId !== 'string') throw new ValidationError('taskId', 'must be a string');
    return this.guard(() => {
      const raw = this.orm!.select().from(this.table).where(eq(this.table.task_id, taskId)).get();
      return raw ? rowFromDb(raw as RawTaskRow) : null;
    });
  }

  async getMany(taskIds: string[]): Promise<TaskRow[]> {
    if (!Array.isArray(taskIds)) throw new ValidationError('taskIds', 'must be an array of task ids');
    if (taskIds.length === 0) return [];
    return this.guard(() => {
      const out: TaskRow[] = [];
      // SQLite caps bound parameters; chunk well below the limit.
      for (let i = 0; i < taskIds.length; i += 500) {
        const chunk = taskIds.slice(i, i + 500);
        for (const r of this.getManyStatement(chunk.length).all(...chunk)) out.push(rowFromDb(r as RawTaskRow));
      }
      return out;
    });
  }

  /**
   * A prepared `IN (?, …)` select per id count, kept for the connection's life. Orchestrators
   * read their run's rows on every plan; building and preparing the query each time through the
   * ORM cost ten times the query itself.
   */
  private getManyStatement(n: number): Database.Statement {
    let st = this.getManyStatements.get(n);
    if (!st) {
      st = this.conn().prepare(`SELECT * FROM "${this.tableName}" WHERE task_id IN (${Array.from({ length: n }, () => '?').join(', ')})`);
      this.getManyStatements.set(n, st);
    }
    return st;
  }

  async list(filter: TaskFilter): Promise<TaskRow[]> {
    const t = this.table;
    const limit = checkLimit(filter.limit ?? 100);
    const offset = filter.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0) throw new ValidationError('offset', `must be a non-negative integer, got ${JSON.stringify(offset)}`);
    const where: SQL[] = [];
    if (filter.taskId !== undefined) where.push(eq(t.task_id, filter.taskId));
    if (filter.runId !== undefined) where.push(eq(t.run_id, filter.runId));
    if (filter.status !== undefined) where.push(eq(t.status, assertStatus(filter.status)));
    if (filter.taskType !== undefined) where.push(sql`${sql.raw(SEED_TASK_TYPE)} = ${filter.taskType}`);
    if (filter.rootsOnly) where.push(isNull(t.parent_task_id));
    return this.guard(() =>
      this.orm!.select()
        .from(t)
        .where(where.length ? and(...where) : undefined)
        .orderBy(desc(t.created_at), desc(sql`rowid`))
        .limit(limit)
        .offset(offset)
        .all()
        .map((r) => rowFromDb(r as RawTaskRow)),
    );
  }

  async listByRun(runId: string): Promise<TaskRow[]> {
    if (typeof runId !== 'string' || runId === '') throw new ValidationError('runId', 'must be a non-empty string');
    const t = this.table;
    return this.guard(() =>
      this.orm!.select()
        .from(t)
        .where(eq(t.run_id, runId))
        .orderBy(asc(t.created_at), asc(sql`rowid`))
        .all()
        .map((r) => rowFromDb(r as RawTaskRow)),
    );
  }

  async claim(workerId: string): Promise<TaskRow | null> {
    if (typeof workerId !== 'string' || workerId === '') throw new ValidationError('workerId', 'must be a non-empty string (e.g. "worker_123")');
    return this.guard(() => {
      const raw = this.s().claim.get(workerId) as RawTaskRow | undefined;
      return raw ? rowFromDb(raw) : null;
    });
  }

  /** Runs the pure rules against the current row; the caller holds the write transaction. */
  private applyOne(update: TaskUpdate, now: string): boolean {
    const st = this.s();
    const cur = st.current.get(update.taskId) as CurrentRow | undefined;
    if (!cur) return false;
    const state: MutableState = {
      status: cur.status as TaskStatus,
      outputLocation: cur.output_location,
      errorMessage: cur.error_message,
      progressJson: cur.progress,
      workerId: cur.worker_id,
      attempts: cur.attempts,
      startedAt: cur.started_at,
      finishedAt: cur.finished_at,
    };
    const next = planTransition(state, update, now, toSqliteTime);
    if (!next) return false;
    st.write.run(next.status, next.outputLocation, next.errorMessage, next.progressJson, next.workerId, next.attempts, next.startedAt, next.finishedAt, update.taskId);
    return true;
  }

  async transition(update: TaskUpdate): Promise<boolean> {
    validateUpdate(update);
    return this.guard(() => this.conn().transaction(() => this.applyOne(update, sqliteNow())).immediate());
  }

  async applyBatch(updates: TaskUpdate[], cursor?: StreamCursor): Promise<number> {
    if (!Array.isArray(updates)) throw new ValidationError('updates', 'must be an array of task updates');
    updates.forEach(validateUpdate);
    if (cursor !== undefined) validateCursor(cursor);
    return this.guard(() =>
      this.conn()
        .transaction(() => {
          const now = sqliteNow();
          let changed = 0;
          for (const u of updates) if (this.applyOne(u, now)) changed++;
          if (cursor) this.s().setCursor.run(cursor.name, cursor.lastId);
          return changed;
        })
        .immediate(),
    );
  }

  async getCursor(name: string): Promise<string | null> {
    if (typeof name !== 'string' || name === '') throw new ValidationError('name', 'cursor name must be a non-empty string');
    return this.guard(() => (this.s().getCursor.get(name) as { last_id: string | null } | undefined)?.last_id ?? null);
  }

  async requeue(taskId: string, queueName?: string | null): Promise<boolean> {
    if (typeof taskId !== 'string' || taskId === '') throw new ValidationError('taskId', 'must be a non-empty string');
    const setQueue = queueName !== undefined;
    return this.guard(() => this.s().requeue.run(setQueue ? 1 : 0, setQueue ? queueName : null, taskId).changes === 1);
  }

  async completedTravelSegments(runId: string): Promise<CompletedSegment[]> {
    if (typeof runId !== 'string' || runId === '') throw new ValidationError('runId', 'must be a non-empty string');
    return this.guard(() =>
      (this.s().segments.all(runId, runId) as { seg: unknown; output_location: string }[]).map((r) => ({
        segmentIndex: Number(r.seg),
        outputLocation: r.output_location,
      })),
    );
  }

  async countsByStatus(): Promise<Record<TaskStatus, number>> {
    return this.guard(() => {
      const counts = emptyCounts();
      for (const r of this.s().counts.all() as { status: string; n: number }[]) {
        if (r.status in counts) counts[r.status as TaskStatus] = r.n;
      }
      return counts;
    });
  }

  async claimUndispatched(limit: number, claimMark: string): Promise<TaskRow[]> {
    checkLimit(limit, 'limit', 10000);
    if (typeof claimMark !== 'string' || claimMark === '') throw new ValidationError('claimMark', 'must be a non-empty string');
    return this.guard(() => {
      const rows = this.conn()
        .transaction(() => this.s().claimUndispatched.all(claimMark, limit) as (RawTaskRow & { smq_rowid: number })[])
        .immediate();
      // RETURNING gives no order guarantee; restore FIFO.
      rows.sort((a, b) => (String(a.created_at) < String(b.created_at) ? -1 : String(a.created_at) > String(b.created_at) ? 1 : a.smq_rowid - b.smq_rowid));
      return rows.map(rowFromDb);
    });
  }

  async setQueueName(taskId: string, queueName: string | null): Promise<void> {
    if (typeof taskId !== 'string' || taskId === '') throw new ValidationError('taskId', 'must be a non-empty string');
    const changes = this.guard(() => this.s().setQueueName.run(queueName, taskId).changes);
    if (changes === 0) throw new NotFoundError(`task ${taskId} does not exist in ${this.tableName}`);
  }

  async setQueueNames(taskIds: string[], queueName: string | null): Promise<number> {
    assertTaskIds(taskIds);
    if (taskIds.length === 0) return 0;
    const db = this.conn();
    return this.guard(() =>
      db
        .transaction(() => {
          let n = 0;
          // SQLite caps bound parameters; chunks of 500 stay far below every build's limit.
          for (let i = 0; i < taskIds.length; i += 500) {
            const chunk = taskIds.slice(i, i + 500);
            const stmt = db.prepare(`UPDATE "${this.tableName}" SET queue_name = ?, updated_at = ${NOW} WHERE task_id IN (${chunk.map(() => '?').join(',')})`);
            n += stmt.run(queueName, ...chunk).changes;
          }
          return n;
        })
        .immediate(),
    );
  }

  async listOpen(limit: number, afterTaskId?: string): Promise<TaskRow[]> {
    checkLimit(limit, 'limit', 10000);
    const t = this.table;
    const where: SQL[] = [sql`${t.status} IN ('Queued', 'In Progress')`, isNotNull(t.queue_name)];
    if (afterTaskId !== undefined) where.push(gt(t.task_id, afterTaskId));
    return this.guard(() =>
      this.orm!.select()
        .from(t)
        .where(and(...where))
        .orderBy(asc(t.task_id))
        .limit(limit)
        .all()
        .map((r) => rowFromDb(r as RawTaskRow)),
    );
  }
}
