import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { ConfigError, StoreError } from '../core/errors.ts';
import { RpcTaskStore, type RpcArgs } from './rpc-task-store.ts';
import { errorFromSql } from './sql-errors.ts';

export interface SupabaseStoreOptions {
  url: string;
  serviceKey: string;
  tableName: string;
}

interface PostgrestErrorLike {
  code?: string;
  message?: string;
  details?: string | null;
  hint?: string | null;
}

/**
 * TaskStore on Supabase, through `.rpc()` only: every call is one of the sql/pg functions, so each
 * operation (a whole reconciler batch plus its cursor included) is one PostgREST request and hence
 * one transaction. The functions must be installed first (`smq db migrate` with DATABASE_URL set to
 * the project's connection string, or sql/pg/*.sql pasted into the SQL editor); init() only
 * creates/upgrades the table through func_smq_migrate.
 */
export class SupabaseStore extends RpcTaskStore {
  readonly kind = 'supabase' as const;
  private readonly client: SupabaseClient;

  constructor(opts: SupabaseStoreOptions) {
    super(opts.tableName);
    if (!opts.url) throw new ConfigError('SUPABASE_URL', 'the Supabase store needs SUPABASE_URL (e.g. https://<ref>.supabase.co)');
    if (!opts.serviceKey) throw new ConfigError('SUPABASE_SERVICE_KEY', 'the Supabase store needs SUPABASE_SERVICE_KEY (the service-role key)');
    this.client = createClient(opts.url, opts.serviceKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  }

  async init(): Promise<void> {
    await this.scalar('func_smq_migrate', { p_table_name: this.tableName });
  }

  /** Nothing to release: calls are stateless HTTP (removeAllChannels would arm a 10 s realtime timer). */
  async close(): Promise<void> {}

  private async rpc(fn: string, args: RpcArgs): Promise<unknown> {
    let res: { data: unknown; error: PostgrestErrorLike | null; status: number };
    try {
      res = (await this.client.rpc(fn, args)) as typeof res;
    } catch (err) {
      throw new StoreError(`Supabase ${fn}: ${(err as Error).message}`, { cause: err });
    }
    if (!res.error) return res.data;
    const e = res.error;
    if (e.code === 'PGRST202') {
      throw new StoreError(
        `Supabase: ${e.message ?? `function ${fn} not found`}: install smq's SQL functions first (run \`smq db migrate\` with DATABASE_URL set to the project's connection string, or paste sql/pg/*.sql into the SQL editor)`,
        { retryable: false, cause: e },
      );
    }
    if (res.status === 401 || res.status === 403) {
      throw new ConfigError('SUPABASE_SERVICE_KEY', `Supabase refused the key (HTTP ${res.status}: ${e.message ?? 'unauthorised'}): set SUPABASE_SERVICE_KEY to the project's service-role key`);
    }
    if (res.status === 0) throw new StoreError(`Supabase ${fn}: network error: ${e.message ?? 'no response'}`, { cause: e });
    const detail = [e.details, e.hint].filter(Boolean).join('; ');
    const err = errorFromSql(e.code, e.message ?? `HTTP ${res.status}`, e, 'Supabase');
    if (detail && err instanceof StoreError) err.message += ` — ${detail}`;
    throw err;
  }

  protected async rows(fn: string, args: RpcArgs): Promise<Record<string, unknown>[]> {
    const data = await this.rpc(fn, args);
    if (data === null) return [];
    if (!Array.isArray(data)) throw new StoreError(`Supabase ${fn}: expected a JSON array, got ${typeof data}`, { retryable: false });
    return data as Record<string, unknown>[];
  }

  protected scalar(fn: string, args: RpcArgs): Promise<unknown> {
    return this.rpc(fn, args);
  }
}
