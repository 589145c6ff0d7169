import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { assertTableName } from '../core/config.ts';
import { StoreError } from '../core/errors.ts';
import { readMigrations } from './migration-files.ts';

/**
 * Applies sql/sqlite/NNNN_name.sql in order, each in one IMMEDIATE transaction that writes its
 * ledger row first: two processes opening the same file at once serialise on SQLite's write lock,
 * and the second finds the row already there and skips (graphile-worker's trick). Files are read
 * at runtime and a missing directory fails fast.
 *
 * The ledger is keyed by (version, table_name) because one file may hold several task tables.
 */
export const SQLITE_MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/sqlite/', import.meta.url));

type Step = { kind: 'sql'; text: string } | { kind: 'ensure-column'; column: string; decl: string } | { kind: 'relax-not-null'; column: string };

/** Splits a file into plain SQL chunks and the `-- smq:` directives between them. */
export function parseSteps(text: string): Step[] {
  const steps: Step[] = [];
  let buf: string[] = [];
  const flush = () => {
    const chunk = buf.join('\n').trim();
    if (chunk) steps.push({ kind: 'sql', text: chunk });
    buf = [];
  };
  for (const line of text.split('\n')) {
    const m = /^--\s*smq:(ensure-column|relax-not-null)\s+([A-Za-z_][A-Za-z0-9_]*)\s*(.*)$/.exec(line.trim());
    if (!m) {
      buf.push(line);
      continue;
    }
    flush();
    if (m[1] === 'ensure-column') steps.push({ kind: 'ensure-column', column: m[2], decl: m[3].trim() });
    else steps.push({ kind: 'relax-not-null', column: m[2] });
  }
  flush();
  return steps;
}

interface ColumnInfo {
  name: string;
  notnull: number;
}

function columns(db: Database.Database, table: string): ColumnInfo[] {
  return db.prepare(`PRAGMA table_info("${table}")`).all() as ColumnInfo[];
}

/** SQLite cannot drop NOT NULL in place: rebuild the table from its own DDL, keeping every row. */
function relaxNotNull(db: Database.Database, table: string, column: string): void {
  const info = columns(db, table).find((c) => c.name === column);
  if (!info || info.notnull === 0) return;
  const master = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) as { sql: string } | undefined;
  if (!master) return;
  const tmp = `${table}__smq_rebuild`;
  const colPattern = new RegExp(`(["\`\\[]?${column}["\`\\]]?\\s+[A-Za-z]+)\\s+NOT\\s+NULL`, 'i');
  const relaxed = master.sql
    .replace(colPattern, '$1')
    .replace(/^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?("[^"]+"|`[^`]+`|\[[^\]]+\]|\S+)/i, `CREATE TABLE "${tmp}"`);
  if (colPattern.test(relaxed)) throw new StoreError(`could not relax NOT NULL on ${table}.${column}`, { retryable: false });
  db.exec(relaxed);
  db.exec(`INSERT INTO "${tmp}" SELECT * FROM "${table}"; DROP TABLE "${table}"; ALTER TABLE "${tmp}" RENAME TO "${table}";`);
}

/** Returns the highest applied version for the table. */
export function migrateSqlite(db: Database.Database, tableName: string, dir = SQLITE_MIGRATIONS_DIR): number {
  const table = assertTableName(tableName);
  db.exec(`CREATE TABLE IF NOT EXISTS smq_migrations (
    version INTEGER NOT NULL, name TEXT NOT NULL, table_name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    PRIMARY KEY (version, table_name))`);
  const claimVersion = db.prepare(`INSERT OR IGNORE INTO smq_migrations (version, name, table_name) VALUES (?, ?, ?)`);
  for (const file of readMigrations(dir)) {
    const apply = db.transaction(() => {
      if (claimVersion.run(file.version, file.name, table).changes === 0) return;
      for (const step of parseSteps(file.text.replaceAll('{{table}}', table))) {
        if (step.kind === 'sql') db.exec(step.text);
        else if (step.kind === 'relax-not-null') relaxNotNull(db, table, step.column);
        else if (!columns(db, table).some((c) => c.name === step.column)) {
          db.exec(`ALTER TABLE "${table}" ADD COLUMN ${step.column} ${step.decl}`);
        }
      }
    });
    apply.immediate();
  }
  fillLegacyTaskTypes(db, table);
  const row = db.prepare(`SELECT max(version) AS v FROM smq_migrations WHERE table_name = ?`).get(table) as { v: number | null };
  return row.v ?? 0;
}

/**
 * The seed's worker re-ran its task_type migration at every start; smq does too, so rows the
 * seed's client inserted since last time (without task_type) are filled the same way.
 */
export function fillLegacyTaskTypes(db: Database.Database, table: string): number {
  return db
    .prepare(
      `UPDATE "${table}" SET task_type = COALESCE(
         CASE WHEN json_valid(params) THEN CASE WHEN json_type(params, '$.task_type') = 'text' THEN json_extract(params, '$.task_type') END END,
         'standard_wgp_task')
       WHERE task_type IS NULL`,
    )
    .run().changes;
}
