import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { resolveConfig } from '../../src/core/config.ts';
import { SmqWorker, type SmqWorkerOptions } from '../../src/consumers/worker.ts';
import { createWorkerLogger } from '../../src/consumers/logger.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_HANDLERS = fileURLToPath(new URL('./fixtures/test-handlers.ts', import.meta.url));

/** One isolated world per test: a BullMQ prefix, a temp dir, queues, workers, and cleanup. */
export class Harness {
  readonly prefix = `{smqt-${randomBytes(6).toString('hex')}}`;
  readonly redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  dir = '';
  private queues = new Map<string, Queue>();
  private workers: SmqWorker[] = [];

  async init(): Promise<this> {
    this.dir = await mkdtemp(path.join(os.tmpdir(), 'smq-worker-test-'));
    return this;
  }

  queue(name = 'cpu'): Queue {
    let q = this.queues.get(name);
    if (!q) {
      const u = new URL(REDIS_URL);
      q = new Queue(name, { connection: { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0) }, prefix: this.prefix });
      this.queues.set(name, q);
    }
    return q;
  }

  async add(taskType: string, params: Record<string, unknown>, opts: JobsOptions & { queue?: string } = {}): Promise<Job> {
    const { queue, ...jobOpts } = opts;
    const id = jobOpts.jobId ?? `t_${randomBytes(6).toString('hex')}`;
    return this.queue(queue).add(taskType, { taskType, params }, { attempts: 1, ...jobOpts, jobId: id });
  }

  async startWorker(opts: SmqWorkerOptions = {}): Promise<SmqWorker> {
    const w = new SmqWorker({
      config: resolveConfig({ dbFile: path.join(this.dir, 'tasks.db') }),
      redisUrl: REDIS_URL,
      prefix: this.prefix,
      outputRoot: path.join(this.dir, 'outputs'),
      plugins: [TEST_HANDLERS],
      logger: createWorkerLogger({ name: 'test', level: process.env.SMQ_TEST_LOG ?? 'silent' }),
      ...opts,
    });
    this.workers.push(w);
    await w.start();
    return w;
  }

  /** Polls the job until its state is one of `states`; returns the fresh job. */
  async waitForState(id: string, states: string[], timeoutMs = 20_000, queue = 'cpu'): Promise<Job> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const job = await this.queue(queue).getJob(id);
      last = job ? await job.getState() : 'missing';
      // Re-read: the job object was fetched before the state, and may predate the transition.
      if (job && states.includes(last)) return (await this.queue(queue).getJob(id))!;
      await sleep(50);
    }
    throw new Error(`job ${id} did not reach ${states.join('/')} within ${timeoutMs} ms (last state ${last})`);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close(0)));
    for (const q of this.queues.values()) {
      await q.obliterate({ force: true }).catch(() => {});
      await q.close();
    }
    // smq's own keys (cancel set) and anything left under the prefix.
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await this.redis.del(...keys);
    } while (cursor !== '0');
    this.redis.disconnect();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v as T;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function readPids(file: string): Promise<{ child: number; grandchild: number } | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
}
