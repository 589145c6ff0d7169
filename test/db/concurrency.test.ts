import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/db/sqlite-store.ts';
import { PostgresStore } from '../../src/db/postgres-store.ts';
import { createTestSchema } from '../support/pg.ts';

const ROWS = 2000;
const CLAIMERS = 8;
const CLAIMER = fileURLToPath(new URL('./fixtures/sqlite-claimer.ts', import.meta.url));

function runClaimer(file: string, workerId: string, mode = 'claim'): Promise<{ workerId: string; claimed: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLAIMER, file, workerId, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`claimer ${workerId} exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

function assertEachOnce(results: { workerId: string; claimed: string[] }[], ids: string[]): void {
  const all = results.flatMap((r) => r.claimed);
  assert.equal(new Set(all).size, all.length, 'no row claimed twice');
  assert.deepEqual([...all].sort(), [...ids].sort(), 'every row claimed');
}

const ids = Array.from({ length: ROWS }, (_, i) => `task_${String(i).padStart(5, '0')}`);

describe('concurrent claimers', () => {
  it(`SQLite: ${CLAIMERS} processes over ${ROWS} rows claim each row exactly once`, { timeout: 180_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-conc-'));
    try {
      const file = path.join(dir, 'tasks.db');
      const store = new SqliteStore(file);
      await store.init();
      assert.equal(await store.insertMany(ids.map((taskId) => ({ taskId, taskType: 'noop', params: {} }))), ROWS);
      await store.close();
      const results = await Promise.all(Array.from({ length: CLAIMERS }, (_, i) => runClaimer(file, `worker_${i}`)));
      assertEachOnce(results, ids);
      const db = new Database(file, { readonly: true });
      const rows = db.prepare(`SELECT task_id, worker_id, status FROM tasks`).all() as { task_id: string; worker_id: string; status: string }[];
      db.close();
      const owner = new Map(results.flatMap((r) => r.claimed.map((id) => [id, r.workerId] as const)));
      assert.ok(rows.every((r) => r.status === 'In Progress' && owner.get(r.task_id) === r.worker_id), 'the row records who claimed it');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('SQLite: processes migrating one fresh file at once collide harmlessly', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-conc-init-'));
    try {
      const file = path.join(dir, 'tasks.db');
      await Promise.all(Array.from({ length: 4 }, (_, i) => runClaimer(file, `init_${i}`, 'init-only')));
      const db = new Database(file, { readonly: true });
      assert.deepEqual(db.prepare(`SELECT version FROM smq_migrations`).all(), [{ version: 1 }]);
      db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it(`PostgreSQL: ${CLAIMERS} connections over ${ROWS} rows claim each row exactly once`, { timeout: 180_000 }, async () => {
    const schema = await createTestSchema();
    const stores: PostgresStore[] = [];
    try {
      // Concurrent init() of one schema: the advisory lock and ledger make it harmless.
      for (let i = 0; i < CLAIMERS; i++) stores.push(new PostgresStore({ databaseUrl: schema.url, tableName: 'tasks', max: 1 }));
      await Promise.all(stores.map((s) => s.init()));
      assert.equal(await stores[0].insertMany(ids.map((taskId) => ({ taskId, taskType: 'noop', params: {} }))), ROWS);
      const results = await Promise.all(
        stores.map(async (s, i) => {
          const claimed: string[] = [];
          for (;;) {
            const row = await s.claim(`worker_${i}`);
            if (!row) break;
            claimed.push(row.taskId);
          }
          return { workerId: `worker_${i}`, claimed };
        }),
      );
      assertEachOnce(results, ids);
      assert.deepEqual(await stores[0].countsByStatus(), { Queued: 0, 'In Progress': ROWS, Complete: 0, Failed: 0, Cancelled: 0 });
      assert.ok(results.filter((r) => r.claimed.length > 0).length > 1, 'work was actually spread over connections');
    } finally {
      for (const s of stores) await s.close();
      await schema.drop();
    }
  });
});
