/**
 * Reconciler lag: job finished (the `completed` event's stream time, written by Redis) → its row
 * updated (the batch's commit returned), at a steady job rate, on real Redis and a SQLite file,
 * with the rows written and jobs added and run by another process (producer + worker), so the
 * reconciler's process does nothing else.
 *
 * Baseline, same events, same run: a bare XREAD BLOCK loop in its own process (`floor`), which
 * only notes when each `completed` entry reached it. On a shared machine most of the lag is
 * scheduling (Redis, then the reader, must get a core); the floor shows how much, and smq's own
 * cost is what it adds on top.
 *
 * Standalone: `node --import tsx bench/reconciler-lag.ts [rate] [seconds]` prints a table.
 * The same file, started with `--worker`, is that worker process, and with `--floor` the floor.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { resolveConfig } from '../src/core/config.ts';
import { openStore } from '../src/db/open-store.ts';
import { jobOptionsFor } from '../src/flows/job-options.ts';
import { Reconciler } from '../src/reconciler/reconciler.ts';
import { streamIdTimeMs } from '../src/reconciler/stream-ids.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const WARMUP_MS = 1000;

function redisConnection() {
  const u = new URL(REDIS_URL);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The worker and producer process: rows first, then jobs, at a steady rate, as smq's producers do. */
async function runWorkerAndProducer(prefix: string, dbFile: string, rate: number, seconds: number): Promise<void> {
  const store = await openStore(resolveConfig({ dbType: 'sqlite', dbFile }, {}));
  const worker = new Worker('cpu', async (job) => ({ output_location: `/bench/${job.id}.mp4` }), {
    connection: redisConnection(),
    prefix,
    name: 'bench-worker',
    concurrency: 64,
  });
  const queue = new Queue('cpu', { connection: redisConnection(), prefix });
  await worker.waitUntilReady();
  const total = Math.round(rate * seconds);
  const ids = Array.from({ length: total }, (_, i) => `lag-${i}`);
  const jobOpts = jobOptionsFor('noop');
  const start = Date.now();
  process.stdout.write(`start ${start}\n`);
  let sent = 0;
  // Every 10 ms, add however many jobs the clock says are due.
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * rate));
    if (due > sent) {
      await store.insertMany(ids.slice(sent, due).map((taskId) => ({ taskId, taskType: 'noop', params: {}, queueName: 'cpu' })));
      await queue.addBulk(ids.slice(sent, due).map((id) => ({ name: 'noop', data: { taskType: 'noop', params: {} }, opts: { ...jobOpts, jobId: id } })));
      sent = due;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  process.stdout.write('sent\n');
  process.on('SIGTERM', () => void Promise.all([worker.close(), queue.close(), store.close()]).then(() => process.exit(0)));
}

/** The floor process: XREAD BLOCK from the stream's start; on SIGTERM prints `<event ms> <lag ms>` per completed entry. */
async function runFloor(streamKey: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const seen: string[] = [];
  let id = '0-0';
  let stop = false;
  process.on('SIGTERM', () => {
    stop = true;
  });
  while (!stop) {
    const reply = (await redis.call('XREAD', 'COUNT', 500, 'BLOCK', 100, 'STREAMS', streamKey, id)) as [string, [string, string[]][]][] | null;
    const now = Date.now();
    for (const [, entries] of reply ?? []) {
      for (const [entryId, flat] of entries) {
        id = entryId;
        if (flat[flat.indexOf('event') + 1] === 'completed') seen.push(`${streamIdTimeMs(entryId)} ${now - streamIdTimeMs(entryId)}`);
      }
    }
  }
  redis.disconnect();
  process.stdout.write(`${seen.join('\n')}\n`, () => process.exit(0));
}

export interface ReconcilerLagResult {
  p50Ms: number;
  p99Ms: number;
  applied: number;
  /** The bare XREAD reader's lag for the same events (see the file comment). */
  floorP50Ms: number;
  floorP99Ms: number;
}

export async function benchReconcilerLag(opts: { rate: number; seconds: number; workDir: string }): Promise<ReconcilerLagResult> {
  const prefix = `{smqb-${randomBytes(4).toString('hex')}}`;
  const config = resolveConfig({ dbType: 'sqlite', dbFile: path.join(opts.workDir, 'lag.db') }, {});
  const store = await openStore(config);
  const redis = new Redis(REDIS_URL);
  const queue = new Queue('cpu', { connection: redisConnection(), prefix, skipMetasUpdate: true });
  const lags: number[] = [];
  let applied = 0;
  let measureFrom = Infinity;
  const reconciler = new Reconciler({
    store,
    redisUrl: REDIS_URL,
    prefix,
    queues: ['cpu'],
    logger: pino({ level: 'warn' }),
    onApplied: (b) => {
      for (const e of b.entries) {
        if (e.event !== 'completed') continue;
        applied++;
        const t = streamIdTimeMs(e.id);
        if (t >= measureFrom) lags.push(b.appliedAt - t);
      }
    },
  });
  const self = fileURLToPath(import.meta.url);
  const floor = spawn(process.execPath, ['--import', 'tsx', self, '--floor', `${prefix}:cpu:events`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let floorOut = '';
  floor.stdout!.on('data', (d: Buffer) => {
    floorOut += d.toString();
  });
  const floorDone = new Promise<void>((resolve) => floor.once('exit', () => resolve()));
  await reconciler.start();
  const total = Math.round(opts.rate * opts.seconds);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--worker', prefix, config.sqlitePath, String(opts.rate), String(opts.seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        const m = /start (\d+)/.exec(d.toString());
        if (m) measureFrom = Number(m[1]) + WARMUP_MS;
        if (d.toString().includes('sent')) resolve();
      });
      child.once('exit', (c) => reject(new Error(`bench worker exited (${c})`)));
    });
    const deadline = Date.now() + 30_000;
    while (applied < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    floor.kill('SIGTERM');
    await floorDone;
    const floorLags = floorOut
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ').map(Number) as [number, number])
      .filter(([t]) => t >= measureFrom)
      .map(([, lag]) => lag)
      .sort((a, b) => a - b);
    lags.sort((a, b) => a - b);
    return { p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), applied, floorP50Ms: percentile(floorLags, 50), floorP99Ms: percentile(floorLags, 99) };
  } finally {
    child.kill('SIGTERM');
    floor.kill('SIGTERM');
    await reconciler.stop();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    await store.close();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain && process.argv[2] === '--worker') {
  const [prefix, dbFile, rate, seconds] = process.argv.slice(3);
  await runWorkerAndProducer(prefix!, dbFile!, Number(rate), Number(seconds));
} else if (isMain && process.argv[2] === '--floor') {
  await runFloor(process.argv[3]!);
} else if (isMain) {
  const rate = Number(process.argv[2] ?? 1000);
  const seconds = Number(process.argv[3] ?? 10);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'smq-bench-lag-'));
  try {
    const r = await benchReconcilerLag({ rate, seconds, workDir });
    console.log(`reconciler lag (job finished → row updated), ${rate} jobs/s for ${seconds} s, SQLite + Redis`);
    console.log('| metric  | smq | floor (bare XREAD, same events) | target |');
    console.log('|---------|-----|--------------------------------|--------|');
    console.log(`| p50     | ${r.p50Ms} ms | ${r.floorP50Ms} ms | |`);
    console.log(`| p99     | ${r.p99Ms} ms | ${r.floorP99Ms} ms | ≤ 25 ms |`);
    console.log(`| applied | ${r.applied} completions | | ${Math.round(rate * seconds)} |`);
    console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
