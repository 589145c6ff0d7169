/**
 * Shared plumbing of the benchmarks: private key prefixes, cleanup, timing and statistics.
 * Every bench works under its own `{smqb-…}` prefix on the shared Redis and deletes it afterwards,
 * so a bench never touches another user's keys (or a test's) and leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { resolveConfig, type SmqConfig } from '../src/core/config.ts';
import { createRedis } from '../src/core/redis.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A hash-tagged prefix nobody else uses; the braces keep a bench's flow family in one cluster slot. */
export function benchPrefix(name: string): string {
  return `{smqb-${name}-${randomBytes(4).toString('hex')}}`;
}

/** Deletes every key under `prefix` (SCAN + UNLINK: never KEYS, never FLUSHDB on a shared Redis). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}:*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

/** Sum of MEMORY USAGE over every key under `prefix`: what this bench stores, whatever else Redis holds. */
export async function prefixBytes(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let total = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}:*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length) {
      const pipe = redis.pipeline();
      // SAMPLES 0 walks every element: exact, and these keys are small enough for it.
      for (const k of keys) pipe.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
      for (const [err, v] of (await pipe.exec()) ?? []) if (!err && typeof v === 'number') total += v;
    }
  } while (cursor !== '0');
  return total;
}

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const m = /used_memory:(\d+)/.exec(info);
  return m ? Number(m[1]) : NaN;
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export function openRedis(): Redis {
  const r = createRedis(REDIS_URL);
  r.on('error', () => {});
  return r;
}

/** smq configuration for a bench: a SQLite file of its own and a private prefix; nothing from `.env`. */
export function benchConfig(sqlitePath: string, prefix: string): SmqConfig {
  return resolveConfig({ dbType: 'sqlite', dbFile: sqlitePath, queuePrefix: prefix, redisUrl: REDIS_URL }, {});
}

export const quietLogger: Logger = pino({ level: 'warn' }, pino.destination(2));

export async function makeWorkDir(name: string, parent = os.tmpdir()): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(parent, `smq-bench-${name}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank: p99 of 200 samples is the 198th, a value that was really observed.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface LatencySummary {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarize(samplesMs: readonly number[]): LatencySummary {
  return { n: samplesMs.length, p50Ms: round(percentile(samplesMs, 50)), p99Ms: round(percentile(samplesMs, 99)), maxMs: round(Math.max(...samplesMs)) };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Polls `cond` until it is true; throws with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000, intervalMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A promise with its resolve exposed, for "the handler has started" signals. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Runs `fn` over `items` with at most `limit` in flight (how a user enqueues many tasks with a per-task API). */
export async function inPool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
}
