import type { Queue } from 'bullmq';

/**
 * Why a run failed, in words a user can act on.
 *
 * With `failParentOnFailure` a parent fails without running, and BullMQ's reason is only
 * "child <prefix>:<queue>:<id> failed" — for a travel orchestrator that names the stitch, whose
 * own reason names the failed segment. Whoever writes the orchestrator row's `error_message`
 * (the reconciler, on the `failed` event) follows that chain down to the job that really failed
 * and writes `describeFailure(cause)`, e.g.
 *   "travel_seg_<run>_01 failed: CUDA out of memory (via travel_stitch_<run>)".
 */

const CHILD_FAILED = /^child (.+) failed$/;

/** The failed child named by a deferred-failure reason, or null if the reason is the job's own. */
export function parseFailedChild(reason: string | null | undefined, prefix: string): { queueName: string; jobId: string } | null {
  const m = CHILD_FAILED.exec((reason ?? '').trim());
  if (!m) return null;
  const key = m[1];
  if (!key.startsWith(`${prefix}:`)) return null;
  // Job ids never contain ':' (BullMQ forbids it), so the id is after the last colon.
  const rest = key.slice(prefix.length + 1);
  const cut = rest.lastIndexOf(':');
  if (cut <= 0) return null;
  return { queueName: rest.slice(0, cut), jobId: rest.slice(cut + 1) };
}

export interface FailureCause {
  /** The job that really failed (the end of the chain). */
  taskId: string;
  queueName: string;
  reason: string;
  /** Task ids from the job asked about down to the cause, excluding the cause. */
  via: string[];
}

/**
 * Follows "child … failed" reasons down to the job that failed on its own. Stops (and reports the
 * last reason seen) when a child job is gone from Redis.
 */
export async function rootCauseOfFailure(
  queues: { queue(name: string): Queue; readonly prefix: string },
  start: { taskId: string; queueName: string; failedReason: string | null | undefined },
): Promise<FailureCause> {
  let current = { taskId: start.taskId, queueName: start.queueName, reason: start.failedReason ?? '' };
  const via: string[] = [];
  for (let depth = 0; depth < 64; depth++) {
    const child = parseFailedChild(current.reason, queues.prefix);
    if (!child) break;
    const job = await queues.queue(child.queueName).getJob(child.jobId);
    via.push(current.taskId);
    if (!job) {
      current = { taskId: child.jobId, queueName: child.queueName, reason: '(job no longer in Redis; see its row)' };
      break;
    }
    current = { taskId: child.jobId, queueName: child.queueName, reason: job.failedReason ?? '' };
  }
  return { ...current, via };
}

export function describeFailure(cause: FailureCause): string {
  const path = cause.via.length > 1 ? ` (via ${cause.via.slice(1).join(' ← ')})` : '';
  return `${cause.taskId} failed: ${cause.reason}${path}`;
}
