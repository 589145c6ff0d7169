import { existsSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { ConfigError } from './errors.ts';

/**
 * One place that reads the environment (and `.env`) for every smq command, so the CLI, workers,
 * reconciler and dashboard always agree. Precedence: defaults < .env < process environment < flags.
 * (The seed let `.env` beat `--db-file`; smq lets the flag win, as users expect of a flag.)
 */
export interface SmqConfig {
  dbType: 'sqlite' | 'postgres' | 'supabase';
  sqlitePath: string;
  tableName: string;
  databaseUrl: string | null;
  supabaseUrl: string | null;
  supabaseServiceKey: string | null;
  supabaseVideoBucket: string;
  redisUrl: string;
  /** BullMQ key prefix; the braces are a Redis Cluster hash tag so a whole flow family shares a slot. */
  queuePrefix: string;
  comfyuiOutputPath: string | null;
}

export interface ConfigOverrides {
  dbFile?: string;
  dbType?: string;
  redisUrl?: string;
  tableName?: string;
  queuePrefix?: string;
}

let envLoaded = false;

/** Loads `.env` from the working directory once; existing environment variables win. */
export function loadDotEnv(cwd = process.cwd()): void {
  if (envLoaded) return;
  envLoaded = true;
  const file = path.join(cwd, '.env');
  if (existsSync(file)) dotenv.config({ path: file, quiet: true });
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function assertTableName(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new ConfigError(
      'POSTGRES_TABLE_NAME',
      `table name ${JSON.stringify(name)} is not a plain identifier: use letters, digits and underscores, starting with a letter or underscore (at most 63 characters)`,
    );
  }
  return name;
}

export function resolveConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): SmqConfig {
  loadDotEnv();
  const rawType = (overrides.dbType ?? nonEmpty(env.DB_TYPE) ?? 'sqlite').trim().toLowerCase();
  if (rawType !== 'sqlite' && rawType !== 'postgres' && rawType !== 'supabase') {
    throw new ConfigError('DB_TYPE', `DB_TYPE=${JSON.stringify(rawType)} is not one of sqlite, postgres, supabase`);
  }
  const supabaseUrl = nonEmpty(env.SUPABASE_URL);
  const supabaseServiceKey = nonEmpty(env.SUPABASE_SERVICE_KEY);
  if (rawType === 'supabase') {
    // No silent fallback to SQLite (the seed's behaviour): say exactly what is missing.
    if (!supabaseUrl) throw new ConfigError('SUPABASE_URL', 'DB_TYPE=supabase needs SUPABASE_URL (e.g. https://<ref>.supabase.co)');
    if (!supabaseServiceKey) throw new ConfigError('SUPABASE_SERVICE_KEY', 'DB_TYPE=supabase needs SUPABASE_SERVICE_KEY (the service-role key)');
  }
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  if (rawType === 'postgres' && !databaseUrl) {
    throw new ConfigError('DATABASE_URL', 'DB_TYPE=postgres needs DATABASE_URL (e.g. postgres://user@127.0.0.1:5432/db)');
  }
  return {
    dbType: rawType,
    sqlitePath: path.resolve(overrides.dbFile ?? nonEmpty(env.SQLITE_DB_PATH_ENV) ?? 'tasks.db'),
    tableName: assertTableName(overrides.tableName ?? nonEmpty(env.POSTGRES_TABLE_NAME) ?? 'tasks'),
    databaseUrl,
    supabaseUrl,
    supabaseServiceKey,
    supabaseVideoBucket: nonEmpty(env.SUPABASE_VIDEO_BUCKET) ?? 'videos',
    redisUrl: overrides.redisUrl ?? nonEmpty(env.REDIS_URL) ?? 'redis://127.0.0.1:6379',
    queuePrefix: overrides.queuePrefix ?? nonEmpty(env.SMQ_QUEUE_PREFIX) ?? '{smq}',
    comfyuiOutputPath: nonEmpty(env.COMFYUI_OUTPUT_PATH),
  };
}

function nonEmpty(v: string | undefined): string | null {
  return v !== undefined && v.trim() !== '' ? v.trim() : null;
}
