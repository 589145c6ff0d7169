import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/db/sqlite-store.ts';
import { runTaskStoreContract } from './contract.ts';

runTaskStoreContract('SQLite file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-sqlite-contract-'));
  const file = path.join(dir, 'tasks.db');
  return {
    async open(tableName) {
      const s = new SqliteStore(file, tableName);
      await s.init();
      return s;
    },
    async insertBadParams(tableName, taskId) {
      const db = new Database(file);
      db.pragma('busy_timeout = 5000');
      db.prepare(`INSERT INTO "${tableName}" (task_id, params, status) VALUES (?, ?, 'Queued')`).run(taskId, '{not json');
      db.close();
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
});
