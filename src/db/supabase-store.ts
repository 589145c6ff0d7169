import { StoreError } from '../core/errors.ts';
import type { TaskStore } from './task-store.ts';

// Landing in the next commit; until then opening a Supabase store fails loudly.
export class SupabaseStore {
  constructor(_opts: { url: string; serviceKey: string; tableName: string }) {
    throw new StoreError('Supabase store is not available in this build yet', { retryable: false });
  }
}
export type _Unused = TaskStore;
