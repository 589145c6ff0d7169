import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { Worker, type Processor } from 'bullmq';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { pino, type Logger } from 'pino';
import type { SmqConfig } from '../../src/core/config.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function newPrefix(): string {
  return `{smqt-${randomBytes(5).toString('hex')}}`;
}

export function quietLogger(): Logger {
  return pino({ level: process.env.SMQ_TEST_LOG ?? 'silent' });
}

/** Every key under the prefix, deleted: the FLUSHALL of one test's slice of the shared Redis. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) n += await redis.del(...keys);
  } while (cursor !== '0');
  return n;
}

export async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, opts: { timeoutMs: number; intervalMs?: number; what: string }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

export function namedWorker(prefix: string, queue: string, name: string, processor: Processor, concurrency = 1): Worker {
  const u = new URL(REDIS_URL);
  // Connection options, not a client: BullMQ then owns (and closes) the connections it makes.
  const connection = { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
  const w = new Worker(queue, processor, { connection, prefix, name, concurrency });
  w.on('error', () => {}); // "Missing key" after a flush is expected in some tests
  return w;
}

/**
 * The seed's client, talking to the table directly and nothing else: `add_task_to_db` inserts only
 * (task_id, params, status) with the whole payload as params; `poll_task_status` selects
 * (status, output_location). For SQLite the insert is run by Python's sqlite3, as the seed does.
 */
export interface SeedClient {
  addTask(payload: Record<string, unknown> & { task_id: string }): Promise<void>;
  /** Many add_task_to_db calls (one INSERT and commit each) from one client process. */
  addTasks(payloads: (Record<string, unknown> & { task_id: string })[]): Promise<void>;
  /** Inserts a row whose params text is not JSON (only possible on SQLite, whose params is TEXT). */
  addRaw?(taskId: string, paramsText: string): Promise<void>;
  poll(taskId: string): Promise<{ status: string; output_location: string | null } | null>;
  close(): Promise<void>;
}

export function seedClient(config: SmqConfig): SeedClient {
  if (config.dbType === 'sqlite') {
    const file = config.sqlitePath;
    const reader = new Database(file, { readonly: true, fileMustExist: true });
    const select = reader.prepare(`SELECT status, output_location FROM ${config.tableName} WHERE task_id = ?`);
    // argv: db file, then (task_id, params text) pairs; one connection, INSERT and commit per task.
    const pyInsert = (pairs: [string, string][]) =>
      execFileSync('python3', [
        '-c',
        `import sqlite3, sys
args = sys.argv[2:]
for i in range(0, len(args), 2):
    conn = sqlite3.connect(sys.argv[1])
    cur = conn.cursor()
    cur.execute("INSERT INTO ${config.tableName} (task_id, params, status) VALUES (?, ?, ?)", (args[i], args[i + 1], "Queued"))
    conn.commit()
    conn.close()`,
        file,
        ...pairs.flat(),
      ]);
    return {
      addTask: async (payload) => void pyInsert([[payload.task_id, JSON.stringify(payload)]]),
      addTasks: async (payloads) => void pyInsert(payloads.map((p) => [p.task_id, JSON.stringify(p)])),
      addRaw: async (taskId, text) => void pyInsert([[taskId, text]]),
      poll: async (taskId) => (select.get(taskId) as { status: string; output_location: string | null } | undefined) ?? null,
      close: async () => void reader.close(),
    };
  }
  const sql = postgres(config.databaseUrl!, { max: 2, onnotice: () => {} });
  const t = config.tableName;
  // The seed's PostgreSQL table (func_initialize_tasks_table) has task_type NOT NULL, so a seed-era
  // SQL client there writes it, as add_task_to_db does from e88631f on; the rest is the same insert.
  const add = async (payload: { task_id: string; task_type?: unknown }) => {
    const taskType = typeof payload.task_type === 'string' ? payload.task_type : 'standard_wgp_task';
    await sql.unsafe(`INSERT INTO ${t} (task_id, params, task_type, status) VALUES ($1, $2::jsonb, $3, 'Queued')`, [payload.task_id, JSON.stringify(payload), taskType]);
  };
  return {
    addTask: add,
    addTasks: async (payloads) => {
      for (const p of payloads) await add(p);
    },
    poll: async (taskId) => {
      const rows = await sql.unsafe(`SELECT status, output_location FROM ${t} WHERE task_id = $1`, [taskId]);
      return (rows[0] as unknown as { status: string; output_location: string | null } | undefined) ?? null;
    },
    close: async () => sql.end({ timeout: 1 }),
  };
}

