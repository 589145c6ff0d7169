import { fileURLToPath } from 'node:url';
import type { Sql } from 'postgres';
import { readMigrations } from './migration-files.ts';

/**
 * Applies sql/pg/NNNN_name.sql in order, one transaction per file. Each transaction first takes an
 * advisory lock (so concurrent starters queue instead of racing on CREATE), then writes the ledger
 * row; a starter that finds the row already there skips the file. Returns the highest version.
 *
 * The ledger lives in the current schema (search_path), beside the functions it records.
 */
export const PG_MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/pg/', import.meta.url));

export async function migratePostgres(sql: Sql, dir = PG_MIGRATIONS_DIR): Promise<number> {
  for (const file of readMigrations(dir)) {
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext('smq:migrations:' || current_schema()))`;
      await tx.unsafe(`CREATE TABLE IF NOT EXISTS smq_migrations (
        version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP)`);
      const claimed = await tx`INSERT INTO smq_migrations (version, name) VALUES (${file.version}, ${file.name})
                               ON CONFLICT (version) DO NOTHING RETURNING version`;
      if (claimed.length === 0) return;
      await tx.unsafe(file.text);
    });
  }
  const [row] = await sql`SELECT coalesce(max(version), 0)::int AS v FROM smq_migrations`;
  return row.v as number;
}
