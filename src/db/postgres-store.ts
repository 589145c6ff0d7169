import postgres, { type Sql } from 'postgres';
import { ConfigError, SmqError } from '../core/errors.ts';
import { migratePostgres } from './pg-migrate.ts';
import { RpcTaskStore, type RpcArgs } from './rpc-task-store.ts';
import { errorFromSql } from './sql-errors.ts';

export interface PostgresStoreOptions {
  databaseUrl: string;
  tableName: string;
  /** search_path for every connection (tests use a schema each). A URL `options=-c search_path=…` works too. */
  schema?: string;
  /** Pool size. @defaultValue 4 */
  max?: number;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * TaskStore on PostgreSQL through the `postgres` driver, calling the sql/pg functions by name —
 * the same functions the Supabase store reaches over PostgREST, so both behave identically.
 * init() applies the numbered migrations (ledger + advisory lock) and then func_smq_migrate.
 */
export class PostgresStore extends RpcTaskStore {
  readonly kind = 'postgres' as const;
  private readonly sql: Sql;
  private migrated: number | null = null;

  constructor(opts: PostgresStoreOptions) {
    super(opts.tableName);
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
      throw new ConfigError('schema', `schema ${JSON.stringify(opts.schema)} is not a plain identifier: use letters, digits and underscores`);
    }
    this.sql = postgres(opts.databaseUrl, {
      max: opts.max ?? 4,
      // The seed's functions RAISE NOTICE on every call; they are not errors and must not reach stdout.
      onnotice: () => {},
      connection: opts.schema ? { search_path: opts.schema } : {},
    });
  }

  async init(): Promise<void> {
    await this.guard(async () => {
      this.migrated = await migratePostgres(this.sql);
      await this.sql`SELECT func_smq_migrate(${this.tableName})`;
    });
  }

  /** Highest applied sql/pg migration version (after init). */
  migrationVersion(): number | null {
    return this.migrated;
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SmqError) throw err;
      const e = err as { code?: string; message?: string };
      throw errorFromSql(e.code, e.message ?? String(err), err, 'PostgreSQL');
    }
  }

  /** Named-argument call with explicit casts, so overload resolution never has to guess. */
  private callText(fn: string, args: RpcArgs): { text: string; params: (string | number | boolean | null)[] } {
    if (!/^[a-z_][a-z0-9_]*$/.test(fn)) throw new ConfigError('function', `bad function name ${fn}`);
    const params: (string | number | boolean | null)[] = [];
    const parts = Object.entries(args).map(([name, value]) => {
      let cast = '';
      if (value === null) params.push(null);
      else if (typeof value === 'object') {
        params.push(JSON.stringify(value));
        // Sent as text and cast server-side: the driver would JSON-encode a string bound to jsonb again.
        cast = '::text::jsonb';
      } else {
        params.push(value);
        cast = typeof value === 'number' ? '::int' : typeof value === 'boolean' ? '::boolean' : '::text';
      }
      return `${name} => $${params.length}${cast}`;
    });
    return { text: `${fn}(${parts.join(', ')})`, params };
  }

  protected rows(fn: string, args: RpcArgs): Promise<Record<string, unknown>[]> {
    const { text, params } = this.callText(fn, args);
    return this.guard(async () => [...(await this.sql.unsafe(`SELECT * FROM ${text}`, params))] as Record<string, unknown>[]);
  }

  protected scalar(fn: string, args: RpcArgs): Promise<unknown> {
    const { text, params } = this.callText(fn, args);
    return this.guard(async () => (await this.sql.unsafe(`SELECT ${text} AS v`, params))[0]?.v ?? null);
  }
}
