import type { Command } from 'commander';
import { resolveConfig } from '../core/config.ts';
import { TASK_STATUSES } from '../core/types.ts';
import { migrateDatabase } from './migrate.ts';
import { openStore } from './open-store.ts';

interface DbFlags {
  dbFile?: string;
  json?: boolean;
}

/** `smq db migrate` and `smq db counts`; configuration comes from resolveConfig like every command. */
export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('The canonical tasks table (DB_TYPE=sqlite|postgres|supabase)');

  db.command('migrate')
    .description('Apply the numbered migrations (sql/sqlite or sql/pg) and upgrade the tasks table; safe to re-run')
    .option('--db-file <path>', 'SQLite database file (DB_TYPE=sqlite; default tasks.db or SQLITE_DB_PATH_ENV)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: DbFlags) => {
      const r = await migrateDatabase(resolveConfig({ dbFile: flags.dbFile }));
      if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write(`${r.dbType} ${r.target}: table "${r.tableName}" at migration version ${r.version}\n`);
    });

  db.command('counts')
    .description('Print how many rows the tasks table holds in each status')
    .option('--db-file <path>', 'SQLite database file (DB_TYPE=sqlite; default tasks.db or SQLITE_DB_PATH_ENV)')
    .option('--json', 'print the counts as JSON')
    .action(async (flags: DbFlags) => {
      const store = await openStore(resolveConfig({ dbFile: flags.dbFile }));
      try {
        const counts = await store.countsByStatus();
        if (flags.json) process.stdout.write(`${JSON.stringify(counts)}\n`);
        else {
          const width = Math.max(...TASK_STATUSES.map((s) => s.length));
          for (const s of TASK_STATUSES) process.stdout.write(`${s.padEnd(width)}  ${counts[s]}\n`);
        }
      } finally {
        await store.close();
      }
    });
}
