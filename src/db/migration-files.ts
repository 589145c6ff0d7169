import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { StoreError } from '../core/errors.ts';

/** Numbered migration files (`NNNN_name.sql`), read at runtime; a missing folder fails fast. */
export interface MigrationFile {
  version: number;
  name: string;
  text: string;
}

export function readMigrations(dir: string): MigrationFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new StoreError(`migrations directory ${dir} is missing: reinstall smq (the sql/ folder ships with it)`, { retryable: false, cause: err });
  }
  const files = names
    .filter((n) => /^\d{4}_[A-Za-z0-9_]+\.sql$/.test(n))
    .sort()
    .map((n) => ({ version: Number(n.slice(0, 4)), name: n.replace(/\.sql$/, ''), text: readFileSync(path.join(dir, n), 'utf8') }));
  const seen = new Set<number>();
  for (const f of files) {
    if (seen.has(f.version)) throw new StoreError(`two migrations share version ${f.version} in ${dir}`, { retryable: false });
    seen.add(f.version);
  }
  return files;
}
