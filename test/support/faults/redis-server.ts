import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { redisAnswers } from '../../../src/core/redis.ts';
import { freePort, until } from './proc.ts';

/**
 * A private `redis-server` on its own port and data dir, so a test can kill and restart Redis
 * without touching the machine's shared one. `persistent` turns on AOF (everysec, as BullMQ's
 * production guide advises); without it a restart comes back empty.
 */
export class PrivateRedis {
  private proc: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly persistent: boolean,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(opts: { persistent: boolean }): Promise<PrivateRedis> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-fault-redis-'));
    const r = new PrivateRedis(await freePort(), dir, opts.persistent);
    await r.up();
    return r;
  }

  async up(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--maxmemory-policy', 'noeviction', '--appendonly', this.persistent ? 'yes' : 'no'];
    if (this.persistent) args.push('--appendfsync', 'everysec');
    this.proc = spawn('redis-server', args, { stdio: 'ignore' });
    await until(`private redis on ${this.port}`, () => redisAnswers(this.url, 500), 15_000, 100);
  }

  /** SIGKILL: a crash, not a shutdown (no final save beyond what AOF already wrote). */
  async crash(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
    this.proc = null;
  }

  async restart(downMs = 0): Promise<void> {
    await this.crash();
    if (downMs) await new Promise((r) => setTimeout(r, downMs));
    await this.up();
  }

  async stop(): Promise<void> {
    await this.crash();
    await rm(this.dir, { recursive: true, force: true });
  }
}
