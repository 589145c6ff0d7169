/**
 * Dispatch throughput: raw BullMQ no-op jobs vs the same number of `noop` tasks through all of smq,
 * side by side, in this process.
 *
 * - raw:  addBulk + one Worker (concurrency `concurrency`); the clock stops when the last job completed.
 * - smq:  the bulk producer API (`enqueueTasks`, one call per `chunk` tasks like raw's addBulk: rows
 *         first, then addBulk) → SmqWorker (same concurrency) → Reconciler; the clock stops when the
 *         last row is `Complete` in SQLite.
 * Both clocks start with the first enqueue; workers and reconciler are up and idle before that.
 */
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { SmqWorker } from '../src/consumers/worker.ts';
import { openStore } from '../src/db/open-store.ts';
import { CPU_QUEUE } from '../src/flows/queues.ts';
import { enqueueTasks, openProducerDeps } from '../src/producers/api.ts';
import { Reconciler } from '../src/reconciler/reconciler.ts';
import { benchConfig, benchPrefix, dropPrefix, openRedis, quietLogger, REDIS_URL, round, waitFor } from './support.ts';

export interface DispatchBenchOptions {
  jobs: number;
  /** Worker concurrency on both sides. */
  concurrency: number;
  /** Jobs per addBulk (raw) and per enqueueTasks call (smq). @defaultValue 1000 */
  chunk?: number;
  workDir: string;
  timeoutMs?: number;
}

export interface ThroughputSide {
  jobs: number;
  seconds: number;
  jobsPerSec: number;
}

export interface DispatchBenchResult {
  raw: ThroughputSide;
  /** `ingested`: rows the reconciler's ingest dispatched too (it races the producer for rows not yet dispatched). */
  smq: ThroughputSide & { enqueueSeconds: number; lastSweepRepairs: number; ingested: number };
}

const DEFAULT_CHUNK = 1000;

function side(jobs: number, ms: number): ThroughputSide {
  return { jobs, seconds: round(ms / 1000), jobsPerSec: Math.round(jobs / (ms / 1000)) };
}

export async function benchRawThroughput(opts: DispatchBenchOptions): Promise<ThroughputSide> {
  const prefix = benchPrefix('raw-tp');
  const redis = openRedis();
  const queue = new Queue('noop', { connection: redis, prefix });
  const workerConn = openRedis();
  const worker = new Worker('noop', async () => null, { connection: workerConn, prefix, concurrency: opts.concurrency });
  worker.on('error', () => {});
  let done = 0;
  worker.on('completed', () => void done++);
  try {
    await worker.waitUntilReady();
    const t0 = performance.now();
    const chunk = opts.chunk ?? DEFAULT_CHUNK;
    for (let i = 0; i < opts.jobs; i += chunk) {
      const n = Math.min(chunk, opts.jobs - i);
      await queue.addBulk(Array.from({ length: n }, () => ({ name: 'noop', data: {} })));
    }
    await waitFor(() => done >= opts.jobs, `${opts.jobs} raw jobs to complete`, opts.timeoutMs ?? 120_000, 2);
    return side(opts.jobs, performance.now() - t0);
  } finally {
    await worker.close();
    await queue.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    workerConn.disconnect();
  }
}

export async function benchSmqThroughput(opts: DispatchBenchOptions): Promise<DispatchBenchResult['smq']> {
  const prefix = benchPrefix('smq-tp');
  const config = benchConfig(path.join(opts.workDir, `dispatch-${prefix.slice(1, -1)}.db`), prefix);
  const redis = openRedis();
  const deps = await openProducerDeps(config);
  const reconcilerStore = await openStore(config);
  const worker = new SmqWorker({ config, queues: [CPU_QUEUE], concurrency: opts.concurrency, outputRoot: opts.workDir, logger: quietLogger, graceMs: 5000 });
  let completeUpdates = 0;
  let lastAppliedAt = 0;
  const reconciler = new Reconciler({
    store: reconcilerStore,
    redisUrl: REDIS_URL,
    prefix,
    queues: [CPU_QUEUE],
    logger: quietLogger,
    onApplied: (b) => {
      for (const u of b.updates) if (u.status === 'Complete') completeUpdates++;
      lastAppliedAt = performance.now();
    },
  });
  try {
    await worker.start();
    await reconciler.start();
    const chunk = opts.chunk ?? DEFAULT_CHUNK;
    const t0 = performance.now();
    for (let i = 0; i < opts.jobs; i += chunk) {
      const tasks = Array.from({ length: Math.min(chunk, opts.jobs - i) }, (_, k) => ({ taskType: 'noop', params: {}, taskId: `bench_noop_${i + k}` }));
      const r = await enqueueTasks(tasks, deps);
      if (!r.dispatched) throw new Error('bench: Redis refused an addBulk; the numbers would measure the ingest instead');
    }
    const enqueueMs = performance.now() - t0;
    // The reconciler's callback says when Complete updates have been committed; the table confirms it.
    const allComplete = async () => completeUpdates >= opts.jobs && (await reconcilerStore.countsByStatus()).Complete >= opts.jobs;
    await waitFor(allComplete, `${opts.jobs} smq rows to be Complete`, opts.timeoutMs ?? 180_000, 2);
    const ms = lastAppliedAt - t0;
    const counts = await reconcilerStore.countsByStatus();
    if (counts.Complete !== opts.jobs) throw new Error(`bench: expected ${opts.jobs} Complete rows, found ${JSON.stringify(counts)}`);
    const stats = reconciler.stats();
    return { ...side(opts.jobs, ms), enqueueSeconds: round(enqueueMs / 1000), lastSweepRepairs: (stats.lastSweep?.redispatched ?? 0) + (stats.lastSweep?.completed ?? 0), ingested: stats.ingested };
  } finally {
    await reconciler.stop().catch(() => {});
    await worker.close(5000).catch(() => {});
    await deps.close().catch(() => {});
    await reconcilerStore.close().catch(() => {});
    await dropPrefix(redis, prefix);
    redis.disconnect();
  }
}

/** Raw first, then smq, each on a fresh prefix; the ratio is smq / raw throughput. */
export async function benchDispatchThroughput(opts: DispatchBenchOptions): Promise<DispatchBenchResult> {
  const raw = await benchRawThroughput(opts);
  const smq = await benchSmqThroughput(opts);
  return { raw, smq };
}
