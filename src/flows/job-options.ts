import type { JobsOptions } from 'bullmq';

/**
 * Job options per task type, each chosen on purpose.
 *
 * - attempts/backoff: GPU steps fail transiently (OOM, a driver hiccup), so they get 3 attempts
 *   with exponential backoff; validation failures throw UnrecoverableError and skip retries.
 * - removeOnComplete: finished jobs are dropped after an hour (the table is the record), which keeps
 *   Redis memory flat; idempotency therefore checks canonical rows, not just job ids.
 * - removeOnFail: kept, so `smq retry` and the dashboard can see why a job failed.
 */
const DEFAULTS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 3600, count: 10000 },
  removeOnFail: false,
};

const PER_TYPE: Record<string, JobsOptions> = {
  // Planning is cheap and deterministic; a retry re-plans from the canonical rows.
  travel_orchestrator: { attempts: 3, backoff: { type: 'fixed', delay: 1000 } },
  different_pose_orchestrator: { attempts: 3, backoff: { type: 'fixed', delay: 1000 } },
};

export function jobOptionsFor(taskType: string): JobsOptions {
  return { ...DEFAULTS, ...(PER_TYPE[taskType] ?? {}) };
}
