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

/**
 * Attempts and backoff for tasks that run as flow children (planned by an orchestrator).
 *
 * - travel_segment: a GPU generation; OOM and driver hiccups pass, so 3 attempts, exponential from 5 s.
 * - standard_wgp_task / generate_openpose: the same reasoning as segments (the defaults).
 * - travel_stitch, different_pose_guide, different_pose_finalize: CPU/ffmpeg work that is nearly
 *   deterministic; one retry covers a shared mount that blinked, more would only delay the failure.
 */
const FLOW_CHILD_PER_TYPE: Record<string, JobsOptions> = {
  travel_segment: { attempts: 3, backoff: { type: 'exponential', delay: 5000 } },
  travel_stitch: { attempts: 2, backoff: { type: 'fixed', delay: 5000 } },
  different_pose_guide: { attempts: 2, backoff: { type: 'fixed', delay: 2000 } },
  different_pose_finalize: { attempts: 2, backoff: { type: 'fixed', delay: 2000 } },
};

/**
 * Options of a flow child. The failure option is chosen deliberately (bullmq-facts §2):
 *
 * - `failParentOnFailure`: after the child's LAST attempt its failure moves the parent to a
 *   deferred failure ("child <key> failed") without running it, and that propagates up the
 *   chain (every node has it) to the orchestrator, so a failed segment fails its run. Siblings
 *   keep running and finish on their own.
 * - not `continueParentOnFailure` (wakes the parent at once, with siblings still pending), not
 *   `ignoreDependencyOnFailure` / `removeDependencyOnFailure` (the stitch would run without a
 *   segment and deliver a video with a jump), and never none (the parent would wait forever).
 * - `removeOnFail: false` is required, not just convenient: a child deleted on failure drops its
 *   dependency and the parent proceeds as if it had succeeded. The failed job also keeps the
 *   reason that `rootCauseOfFailure` follows.
 */
export function flowChildOptionsFor(taskType: string): JobsOptions {
  return { ...jobOptionsFor(taskType), ...(FLOW_CHILD_PER_TYPE[taskType] ?? {}), failParentOnFailure: true, removeOnFail: false };
}
