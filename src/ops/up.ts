import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SmqConfig } from '../core/config.ts';
import { createRedis } from '../core/redis.ts';
import { openStore } from '../db/open-store.ts';
import type { TaskStore } from '../db/task-store.ts';
import { SmqWorker, type SmqWorkerOptions } from '../consumers/worker.ts';
import { Reconciler, type ReconcilerOptions } from '../reconciler/reconciler.ts';
import type { DashboardAuth } from './dashboard/auth.ts';
import { startDashboard, type RunningDashboard } from './dashboard/server.ts';

/**
 * `smq up`: a worker, the reconciler and the dashboard in one process, for a single machine and
 * for the demo. The reconciler and dashboard share one store and one Redis connection; the worker
 * keeps its own (BullMQ workers block on their connections).
 */
export interface UpOptions {
  config: SmqConfig;
  worker?: Omit<SmqWorkerOptions, 'config'>;
  reconciler?: Omit<ReconcilerOptions, 'store' | 'redisUrl' | 'prefix' | 'connection'>;
  host?: string;
  /** 0 picks a free port. @defaultValue 3000 */
  port?: number;
  auth?: DashboardAuth;
  logger?: Logger;
  log?: (line: string) => void;
}

export interface UpHandle {
  dashboard: RunningDashboard;
  worker: SmqWorker;
  reconciler: Reconciler;
  store: TaskStore;
  /** Stops intake first (dashboard, worker with its grace), then the reconciler so it applies the last events. */
  close(graceMs?: number): Promise<void>;
}

export async function startUp(opts: UpOptions): Promise<UpHandle> {
  const { config } = opts;
  const stack: (() => Promise<void>)[] = [];
  const unwind = async () => {
    for (const fn of stack.reverse()) await fn().catch(() => {});
  };
  try {
    const store = await openStore(config);
    stack.push(() => store.close());
    const connection: Redis = createRedis(config.redisUrl);
    connection.on('error', () => {});
    stack.push(async () => void connection.disconnect());

    const reconciler = new Reconciler({ ...opts.reconciler, store, connection, redisUrl: config.redisUrl, prefix: config.queuePrefix, logger: opts.logger });
    await reconciler.start();
    stack.push(() => reconciler.stop());

    const worker = new SmqWorker({ ...opts.worker, config, logger: opts.logger ?? opts.worker?.logger });
    await worker.start();
    stack.push(() => worker.close());

    const dashboard = await startDashboard({ config, host: opts.host, port: opts.port, auth: opts.auth, store, connection, log: opts.log });
    stack.push(() => dashboard.close());

    let closing: Promise<void> | null = null;
    return {
      dashboard,
      worker,
      reconciler,
      store,
      close(graceMs?: number) {
        closing ??= (async () => {
          await dashboard.close().catch(() => {});
          await worker.close(graceMs).catch(() => {});
          await reconciler.stop().catch(() => {});
          connection.disconnect();
          await store.close().catch(() => {});
        })();
        return closing;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** Resolves once SIGTERM or SIGINT arrives; a second signal exits at once. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.once('SIGTERM', () => process.exit(130));
      process.once('SIGINT', () => process.exit(130));
      resolve(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
