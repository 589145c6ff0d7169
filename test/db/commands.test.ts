import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../src/db/sqlite-store.ts';

const SMQ = fileURLToPath(new URL('../../bin/smq.js', import.meta.url));

function smq(args: string[], cwd: string, env: Record<string, string> = {}) {
  const base = { ...process.env };
  for (const k of ['DB_TYPE', 'SQLITE_DB_PATH_ENV', 'DATABASE_URL', 'SUPABASE_URL', 'SUPABASE_SERVICE_KEY', 'POSTGRES_TABLE_NAME']) delete base[k];
  return spawnSync(process.execPath, [SMQ, ...args], { cwd, env: { ...base, ...env }, encoding: 'utf8' });
}

describe('smq db commands', { timeout: 60_000 }, () => {
  it('migrates the --db-file and counts its rows', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-dbcmd-'));
    try {
      const file = path.join(dir, 'my.db');
      const m = smq(['db', 'migrate', '--db-file', file], dir);
      assert.equal(m.status, 0, m.stderr);
      assert.match(m.stdout, /table "tasks" at migration version 1/);
      const store = new SqliteStore(file);
      await store.init();
      await store.insertMany([{ taskId: 'a', taskType: 'noop', params: {} }, { taskId: 'b', taskType: 'noop', params: {}, status: 'Failed' }]);
      await store.close();
      const c = smq(['db', 'counts', '--db-file', file, '--json'], dir);
      assert.equal(c.status, 0, c.stderr);
      assert.deepEqual(JSON.parse(c.stdout), { Queued: 1, 'In Progress': 0, Complete: 0, Failed: 1, Cancelled: 0 });
      // SQLITE_DB_PATH_ENV names the file when the flag is absent.
      const viaEnv = smq(['db', 'counts'], dir, { SQLITE_DB_PATH_ENV: file });
      assert.match(viaEnv.stdout, /^Failed\s+1$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops with exit 2 naming the missing variable', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-dbcmd-'));
    try {
      const noUrl = smq(['db', 'migrate'], dir, { DB_TYPE: 'supabase', SUPABASE_SERVICE_KEY: 'k' });
      assert.equal(noUrl.status, 2);
      assert.match(noUrl.stderr, /SUPABASE_URL/);
      const noDirect = smq(['db', 'migrate'], dir, { DB_TYPE: 'supabase', SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_SERVICE_KEY: 'k' });
      assert.equal(noDirect.status, 2);
      assert.match(noDirect.stderr, /DATABASE_URL/);
      const badTable = smq(['db', 'migrate', '--db-file', path.join(dir, 'x.db')], dir, { POSTGRES_TABLE_NAME: 'tasks; drop table x' });
      assert.equal(badTable.status, 2);
      assert.match(badTable.stderr, /not a plain identifier/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
