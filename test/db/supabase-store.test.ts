import { SupabaseStore } from '../../src/db/supabase-store.ts';
import { createTestSchema, loadSqlFunctions, pgAdmin } from '../support/pg.ts';
import { startPostgrestStandin, type PostgrestStandin } from '../support/postgrest-standin.ts';
import { runTaskStoreContract } from './contract.ts';

runTaskStoreContract('Supabase client → PostgREST stand-in → PostgreSQL', async () => {
  const schema = await createTestSchema();
  let standin: PostgrestStandin | null = null;
  try {
    await loadSqlFunctions(schema.url);
    const apiKey = `key-${schema.name}`;
    const s = await startPostgrestStandin({ databaseUrl: schema.url, schema: schema.name, apiKey });
    standin = s;
    return {
      async open(tableName) {
        const store = new SupabaseStore({ url: s.url, serviceKey: apiKey, tableName });
        await store.init();
        return store;
      },
      async insertBadParams(tableName, taskId) {
        const a = pgAdmin(schema.url);
        await a.unsafe(`INSERT INTO "${tableName}" (task_id, params, task_type, status) VALUES ($1, '[1, 2]'::jsonb, 'standard_wgp_task', 'Queued')`, [taskId]);
        await a.end({ timeout: 5 });
      },
      async cleanup() {
        await s.close();
        await schema.drop();
      },
    };
  } catch (err) {
    await standin?.close();
    await schema.drop();
    throw err;
  }
});
