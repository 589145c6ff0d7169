import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/db/sqlite-store.ts';

/**
 * A tasks.db written by the seed's own tools (shared/spec/01 §4.1–4.4) must open, migrate the
 * seed's way and keep every row — and stay usable by the seed's Python client afterwards.
 */
const dirs: string[] = [];
async function tempFile(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-seed-'));
  dirs.push(dir);
  return path.join(dir, 'tasks.db');
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** What `common_utils.add_task_to_db` does: the whole payload (task_id included) as params. */
function seedClientInsert(db: Database.Database, payload: Record<string, unknown>): void {
  db.prepare(`INSERT INTO tasks (task_id, params, status) VALUES (?, ?, 'Queued')`).run(payload.task_id, JSON.stringify(payload));
}

function seedClientFile(file: string): Database.Database {
  const db = new Database(file);
  db.exec(`CREATE TABLE IF NOT EXISTS tasks (task_id TEXT PRIMARY KEY, params TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'Queued',
    output_location TEXT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`);
  db.exec(`CREATE INDEX IF NOT EXISTS idx_status_created_at ON tasks (status, created_at)`);
  return db;
}

describe('seed-style SQLite files', () => {
  it('migrates a file created by the seed client and keeps every row', async () => {
    const file = await tempFile();
    const raw = seedClientFile(file);
    seedClientInsert(raw, { task_id: 'sm_travel_orchestrator_1', task_type: 'travel_orchestrator', orchestrator_details: { run_id: 'r1' } });
    seedClientInsert(raw, { task_id: 'openpose_1', task_type: 'generate_openpose', input_image_path: '/a.png' });
    seedClientInsert(raw, { task_id: 'plain_1', prompt: 'a cat', resolution: '320x240' });
    raw.prepare(`INSERT INTO tasks (task_id, params, status) VALUES ('broken_1', '{oops', 'Queued')`).run();
    raw.prepare(`UPDATE tasks SET status = 'Complete', output_location = '/out/x.mp4' WHERE task_id = 'plain_1'`).run();
    raw.close();

    const store = new SqliteStore(file);
    await store.init();
    assert.equal(store.migrationVersion(), 1);
    const rows = await store.getMany(['sm_travel_orchestrator_1', 'openpose_1', 'plain_1', 'broken_1']);
    const byId = Object.fromEntries(rows.map((r) => [r.taskId, r]));
    assert.equal(rows.length, 4);
    assert.equal(byId.sm_travel_orchestrator_1.taskType, 'travel_orchestrator');
    assert.equal(byId.openpose_1.taskType, 'generate_openpose');
    assert.equal(byId.plain_1.taskType, 'standard_wgp_task');
    assert.equal(byId.plain_1.status, 'Complete');
    assert.equal(byId.plain_1.outputLocation, '/out/x.mp4');
    assert.deepEqual(byId.openpose_1.params, { task_id: 'openpose_1', task_type: 'generate_openpose', input_image_path: '/a.png' });
    assert.equal(byId.broken_1.params, null);
    assert.match(byId.broken_1.paramsError ?? '', /not valid JSON/);
    assert.match(byId.plain_1.createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    await store.close();

    // The column itself was filled the seed's way, not just the read path.
    const check = new Database(file, { readonly: true });
    const types = check.prepare(`SELECT task_id, task_type FROM tasks ORDER BY task_id`).all();
    assert.deepEqual(types, [
      { task_id: 'broken_1', task_type: 'standard_wgp_task' },
      { task_id: 'openpose_1', task_type: 'generate_openpose' },
      { task_id: 'plain_1', task_type: 'standard_wgp_task' },
      { task_id: 'sm_travel_orchestrator_1', task_type: 'travel_orchestrator' },
    ]);
    const cols = (check.prepare(`PRAGMA table_info(tasks)`).all() as { name: string }[]).map((c) => c.name);
    for (const c of ['attempts', 'error_message', 'progress', 'run_id', 'parent_task_id', 'queue_name', 'started_at', 'finished_at', 'worker_id']) {
      assert.ok(cols.includes(c), `column ${c} added`);
    }
    check.close();
  });

  it('keeps accepting the seed client inserts after migration and fills task_type on every read path', async () => {
    const file = await tempFile();
    seedClientFile(file).close();
    const store = new SqliteStore(file);
    await store.init();
    const raw = new Database(file);
    raw.pragma('busy_timeout = 5000');
    seedClientInsert(raw, { task_id: 'late_pose', task_type: 'generate_openpose' });
    seedClientInsert(raw, { task_id: 'late_plain', prompt: 'x' });
    // The seed's client polls exactly like this.
    assert.deepEqual(raw.prepare(`SELECT status, output_location FROM tasks WHERE task_id = ?`).get('late_pose'), { status: 'Queued', output_location: null });

    assert.equal((await store.get('late_pose'))?.taskType, 'generate_openpose');
    assert.equal((await store.list({ taskType: 'generate_openpose' }))[0]?.taskId, 'late_pose');
    const taken = await store.claimUndispatched(10, 'ingest');
    assert.deepEqual(taken.map((r) => [r.taskId, r.taskType]), [['late_pose', 'generate_openpose'], ['late_plain', 'standard_wgp_task']]);
    assert.deepEqual(raw.prepare(`SELECT task_type FROM tasks WHERE task_id = 'late_pose'`).get(), { task_type: 'generate_openpose' });
    raw.close();
    await store.close();
  });

  it('relaxes the seed worker table (task_type NOT NULL) so the seed client can still insert', async () => {
    const file = await tempFile();
    const raw = new Database(file);
    raw.exec(`CREATE TABLE tasks (task_id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'Queued', params TEXT NOT NULL, task_type TEXT NOT NULL,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, output_location TEXT)`);
    raw.exec(`CREATE INDEX idx_status_created ON tasks (status, created_at)`);
    raw.prepare(`INSERT INTO tasks (task_id, params, task_type) VALUES ('w1', '{"a":1}', 'travel_segment')`).run();
    assert.throws(() => seedClientInsert(raw, { task_id: 'before' }), /NOT NULL/);
    raw.close();

    const store = new SqliteStore(file);
    await store.init();
    const after1 = new Database(file);
    seedClientInsert(after1, { task_id: 'after', task_type: 'generate_openpose' });
    after1.close();
    assert.equal((await store.get('w1'))?.taskType, 'travel_segment');
    assert.deepEqual((await store.get('w1'))?.params, { a: 1 });
    assert.equal((await store.get('after'))?.taskType, 'generate_openpose');
    assert.equal((await store.claim('worker_1'))?.taskId, 'w1');
    await store.close();
  });

  it('re-opening applies nothing twice', async () => {
    const file = await tempFile();
    for (let i = 0; i < 3; i++) {
      const s = new SqliteStore(file);
      await s.init();
      await s.insert({ taskId: `r${i}`, taskType: 'noop', params: {} });
      await s.close();
    }
    const db = new Database(file, { readonly: true });
    assert.deepEqual(db.prepare(`SELECT version, table_name FROM smq_migrations`).all(), [{ version: 1, table_name: 'tasks' }]);
    assert.equal((db.prepare(`SELECT count(*) AS n FROM tasks`).get() as { n: number }).n, 3);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });
});
