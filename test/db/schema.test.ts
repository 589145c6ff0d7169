import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { getTableConfig as sqliteConfig } from 'drizzle-orm/sqlite-core';
import { getTableConfig as pgConfig } from 'drizzle-orm/pg-core';
import { pgTasksTable, sqliteTasksTable } from '../../src/db/schema.ts';
import { SqliteStore } from '../../src/db/sqlite-store.ts';
import { PostgresStore } from '../../src/db/postgres-store.ts';
import { createTestSchema, pgAdmin } from '../support/pg.ts';

// The drizzle definitions describe what the migrations create; if a migration adds a column and
// schema.ts is not updated (or the reverse), this fails.
it('drizzle schema matches the migrated SQLite table', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-schema-'));
  try {
    const store = new SqliteStore(path.join(dir, 'tasks.db'), 'jobs');
    await store.init();
    await store.close();
    const db = new Database(path.join(dir, 'tasks.db'), { readonly: true });
    // SQLite lets a TEXT PRIMARY KEY hold NULL unless declared NOT NULL (the seed's DDL does not);
    // drizzle's primaryKey() implies notNull, so count the key as not-null here.
    const actual = (db.prepare(`PRAGMA table_info(jobs)`).all() as { name: string; notnull: number; pk: number }[]).map((c) => [c.name, c.notnull === 1 || c.pk > 0]);
    db.close();
    const declared = sqliteConfig(sqliteTasksTable('jobs')).columns.map((c) => [c.name, c.notNull]);
    assert.deepEqual(new Map(actual as [string, boolean][]), new Map(declared as [string, boolean][]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('drizzle schema matches the migrated PostgreSQL table', { timeout: 30_000 }, async () => {
  const schema = await createTestSchema();
  try {
    const store = new PostgresStore({ databaseUrl: schema.url, tableName: 'jobs', max: 1 });
    await store.init();
    await store.close();
    const a = pgAdmin(schema.url);
    const cols = await a`SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = ${schema.name} AND table_name = 'jobs'`;
    await a.end({ timeout: 5 });
    const actual = new Set(cols.map((c) => c.column_name as string));
    const declared = new Set(pgConfig(pgTasksTable('jobs')).columns.map((c) => c.name));
    assert.deepEqual(actual, declared);
  } finally {
    await schema.drop();
  }
});

it('refuses a bad table name in the schema factories', () => {
  assert.throws(() => sqliteTasksTable('x; drop'), /not a plain identifier/);
  assert.throws(() => pgTasksTable('"x"'), /not a plain identifier/);
});