export interface TransitionLog {
  transitions(): Promise<{ task_id: string; old_status: string; new_status: string }[]>;
  cursorMoves(name: string): Promise<{ old_id: string | null; new_id: string }[]>;
  close(): Promise<void>;
}

/**
 * Database triggers that record every status change and every cursor move, in the same transaction
 * as the change itself — so the record is exactly what was committed, even across a SIGKILL.
 */
export async function installTransitionLog(config: SmqConfig): Promise<TransitionLog> {
  const t = config.tableName;
  if (config.dbType === 'sqlite') {
    const db = new Database(config.sqlitePath);
    db.pragma('busy_timeout = 30000');
    db.exec(`
      CREATE TABLE test_transitions (seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT, old_status TEXT, new_status TEXT);
      CREATE TABLE test_cursor_moves (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, old_id TEXT, new_id TEXT);
      CREATE TRIGGER test_tr_status AFTER UPDATE OF status ON ${t} WHEN OLD.status IS NOT NEW.status
        BEGIN INSERT INTO test_transitions (task_id, old_status, new_status) VALUES (NEW.task_id, OLD.status, NEW.status); END;
      CREATE TRIGGER test_tr_cursor_ins AFTER INSERT ON smq_stream_cursors
        BEGIN INSERT INTO test_cursor_moves (name, old_id, new_id) VALUES (NEW.name, NULL, NEW.last_id); END;
      CREATE TRIGGER test_tr_cursor_upd AFTER UPDATE OF last_id ON smq_stream_cursors
        BEGIN INSERT INTO test_cursor_moves (name, old_id, new_id) VALUES (NEW.name, OLD.last_id, NEW.last_id); END;
    `);
    return {
      transitions: async () => db.prepare(`SELECT task_id, old_status, new_status FROM test_transitions ORDER BY seq`).all() as never,
      cursorMoves: async (name) => db.prepare(`SELECT old_id, new_id FROM test_cursor_moves WHERE name = ? ORDER BY seq`).all(name) as never,
      close: async () => void db.close(),
    };
  }
  const sql = postgres(config.databaseUrl!, { max: 1, onnotice: () => {} });
  await sql.unsafe(`
    CREATE TABLE test_transitions (seq BIGSERIAL PRIMARY KEY, task_id TEXT, old_status TEXT, new_status TEXT);
    CREATE TABLE test_cursor_moves (seq BIGSERIAL PRIMARY KEY, name TEXT, old_id TEXT, new_id TEXT);
    CREATE FUNCTION test_fn_status() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      INSERT INTO test_transitions (task_id, old_status, new_status) VALUES (NEW.task_id, OLD.status, NEW.status); RETURN NEW; END $$;
    CREATE TRIGGER test_tr_status AFTER UPDATE OF status ON ${t} FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION test_fn_status();
    CREATE FUNCTION test_fn_cursor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF TG_OP = 'INSERT' THEN INSERT INTO test_cursor_moves (name, old_id, new_id) VALUES (NEW.name, NULL, NEW.last_id);
      ELSIF OLD.last_id IS DISTINCT FROM NEW.last_id THEN INSERT INTO test_cursor_moves (name, old_id, new_id) VALUES (NEW.name, OLD.last_id, NEW.last_id); END IF;
      RETURN NEW; END $$;
    CREATE TRIGGER test_tr_cursor AFTER INSERT OR UPDATE ON smq_stream_cursors FOR EACH ROW EXECUTE FUNCTION test_fn_cursor();
  `);
  return {
    transitions: async () => (await sql.unsafe(`SELECT task_id, old_status, new_status FROM test_transitions ORDER BY seq`)) as never,
    cursorMoves: async (name) => (await sql.unsafe(`SELECT old_id, new_id FROM test_cursor_moves WHERE name = $1 ORDER BY seq`, [name])) as never,
    close: async () => sql.end({ timeout: 1 }),
  };
}
