import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FlowProducer, Worker, type Job, type Processor } from 'bullmq';
import pino from 'pino';
import { resolveConfig } from '../../src/core/config.ts';
import { createRedis } from '../../src/core/redis.ts';
import type { JobData, JobResult } from '../../src/core/types.ts';
import type { EngineRegistry } from '../../src/consumers/engines/engine.ts';
import type { HandlerContext, OutputStorage, TaskHandler } from '../../src/consumers/handlers/types.ts';
import type { TaskStore } from '../../src/db/task-store.ts';
import { Dispatcher } from '../../src/flows/dispatch.ts';
import { createFlowControl } from '../../src/flows/flow-control.ts';
import { createTestStore, type TestStoreKind } from '../support/stores.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * One isolated world per test: a fresh BullMQ prefix, a fresh store, a temp dir, and workers that
 * run real handlers with a HandlerContext built here (the worker runtime is another area's).
 * The workers also write the row transitions the real worker/reconciler would.
 */
export class FlowHarness {
  readonly prefix = `{smqt-${randomBytes(5).toString('hex')}}`;
  readonly redis = createRedis(REDIS_URL);
  readonly dispatcher = new Dispatcher(this.redis, this.prefix);
  readonly flowProducer = new FlowProducer({ connection: this.redis, prefix: this.prefix });
  private readonly workers: Worker[] = [];
  readonly log = pino({ level: 'silent' });

  private constructor(
    readonly store: TaskStore,
    readonly dir: string,
    private readonly cleanupStore: () => Promise<void>,
  ) {}

  static async create(kind: TestStoreKind): Promise<FlowHarness> {
    const ts = await createTestStore(kind);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-flows-'));
    return new FlowHarness(ts.store, dir, ts.cleanup);
  }

  context(job: Job, token: string | undefined, handlerTaskType: string): HandlerContext {
    const data = job.data as JobData;
    const refuse = (what: string) => () => {
      throw new Error(`${what} is not available in the flows harness`);
    };
    return {
      taskId: job.id!,
      taskType: handlerTaskType,
      runId: data.runId ?? null,
      parentTaskId: data.parentTaskId ?? null,
      attemptsMade: job.attemptsMade,
      outputRoot: this.dir,
      signal: new AbortController().signal,
      log: this.log,
      progress: async () => {},
      store: this.store,
      engines: { get: refuse('engines'), names: () => [], close: async () => {} } as unknown as EngineRegistry,
      outputs: {
        publish: async (p: string) => p,
        resolve: async (ref: string) => ref,
      } satisfies OutputStorage,
      children: async () => {
        const out: Record<string, JobResult> = {};
        for (const [k, v] of Object.entries(await job.getChildrenValues())) out[k.slice(k.lastIndexOf(':') + 1)] = v as JobResult;
        return out;
      },
      flow: createFlowControl(job, token, { store: this.store, flowProducer: this.flowProducer, queues: this.dispatcher }),
      config: resolveConfig({ dbType: 'sqlite' }, {}),
      debug: false,
    };
  }

  /** A worker on `queue` that runs `handlers` by task type; other types go to `fallback`. */
  startWorker(queue: string, handlers: TaskHandler<any>[], fallback?: Processor): Worker {
    const byType = new Map(handlers.map((h) => [h.taskType, h]));
    const worker = new Worker(
      queue,
      async (job: Job, token?: string) => {
        const data = job.data as JobData;
        await this.store.transition({ taskId: job.id!, status: 'In Progress' });
        const handler = byType.get(data.taskType);
        let result: JobResult;
        if (handler) {
          const params = handler.schema.parse(data.params);
          result = await handler.run(params, this.context(job, token, data.taskType));
        } else if (fallback) {
          result = await fallback(job, token);
        } else {
          throw new Error(`no handler for ${data.taskType} in this test`);
        }
        await this.store.transition({ taskId: job.id!, status: 'Complete', outputLocation: result.output_location });
        return result;
      },
      { connection: this.redis, prefix: this.prefix, concurrency: 2, stalledInterval: 5000, lockDuration: 10000 },
    );
    worker.on('failed', (job) => {
      if (job && job.finishedOn) void this.store.transition({ taskId: job.id!, status: 'Failed', errorMessage: job.failedReason }).catch(() => {});
    });
    worker.on('error', () => {});
    this.workers.push(worker);
    return worker;
  }

  async jobIds(queue: string): Promise<string[]> {
    const jobs = await this.dispatcher.queue(queue).getJobs(['waiting', 'waiting-children', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
    return jobs.map((j) => j.id!).sort();
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.close(true)));
  }

  /** Deletes every key under the prefix: Redis "lost everything". */
  async flushPrefix(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await this.redis.del(...keys);
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    await this.stopWorkers();
    await this.flushPrefix();
    await this.flowProducer.close();
    await this.dispatcher.close();
    this.redis.disconnect();
    await this.cleanupStore();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
