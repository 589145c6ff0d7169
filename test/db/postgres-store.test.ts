import { PostgresStore } from '../../src/db/postgres-store.ts';
import { createTestSchema, pgAdmin } from '../support/pg.ts';
import { runTaskStoreContract } from './contract.ts';

runTaskStoreContract('PostgreSQL (postgres driver)', async () => {
  const schema = await createTestSchema();
  return {
    async open(tableName) {
      const s = new PostgresStore({ databaseUrl: schema.url, tableName, max: 2 });
      try {
        await s.init();
      } catch (err) {
        await s.close();
        throw err;
      }
      return s;
    },
    async insertBadParams(tableName, taskId) {
      // jsonb cannot hold invalid JSON; a non-object (what a hand-written INSERT might store) is the PG analogue.
      const a = pgAdmin(schema.url);
      await a.unsafe(`INSERT INTO "${tableName}" (task_id, params, task_type, status) VALUES ($1, '"just a string"'::jsonb, 'standard_wgp_task', 'Queued')`, [taskId]);
      await a.end({ timeout: 5 });
    },
    cleanup: () => schema.drop(),
  };
});
