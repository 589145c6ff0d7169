import type { SmqConfig } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import type { TaskStore } from './task-store.ts';
import { SqliteStore } from './sqlite-store.ts';

export interface OpenStoreOptions {
  /** PostgreSQL schema to work in (search_path); tests use one per test. Ignored for SQLite and Supabase. */
  schema?: string;
}

/**
 * The one way every command gets its TaskStore: picks the implementation from DB_TYPE and runs
 * init() (migrations included), so no caller ever sees an unmigrated table. PostgreSQL and
 * Supabase modules load lazily, so a SQLite-only run never opens network clients.
 */
export async function openStore(config: SmqConfig, opts: OpenStoreOptions = {}): Promise<TaskStore> {
  let store: TaskStore;
  if (config.dbType === 'sqlite') {
    store = new SqliteStore(config.sqlitePath, config.tableName);
  } else if (config.dbType === 'postgres') {
    if (!config.databaseUrl) throw new ConfigError('DATABASE_URL', 'DB_TYPE=postgres needs DATABASE_URL (e.g. postgres://user@127.0.0.1:5432/db)');
    const { PostgresStore } = await import('./postgres-store.ts');
    store = new PostgresStore({ databaseUrl: config.databaseUrl, tableName: config.tableName, schema: opts.schema });
  } else {
    if (!config.supabaseUrl) throw new ConfigError('SUPABASE_URL', 'DB_TYPE=supabase needs SUPABASE_URL (e.g. https://<ref>.supabase.co)');
    if (!config.supabaseServiceKey) throw new ConfigError('SUPABASE_SERVICE_KEY', 'DB_TYPE=supabase needs SUPABASE_SERVICE_KEY (the service-role key)');
    const { SupabaseStore } = await import('./supabase-store.ts');
    store = new SupabaseStore({ url: config.supabaseUrl, serviceKey: config.supabaseServiceKey, tableName: config.tableName });
  }
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}
