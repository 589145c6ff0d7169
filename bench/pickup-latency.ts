/**
 * Pickup latency: enqueue → handler starts, on an idle worker, one task at a time.
 *
 * - smq:     `enqueueTask('noop')` (row insert + dispatch) → SmqWorker running a probe noop.
 * - raw:     `queue.add` → a BullMQ Worker's processor.
 * - polling: a row insert → a loop that claims from the table the seed's way (`store.claim`,
 *            sleeping `pollIntervalMs` when nothing is queued). The enqueue lands at a random
 *            point of the poll cycle, as real submissions do.
 * Between tasks each side waits for the previous one to finish and the worker to go idle.
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { SmqWorker } from '../src/consumers/worker.ts';
import { openStore } from '../src/db/open-store.ts';
import { CPU_QUEUE } from '../src/flows/queues.ts';
import { enqueueTask, openProducerDeps } from '../src/producers/api.ts';
import { setProbeHook } from './probe-handlers.ts';
import { benchConfig, benchPrefix, deferred, dropPrefix, openRedis, quietLogger, sleep, summarize, waitFor, type LatencySummary } from './support.ts';

export interface PickupBenchOptions {
  /** Sequential tasks for smq and raw BullMQ. */
  tasks: number;
  /** Sequential tasks for the polling worker (each costs about one poll interval). */
  pollTasks: number;
  pollIntervalMs: number;
  workDir: string;
}

export interface PickupBenchResult {
  smq: LatencySummary;
  raw: LatencySummary;
  polling: LatencySummary & { pollIntervalMs: number };
}

/** Lets the worker finish its bookkeeping and block for the next job, so every pickup is from idle. */
const IDLE_GAP_MS = 10;
const PROBE_PLUGIN = fileURLToPath(new URL('./probe-handlers.ts', import.meta.url));

export async function benchSmqPickup(opts: Pick<PickupBenchOptions, 'tasks' | 'workDir'>): Promise<LatencySummary> {
  const prefix = benchPrefix('smq-pickup');
  const config = benchConfig(path.join(opts.workDir, `pickup-${prefix.slice(1, -1)}.db`), prefix);
  const redis = openRedis();
  const deps = await openProducerDeps(config);
  const worker = new SmqWorker({ config, queues: [CPU_QUEUE], concurrency: 1, outputRoot: opts.workDir, logger: quietLogger, plugins: [PROBE_PLUGIN], graceMs: 5000 });
  const queue = new Queue(CPU_QUEUE, { connection: redis, prefix });
  const started = new Map<string, ReturnType<typeof deferred<number>>>();
  setProbeHook((taskId, at) => started.get(taskId)?.resolve(at));
  try {
    await worker.start();
    const samples: number[] = [];
    for (let i = -5; i < opts.tasks; i++) {
      const taskId = `bench_pickup_${i + 5}`;
      const d = deferred<number>();
      started.set(taskId, d);
      const t0 = performance.now();
      await enqueueTask('noop', {}, deps, { taskId });
      const at = await d.promise;
      // The first few warm up the JIT and connections on both sides; they are not counted.
      if (i >= 0) samples.push(at - t0);
      await waitFor(async () => (await queue.getJobState(taskId)) === 'completed', `smq job ${taskId} to complete`, 30_000, 1);
      await sleep(IDLE_GAP_MS);
    }
    return summarize(samples);
  } finally {
    setProbeHook(undefined);
    await worker.close(5000).catch(() => {});
    await queue.close();
    await deps.close().catch(() => {});
    await dropPrefix(redis, prefix);
    redis.disconnect();
  }
}

export async function benchRawPickup(opts: Pick<PickupBenchOptions, 'tasks'>): Promise<LatencySummary> {
  const prefix = benchPrefix('raw-pickup');
  const redis = openRedis();
  const workerConn = openRedis();
  const queue = new Queue('noop', { connection: redis, prefix });
  let current: { id: string; d: ReturnType<typeof deferred<number>> } | null = null;
  const worker = new Worker(
    'noop',
    async (job) => {
      const at = performance.now();
      if (current && job.id === current.id) current.d.resolve(at);
      return null;
    },
    { connection: workerConn, prefix, concurrency: 1 },
  );
  worker.on('error', () => {});
  try {
    await worker.waitUntilReady();
    const samples: number[] = [];
    for (let i = -5; i < opts.tasks; i++) {
      const id = `raw_pickup_${i + 5}`;
      current = { id, d: deferred<number>() };
      const t0 = performance.now();
      await queue.add('noop', {}, { jobId: id });
      const at = await current.d.promise;
      if (i >= 0) samples.push(at - t0);
      await waitFor(async () => (await queue.getJobState(id)) === 'completed', `raw job ${id} to complete`, 30_000, 1);
      await sleep(IDLE_GAP_MS);
    }
    return summarize(samples);
  } finally {
    await worker.close();
    await queue.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    workerConn.disconnect();
  }
}

/** The seed's worker loop on smq's own store: claim the oldest Queued row, or sleep a poll interval. */
export async function benchPollingPickup(opts: Pick<PickupBenchOptions, 'pollTasks' | 'pollIntervalMs' | 'workDir'>): Promise<LatencySummary> {
  const config = benchConfig(path.join(opts.workDir, `polling-${randomInt(1e9)}.db`), '{unused}');
  const store = await openStore(config);
  const startedAt = new Map<string, number>();
  let stop = false;
  const poller = (async () => {
    while (!stop) {
      const row = await store.claim('bench-poller');
      if (!row) {
        await sleep(opts.pollIntervalMs);
        continue;
      }
      startedAt.set(row.taskId, performance.now());
      await store.transition({ taskId: row.taskId, status: 'Complete', outputLocation: null });
    }
  })();
  try {
    const samples: number[] = [];
    for (let i = 0; i < opts.pollTasks; i++) {
      const taskId = `poll_pickup_${i}`;
      await sleep(randomInt(opts.pollIntervalMs));
      const t0 = performance.now();
      await store.insert({ taskId, taskType: 'noop', params: {} });
      await waitFor(() => startedAt.has(taskId), `polling worker to claim ${taskId}`, opts.pollIntervalMs * 5 + 5000, 1);
      samples.push(startedAt.get(taskId)! - t0);
    }
    return summarize(samples);
  } finally {
    stop = true;
    await poller;
    await store.close();
  }
}

export async function benchPickupLatency(opts: PickupBenchOptions): Promise<PickupBenchResult> {
  const raw = await benchRawPickup(opts);
  const smq = await benchSmqPickup(opts);
  const polling = await benchPollingPickup(opts);
  return { smq, raw, polling: { ...polling, pollIntervalMs: opts.pollIntervalMs } };
}
