import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { resolveConfig, type SmqConfig } from '../../../src/core/config.ts';
import { openStore } from '../../../src/db/open-store.ts';
import type { TaskStore } from '../../../src/db/task-store.ts';
import { Dispatcher } from '../../../src/flows/dispatch.ts';
import { enqueueTravel, type TravelEnqueueResult } from '../../../src/producers/api.ts';
import type { ProducerDeps } from '../../../src/producers/deps.ts';
import { EventMonitor } from './event-monitor.ts';
import { FAULT_HANDLERS, runCommand, SMQ_BIN, spawnNode, stopProcess, type Spawned } from './proc.ts';

export const SHARED_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface WorldOptions {
  redisUrl?: string;
  /** A PostgreSQL URL (its default schema is the test's own); SQLite in the world's dir otherwise. */
  databaseUrl?: string;
}

/**
 * One isolated system under test: a BullMQ prefix, a temp dir (SQLite file, output root, inputs),
 * the table, an event monitor, and the real `smq` processes the test spawns. close() stops them all
 * and deletes every key and file it made.
 */
export class FaultWorld {
  readonly procs: Spawned[] = [];
  private queues = new Map<string, Queue>();
  private deps: (ProducerDeps & { redis: Redis; dispatcher: Dispatcher }) | null = null;

  private constructor(
    readonly prefix: string,
    readonly dir: string,
    readonly redisUrl: string,
    readonly config: SmqConfig,
    readonly store: TaskStore,
    readonly monitor: EventMonitor,
  ) {}

  static async create(opts: WorldOptions = {}): Promise<FaultWorld> {
    const prefix = `{smqt-${randomBytes(5).toString('hex')}}`;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-fault-'));
    await mkdir(path.join(dir, 'outputs'), { recursive: true });
    const redisUrl = opts.redisUrl ?? SHARED_REDIS_URL;
    const env = opts.databaseUrl ? { DB_TYPE: 'postgres', DATABASE_URL: opts.databaseUrl } : { DB_TYPE: 'sqlite' };
    const config = resolveConfig({ dbFile: path.join(dir, 'tasks.db'), redisUrl, queuePrefix: prefix }, env);
    const store = await openStore(config);
    return new FaultWorld(prefix, dir, redisUrl, config, store, new EventMonitor(redisUrl, prefix));
  }

  get outputRoot(): string {
    return path.join(this.dir, 'outputs');
  }

  /** Environment every spawned smq process gets: same table, same Redis, same prefix. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const db = this.config.dbType === 'postgres' ? { DB_TYPE: 'postgres', DATABASE_URL: this.config.databaseUrl! } : { DB_TYPE: 'sqlite', SQLITE_DB_PATH_ENV: this.config.sqlitePath };
    return { ...db, REDIS_URL: this.redisUrl, SMQ_QUEUE_PREFIX: this.prefix, SMQ_LOG_LEVEL: process.env.SMQ_FAULTS_VERBOSE ? 'info' : 'warn', ...extra };
  }

  private dbArgs(): string[] {
    return this.config.dbType === 'sqlite' ? ['--db-file', this.config.sqlitePath] : [];
  }

  spawnWorker(name: string, args: string[] = [], opts: { env?: NodeJS.ProcessEnv; nodeFlags?: string[] } = {}): Spawned {
    const p = spawnNode(
      name,
      [SMQ_BIN, 'worker', '--name', name, ...this.dbArgs(), '--main-output-dir', this.outputRoot, '--grace', '2', '--plugin', FAULT_HANDLERS, ...args],
      this.env(opts.env),
      { nodeFlags: opts.nodeFlags },
    );
    this.procs.push(p);
    return p;
  }

  spawnReconciler(name = 'reconciler', args: string[] = []): Spawned {
    const p = spawnNode(name, [SMQ_BIN, 'reconcile', ...this.dbArgs(), '--sweep-interval', '1', ...args], this.env());
    this.procs.push(p);
    return p;
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: { url: this.redisUrl, maxRetriesPerRequest: null }, prefix: this.prefix });
      q.on('error', () => {});
      this.queues.set(name, q);
    }
    return q;
  }

  /** Names of workers registered on a queue (BullMQ's CLIENT LIST view). */
  async workerNames(queue: string): Promise<string[]> {
    // `name` is the queue's; the worker's own name is the tail of the raw client name `<prefix>:<b64 queue>:w:<name>`.
    return (await this.queue(queue).getWorkers()).map((w) => String((w as Record<string, unknown>).rawname ?? '').split(':w:')[1] ?? '');
  }

  producer(): ProducerDeps {
    if (!this.deps) {
      const redis = new Redis(this.redisUrl, { maxRetriesPerRequest: null });
      redis.on('error', () => {});
      this.deps = { store: this.store, dispatcher: new Dispatcher(redis, this.prefix), config: this.config, redis };
    }
    return this.deps;
  }

  /** `n` small distinct anchor images (64×48 PNG), made by ffmpeg. */
  async images(n: number): Promise<string[]> {
    const dir = path.join(this.dir, 'inputs');
    await mkdir(dir, { recursive: true });
    const colours = ['red', 'green', 'blue', 'yellow', 'white', 'cyan', 'magenta'];
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const file = path.join(dir, `anchor${i}.png`);
      const src = i % 2 === 0 ? `testsrc=size=64x48` : `color=c=${colours[i % colours.length]}:size=64x48`;
      const r = await runCommand('ffmpeg', ['-y', '-v', 'error', '-f', 'lavfi', '-i', src, '-frames:v', '1', file]);
      if (r.code !== 0) throw new Error(`ffmpeg could not make ${file}: ${r.stderr}`);
      out.push(file);
    }
    return out;
  }

  /** A travel run of `segments` segments of `frames` frames at 64×48 on the onnx engine; outputs kept for the check. */
  async travel(images: string[], opts: { frames?: number; overlap?: number; mode?: 'chained' | 'independent' } = {}): Promise<TravelEnqueueResult> {
    return enqueueTravel(
      {
        input_images: images,
        base_prompts: ['fault suite'],
        segment_frames: [opts.frames ?? 10],
        frame_overlap: [opts.overlap ?? 2],
        resolution: '64x48',
        output_dir: path.join(this.dir, 'travel-out'),
        segment_mode: opts.mode ?? 'independent',
        skip_cleanup: true,
        execution_engine: 'onnx',
      },
      this.producer(),
      { cwd: this.dir },
    );
  }

  /** A row plus its job, for the plugin task types (which have no queue of their own: they run on `cpu`). */
  async addPluginTask(taskType: string, params: Record<string, unknown>, opts: JobsOptions = {}): Promise<string> {
    const taskId = `f_${taskType}_${randomBytes(5).toString('hex')}`;
    await this.store.insert({ taskId, taskType, params, queueName: 'cpu' });
    await this.queue('cpu').add(taskType, { taskType, params }, { attempts: 1, removeOnFail: false, ...opts, jobId: taskId });
    return taskId;
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => stopProcess(p)));
    await this.monitor.close();
    if (this.deps) {
      await this.deps.dispatcher.close().catch(() => {});
      this.deps.redis.disconnect();
    }
    for (const q of this.queues.values()) await q.close().catch(() => {});
    await deletePrefix(this.redisUrl, this.prefix).catch(() => {});
    await this.store.close().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
