import type { SmqConfig } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import { PostgresStore } from './postgres-store.ts';
import { SqliteStore } from './sqlite-store.ts';

export interface MigrateResult {
  dbType: SmqConfig['dbType'];
  tableName: string;
  /** Highest applied migration version (sql/sqlite or sql/pg). */
  version: number;
  /** Where it was applied (file path, or the database URL without its password). */
  target: string;
}

/**
 * `smq db migrate`: applies the numbered migrations and upgrades the tasks table. Supabase gets its
 * SQL over a direct connection (DATABASE_URL = the project's connection string), because PostgREST
 * can only call functions that already exist.
 */
export async function migrateDatabase(config: SmqConfig): Promise<MigrateResult> {
  if (config.dbType === 'sqlite') {
    const store = new SqliteStore(config.sqlitePath, config.tableName);
    try {
      await store.init();
      return { dbType: 'sqlite', tableName: config.tableName, version: store.migrationVersion(), target: config.sqlitePath };
    } finally {
      await store.close();
    }
  }
  if (!config.databaseUrl) {
    throw new ConfigError(
      'DATABASE_URL',
      'DB_TYPE=supabase: smq db migrate installs sql/pg over a direct connection; set DATABASE_URL to the project\'s connection string (Dashboard → Project Settings → Database), or paste sql/pg/*.sql into the SQL editor',
    );
  }
  const store = new PostgresStore({ databaseUrl: config.databaseUrl, tableName: config.tableName, max: 1 });
  try {
    await store.init();
    return { dbType: config.dbType, tableName: config.tableName, version: store.migrationVersion() ?? 0, target: redactUrl(config.databaseUrl) };
  } finally {
    await store.close();
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(DATABASE_URL)';
  }
}
