import type { Command } from 'commander';
import { resolveConfig } from '../core/config.ts';
import { ValidationError } from '../core/errors.ts';
import { openStore } from '../db/open-store.ts';
import { Reconciler, type ReconcilerOptions } from './reconciler.ts';

/**
 * `smq reconcile`: keeps the tasks table true to BullMQ (events → rows, sweep, ingest of rows other
 * clients inserted). Several may run at once; one leads the sweep and ingest.
 */

interface ReconcileFlags {
  dbFile?: string;
  redisUrl?: string;
  prefix?: string;
  sweepInterval?: string;
  batchSize?: string;
  once?: boolean;
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ValidationError(flag, `must be a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}

export function reconcilerOptionsFromFlags(flags: ReconcileFlags): Omit<ReconcilerOptions, 'store'> {
  const sweepSeconds = flags.sweepInterval === undefined ? undefined : Number(flags.sweepInterval);
  if (sweepSeconds !== undefined && (!Number.isFinite(sweepSeconds) || sweepSeconds <= 0)) {
    throw new ValidationError('--sweep-interval', `must be a positive number of seconds (e.g. 5), got ${JSON.stringify(flags.sweepInterval)}`);
  }
  return {
    sweepIntervalMs: sweepSeconds === undefined ? undefined : Math.max(1, Math.round(sweepSeconds * 1000)),
    batchSize: positiveInt(flags.batchSize, '--batch-size'),
  };
}

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description('Apply BullMQ events to the tasks table, sweep table vs Redis, and dispatch rows other clients inserted; stops cleanly on SIGTERM/SIGINT')
    .option('--db-file <path>', 'SQLite database file (DB_TYPE=sqlite)')
    .option('--redis-url <url>', 'Redis URL (default REDIS_URL or redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'BullMQ key prefix (default SMQ_QUEUE_PREFIX or {smq})')
    .option('--sweep-interval <seconds>', 'seconds between sweeps of table vs Redis', '5')
    .option('--batch-size <n>', 'events read and applied per transaction per queue', '500')
    .option('--once', 'one sweep, ingest everything waiting, apply every pending event, then exit')
    .action(async (flags: ReconcileFlags) => {
      const options = reconcilerOptionsFromFlags(flags);
      const config = resolveConfig({ dbFile: flags.dbFile, redisUrl: flags.redisUrl, queuePrefix: flags.prefix });
      const store = await openStore(config);
      const reconciler = new Reconciler({ ...options, store, redisUrl: config.redisUrl, prefix: config.queuePrefix });
      try {
        if (flags.once) {
          const stats = await reconciler.runOnce();
          process.stdout.write(`${JSON.stringify(stats)}\n`);
          return;
        }
        await runUntilSignal(reconciler);
      } finally {
        await store.close();
      }
    });
}

/** Runs until the first SIGTERM/SIGINT, then finishes the batch in hand and stops; a second signal exits at once. */
async function runUntilSignal(reconciler: Reconciler): Promise<void> {
  await reconciler.start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) process.exit(130);
      stopping = true;
      reconciler.stop().then(resolve, resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
