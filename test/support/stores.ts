import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig, type SmqConfig } from '../../src/core/config.ts';
import { openStore } from '../../src/db/open-store.ts';
import type { TaskStore } from '../../src/db/task-store.ts';

export type TestStoreKind = 'sqlite' | 'postgres' | 'supabase';

export interface TestStore {
  store: TaskStore;
  /** A config that reaches the same database (a child process can openStore(config) and see the rows). */
  config: SmqConfig;
  cleanup(): Promise<void>;
}

/**
 * A migrated, isolated TaskStore for tests in any area: a temp SQLite file, a fresh PostgreSQL
 * schema (named in DATABASE_URL's `options`, so other processes land in it too), or the Supabase
 * client talking to the PostgREST stand-in over that schema.
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
  // PostgreSQL and Supabase variants land with their stores (next commits).
  throw new Error(`createTestStore(${JSON.stringify(kind)}) is not available yet`);
}
