import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig, type SmqConfig } from '../../src/core/config.ts';
import { openStore } from '../../src/db/open-store.ts';
import type { TaskStore } from '../../src/db/task-store.ts';
import { createTestSchema, loadSqlFunctions } from './pg.ts';
import { startPostgrestStandin } from './postgrest-standin.ts';

export type TestStoreKind = 'sqlite' | 'postgres' | 'supabase';

export interface TestStore {
  store: TaskStore;
  /**
   * A config that reaches the same database: a child process can `openStore(config)` and see the
   * rows (PostgreSQL's DATABASE_URL names the schema in its `options` parameter).
   */
  config: SmqConfig;
  cleanup(): Promise<void>;
}

/**
 * A migrated, isolated TaskStore for tests in any area: a temp SQLite file, a fresh PostgreSQL
 * schema, or the Supabase client talking to the PostgREST stand-in over a fresh schema.
 */
export async function createTestStore(kind: TestStoreKind): Promise<TestStore> {
  if (kind === 'sqlite') {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-db-'));
    const config = resolveConfig({ dbType: 'sqlite', dbFile: path.join(dir, 'tasks.db') }, {});
    const store = await openStore(config);
    return {
      store,
      config,
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = await createTestSchema();
  const undo: (() => Promise<void>)[] = [() => schema.drop()];
  const unwind = async () => {
    for (const f of undo.reverse()) await f().catch(() => {});
  };
  try {
    if (kind === 'postgres') {
      const config = resolveConfig({ dbType: 'postgres' }, { DATABASE_URL: schema.url });
      const store = await openStore(config);
      undo.push(() => store.close());
      return { store, config, cleanup: unwind };
    }
    // Supabase: the SQL is installed the way a user would (migrations over a direct connection),
    // then everything else goes through PostgREST.
    await loadSqlFunctions(schema.url);
    const apiKey = `service-key-${schema.name}`;
    const standin = await startPostgrestStandin({ databaseUrl: schema.url, schema: schema.name, apiKey });
    undo.push(() => standin.close());
    const config = resolveConfig({ dbType: 'supabase' }, { SUPABASE_URL: standin.url, SUPABASE_SERVICE_KEY: apiKey, DATABASE_URL: schema.url });
    const store = await openStore(config);
    undo.push(() => store.close());
    return { store, config, cleanup: unwind };
  } catch (err) {
    await unwind();
    throw err;
  }
}
