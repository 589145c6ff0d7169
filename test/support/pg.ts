import { randomBytes } from 'node:crypto';
import postgres, { type Sql } from 'postgres';
import { migratePostgres } from '../../src/db/pg-migrate.ts';

/** The test PostgreSQL (trust auth); SMQ_TEST_DATABASE_URL overrides it. */
export const PG_BASE_URL = process.env.SMQ_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A URL whose connections start in `schema`: libpq (psql) and the `postgres` driver both pass the
 * `options` parameter to the server, so child processes handed this URL land in the same schema.
 */
export function urlForSchema(schema: string, base = PG_BASE_URL): string {
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export function pgAdmin(url = PG_BASE_URL): Sql {
  return postgres(url, { max: 1, onnotice: () => {} });
}

export interface TestSchema {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh empty schema; `drop()` removes it and everything in it. */
export async function createTestSchema(prefix = 'smqt'): Promise<TestSchema> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = pgAdmin();
  try {
    await admin.unsafe(`CREATE SCHEMA "${name}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    name,
    url: urlForSchema(name),
    async drop() {
      const a = pgAdmin();
      try {
        await a.unsafe(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await a.end({ timeout: 5 });
      }
    },
  };
}

/** Loads sql/pg (the seed's functions and smq's) into a schema, as `smq db migrate` does. */
export async function loadSqlFunctions(schemaUrl: string): Promise<number> {
  const sql = postgres(schemaUrl, { max: 1, onnotice: () => {} });
  try {
    return await migratePostgres(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
