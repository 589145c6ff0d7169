import { sqliteTable, text as sqliteText, integer as sqliteInteger } from 'drizzle-orm/sqlite-core';
import { pgTable, bigserial, text as pgText, integer as pgInteger, jsonb, timestamp } from 'drizzle-orm/pg-core';
import { assertTableName } from '../core/config.ts';

/**
 * drizzle-orm definitions of the canonical `tasks` table for both dialects. The table name is
 * configurable (POSTGRES_TABLE_NAME), hence factories. Property keys are the column names
 * themselves so query results go through row-mapping.ts like every other raw row.
 *
 * The DDL itself lives in sql/ (numbered migrations); these definitions must match it, and the
 * contract suite reads through them on SQLite.
 */
export function sqliteTasksTable(name: string) {
  return sqliteTable(assertTableName(name), {
    task_id: sqliteText('task_id').primaryKey(),
    // Nullable on purpose: the seed's Python client keeps inserting rows without it.
    task_type: sqliteText('task_type'),
    params: sqliteText('params').notNull(),
    status: sqliteText('status').notNull().default('Queued'),
    worker_id: sqliteText('worker_id'),
    output_location: sqliteText('output_location'),
    created_at: sqliteText('created_at'),
    updated_at: sqliteText('updated_at'),
    attempts: sqliteInteger('attempts').notNull().default(0),
    error_message: sqliteText('error_message'),
    progress: sqliteText('progress'),
    run_id: sqliteText('run_id'),
    parent_task_id: sqliteText('parent_task_id'),
    queue_name: sqliteText('queue_name'),
    started_at: sqliteText('started_at'),
    finished_at: sqliteText('finished_at'),
  });
}

export const sqliteStreamCursors = sqliteTable('smq_stream_cursors', {
  name: sqliteText('name').primaryKey(),
  last_id: sqliteText('last_id'),
  updated_at: sqliteText('updated_at'),
});

export function pgTasksTable(name: string) {
  return pgTable(assertTableName(name), {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    task_id: pgText('task_id').notNull().unique(),
    params: jsonb('params').notNull(),
    task_type: pgText('task_type'),
    status: pgText('status').notNull().default('Queued'),
    worker_id: pgText('worker_id'),
    output_location: pgText('output_location'),
    created_at: timestamp('created_at', { withTimezone: true }).defaultNow(),
    updated_at: timestamp('updated_at', { withTimezone: true }).defaultNow(),
    attempts: pgInteger('attempts').notNull().default(0),
    error_message: pgText('error_message'),
    progress: jsonb('progress'),
    run_id: pgText('run_id'),
    parent_task_id: pgText('parent_task_id'),
    queue_name: pgText('queue_name'),
    started_at: timestamp('started_at', { withTimezone: true }),
    finished_at: timestamp('finished_at', { withTimezone: true }),
  });
}

export const pgStreamCursors = pgTable('smq_stream_cursors', {
  name: pgText('name').primaryKey(),
  last_id: pgText('last_id'),
  updated_at: timestamp('updated_at', { withTimezone: true }).defaultNow(),
});
