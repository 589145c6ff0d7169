import type { Redis } from 'ioredis';
import type { SmqConfig } from '../core/config.ts';
import { resolveConfig } from '../core/config.ts';
import { createFailFastRedis, redisAnswers } from '../core/redis.ts';
import { Dispatcher } from '../flows/dispatch.ts';
import { openStore, type OpenStoreOptions } from '../db/open-store.ts';
import type { TaskStore } from '../db/task-store.ts';

/**
 * What producers need: the canonical store, and — when Redis answers — a dispatcher. `dispatcher:
 * null` is a normal state, not an error: rows are still written and the reconciler dispatches them
 * once Redis is back. `redis` (optional) is a plain command connection for cancel/retry bookkeeping;
 * control functions open a short-lived one from `config.redisUrl` when it is absent.
 */
export interface ProducerDeps {
  store: TaskStore;
  dispatcher: Dispatcher | null;
  config: SmqConfig;
  redis?: Redis | null;
}

export interface OpenedProducerDeps extends ProducerDeps {
  close(): Promise<void>;
}

export interface OpenProducerDepsOptions {
  /** How long to wait for Redis' PONG before treating it as down (default 1500 ms). */
  redisTimeoutMs?: number;
  store?: OpenStoreOptions;
}

/** Opens a fail-fast Redis connection for producers, or null when Redis does not answer. */
export async function openProducerRedis(url: string, timeoutMs = 1500): Promise<Redis | null> {
  if (!(await redisAnswers(url, timeoutMs))) return null;
  const redis = createFailFastRedis(url);
  // A producer must never crash on a dropped connection; the failing command itself reports it.
  redis.on('error', () => {});
  // Without an offline queue, a command sent before the connection is ready fails at once.
  if (redis.status !== 'ready') {
    const ready = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), Math.max(timeoutMs, 1500));
      redis.once('ready', () => (clearTimeout(t), resolve(true)));
      redis.once('end', () => (clearTimeout(t), resolve(false)));
    });
    if (!ready) {
      redis.disconnect();
      return null;
    }
  }
  return redis;
}

export async function openProducerDeps(config: SmqConfig = resolveConfig(), opts: OpenProducerDepsOptions = {}): Promise<OpenedProducerDeps> {
  const store = await openStore(config, opts.store);
  let redis: Redis | null = null;
  try {
    redis = await openProducerRedis(config.redisUrl, opts.redisTimeoutMs);
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  const dispatcher = redis ? new Dispatcher(redis, config.queuePrefix) : null;
  return {
    store,
    dispatcher,
    config,
    redis,
    async close() {
      await dispatcher?.close().catch(() => {});
      redis?.disconnect();
      await store.close();
    },
  };
}

/** Runs `fn` with the given deps, or with freshly opened ones that are closed afterwards. */
export async function withDeps<T>(deps: ProducerDeps | undefined, fn: (d: ProducerDeps) => Promise<T>): Promise<T> {
  if (deps) return fn(deps);
  const opened = await openProducerDeps();
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}
