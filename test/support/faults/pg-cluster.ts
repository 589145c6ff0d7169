import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { freePort, runCommand, until } from './proc.ts';

/**
 * A private PostgreSQL cluster (initdb + pg_ctl on a free port, a temp dir), so a test can stop
 * and start the database under running workers without touching the shared one. initdb refuses
 * to run as root, so as root the cluster belongs to the `postgres` user.
 */
function pgBin(tool: string): string {
  const base = '/usr/lib/postgresql';
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error(`no PostgreSQL under ${base}`);
  return path.join(base, versions[0]!, 'bin', tool);
}

function pgUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  return { uid: Number(runCommandSync('id', ['-u', 'postgres'])), gid: Number(runCommandSync('id', ['-g', 'postgres'])) };
}

function runCommandSync(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}

export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly as: { uid: number; gid: number } | null,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get data(): string {
    return path.join(this.dir, 'data');
  }

  private run(tool: string, args: string[], timeoutMs = 60_000) {
    return runCommand(pgBin(tool), args, { timeoutMs, uid: this.as?.uid, gid: this.as?.gid, cwd: this.dir, env: { LC_ALL: 'C' } });
  }

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'smq-fault-pg-'));
    const as = pgUser();
    if (as) chownSync(dir, as.uid, as.gid);
    const pg = new PrivatePostgres(await freePort(), dir, as);
    const init = await pg.run('initdb', ['-D', pg.data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], 120_000);
    if (init.code !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    await pg.up();
    return pg;
  }

  async up(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    const r = await this.run('pg_ctl', ['-D', this.data, '-o', opts, '-l', path.join(this.dir, 'log'), '-w', '-t', '60', 'start']);
    if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.stderr}${r.stdout}`);
    await until('private postgres to accept connections', async () => {
      const sql = postgres(this.url, { max: 1, connect_timeout: 2, onnotice: () => {} });
      try {
        await sql`select 1`;
        return true;
      } finally {
        await sql.end({ timeout: 1 });
      }
    }, 30_000, 200);
  }

  /** Immediate stop: connections are cut as in a crash. */
  async down(): Promise<void> {
    await this.run('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', 'stop']);
  }

  async stop(): Promise<void> {
    await this.down().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
