import { StoreError } from '../core/errors.ts';
import type { TaskStore } from './task-store.ts';

// Landing in the next commit; until then opening a PostgreSQL store fails loudly.
export class PostgresStore {
  constructor(_opts: { databaseUrl: string; tableName: string; schema?: string }) {
    throw new StoreError('PostgreSQL store is not available in this build yet', { retryable: false });
  }
}
export type _Unused = TaskStore;
