/**
 * Memory: the RSS of an idle `smq worker` process (vs the smallest BullMQ worker on the same
 * queues), and the Redis bytes one queued task costs (smq's producer vs a raw `addBulk` of
 * empty jobs), both on paused queues under private prefixes.
 *
 * Redis bytes are measured two ways: the sum of MEMORY USAGE over the bench's own keys (exact, and
 * blind to whatever else the shared Redis is doing) and the INFO `used_memory` delta (includes
 * allocator overhead, but moves with every other client of the server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { CPU_QUEUE } from '../src/flows/queues.ts';
import { enqueueTask, openProducerDeps } from '../src/producers/api.ts';
import { benchConfig, benchPrefix, dropPrefix, inPool, openRedis, prefixBytes, REDIS_URL, round, sleep, usedMemory } from './support.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export interface IdleRssResult {
  smqMB: number;
  rawMB: number;
  settleSeconds: { smq: number; raw: number };
}

export interface RedisBytesResult {
  tasks: number;
  smq: { bytesPerTask: number; usedMemoryPerTask: number };
  raw: { bytesPerTask: number; usedMemoryPerTask: number };
}

async function rssKB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : 0;
}

/** RSS of a process and its descendants (a worker's helpers count against the machine too). */
async function treeRssKB(pid: number): Promise<number> {
  let total = await rssKB(pid);
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const tid of tasks) {
    const kids = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    for (const k of kids.trim().split(/\s+/).filter(Boolean)) total += await treeRssKB(Number(k));
  }
  return total;
}

function waitForOutput(child: ChildProcess, needle: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`bench: process ${child.pid} did not print ${needle} within ${timeoutMs} ms; output so far:\n${seen.slice(-2000)}`)), timeoutMs);
    const onData = (b: Buffer) => {
      seen += b.toString();
      if (needle.test(seen)) done();
    };
    const onExit = (code: number | null) => done(new Error(`bench: process exited (code ${code}) before printing ${needle}; output:\n${seen.slice(-2000)}`));
    function done(err?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
  });
}

/** Samples RSS every 250 ms until 2 s of samples stay within 2 % (or `maxMs` passes). */
async function settledRssMB(pid: number, maxMs: number): Promise<{ mb: number; seconds: number }> {
  const t0 = Date.now();
  const window: number[] = [];
  for (;;) {
    window.push(await treeRssKB(pid));
    if (window.length > 8) window.shift();
    const lo = Math.min(...window);
    const hi = Math.max(...window);
    if ((window.length === 8 && hi - lo <= hi * 0.02) || Date.now() - t0 > maxMs) {
      return { mb: round(window[window.length - 1]! / 1024, 1), seconds: round((Date.now() - t0) / 1000, 1) };
    }
    await sleep(250);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(killTimer);
}

export async function benchIdleWorkerRss(opts: { workDir: string; maxSettleMs?: number }): Promise<IdleRssResult> {
  const redis = openRedis();
  const smqPrefix = benchPrefix('smq-idle');
  const rawPrefix = benchPrefix('raw-idle');
  const env = { ...process.env, REDIS_URL, DB_TYPE: 'sqlite', SMQ_LOG_LEVEL: 'info' };
  const children: ChildProcess[] = [];
  try {
    const smq = spawn(
      process.execPath,
      [path.join(REPO, 'bin/smq.js'), 'worker', '--db-file', path.join(opts.workDir, 'idle-worker.db'), '--main-output-dir', path.join(opts.workDir, 'idle-out')],
      { cwd: opts.workDir, env: { ...env, SMQ_QUEUE_PREFIX: smqPrefix }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(smq);
    await waitForOutput(smq, /worker started/, 60_000);
    const smqRss = await settledRssMB(smq.pid!, opts.maxSettleMs ?? 20_000);

    const raw = spawn(process.execPath, [path.join(REPO, 'bench/raw-idle-worker.mjs')], {
      cwd: REPO,
      env: { ...env, SMQ_QUEUE_PREFIX: rawPrefix, BENCH_QUEUES: `${CPU_QUEUE},gpu-onnx` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(raw);
    await waitForOutput(raw, /ready/, 60_000);
    const rawRss = await settledRssMB(raw.pid!, opts.maxSettleMs ?? 20_000);
    return { smqMB: smqRss.mb, rawMB: rawRss.mb, settleSeconds: { smq: smqRss.seconds, raw: rawRss.seconds } };
  } finally {
    await Promise.all(children.map(stop));
    await dropPrefix(redis, smqPrefix);
    await dropPrefix(redis, rawPrefix);
    redis.disconnect();
  }
}

async function measureQueued(prefix: string, tasks: number, enqueue: () => Promise<void>): Promise<{ bytesPerTask: number; usedMemoryPerTask: number }> {
  const redis = openRedis();
  const queue = new Queue(CPU_QUEUE, { connection: redis, prefix });
  try {
    // Paused: nothing consumes, so every task stays `waiting` with its hash and list entry.
    await queue.pause();
    const keysBefore = await prefixBytes(redis, prefix);
    const usedBefore = await usedMemory(redis);
    await enqueue();
    const usedAfter = await usedMemory(redis);
    const keysAfter = await prefixBytes(redis, prefix);
    const waiting = await queue.getWaitingCount();
    if (waiting !== tasks) throw new Error(`bench: expected ${tasks} waiting jobs under ${prefix}, found ${waiting}`);
    return { bytesPerTask: round((keysAfter - keysBefore) / tasks, 1), usedMemoryPerTask: round((usedAfter - usedBefore) / tasks, 1) };
  } finally {
    await queue.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  }
}

export async function benchRedisBytesPerTask(opts: { tasks: number; workDir: string }): Promise<RedisBytesResult> {
  const rawPrefix = benchPrefix('raw-bytes');
  const rawConn = openRedis();
  const rawQueue = new Queue(CPU_QUEUE, { connection: rawConn, prefix: rawPrefix });
  const raw = await measureQueued(rawPrefix, opts.tasks, async () => {
    for (let i = 0; i < opts.tasks; i += 1000) {
      await rawQueue.addBulk(Array.from({ length: Math.min(1000, opts.tasks - i) }, () => ({ name: 'noop', data: {} })));
    }
  });
  await rawQueue.close();
  rawConn.disconnect();

  const smqPrefix = benchPrefix('smq-bytes');
  const deps = await openProducerDeps(benchConfig(path.join(opts.workDir, `bytes-${smqPrefix.slice(1, -1)}.db`), smqPrefix));
  try {
    const ids = Array.from({ length: opts.tasks }, (_, i) => `bench_bytes_${i}`);
    const smq = await measureQueued(smqPrefix, opts.tasks, async () => {
      let undispatched = 0;
      await inPool(ids, 64, async (taskId) => {
        const r = await enqueueTask('noop', {}, deps, { taskId });
        if (!r.dispatched) undispatched++;
      });
      if (undispatched) throw new Error(`bench: ${undispatched} smq tasks were not dispatched (Redis unreachable?)`);
    });
    return { tasks: opts.tasks, smq, raw };
  } finally {
    await deps.close();
  }
}
