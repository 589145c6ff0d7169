import type { Redis } from 'ioredis';
import { smqKeys } from '../flows/queues.ts';
import { childKeyOfFailure, describeChildFailure, parseJobKey, type JobFacts } from './event-mapping.ts';

/**
 * Reads what the events stream does not carry from the job hashes, one pipeline per batch: the
 * worker name (`pb`), the attempt count (`atm`), and for a parent failed by a child the failed
 * descendant's own `failedReason`.
 */

export async function readJobFacts(redis: Redis, prefix: string, queue: string, jobIds: readonly string[]): Promise<Map<string, JobFacts>> {
  const out = new Map<string, JobFacts>();
  if (jobIds.length === 0) return out;
  const keys = smqKeys(prefix);
  const pipe = redis.pipeline();
  for (const id of jobIds) pipe.hmget(keys.job(queue, id), 'pb', 'atm', 'attemptsMade');
  const results = (await pipe.exec()) ?? [];
  jobIds.forEach((id, i) => {
    const [err, value] = results[i] ?? [null, null];
    if (err || !Array.isArray(value)) return;
    const [pb, atm, legacyAtm] = value as (string | null)[];
    const n = Number(atm ?? legacyAtm);
    out.set(id, { processedBy: pb ?? null, attemptsMade: (atm ?? legacyAtm) !== null && Number.isFinite(n) ? n : null });
  });
  return out;
}

const MAX_CHILD_DEPTH = 8;

/**
 * For each failed job whose reason is BullMQ's "child <key> failed", follows the chain of failed
 * children down to the one that failed on its own, and returns the message its row should carry.
 */
export async function resolveChildFailures(redis: Redis, failures: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [jobId, reason] of failures) {
    let childKey = childKeyOfFailure(reason);
    if (!childKey) continue;
    const chain: { jobId: string; reason: string | null }[] = [];
    for (let depth = 0; childKey && depth < MAX_CHILD_DEPTH; depth++) {
      const childReason = await redis.hget(childKey, 'failedReason');
      chain.push({ jobId: parseJobKey(childKey)?.jobId ?? childKey, reason: childReason });
      childKey = childKeyOfFailure(childReason);
    }
    out.set(jobId, describeChildFailure(chain));
  }
  return out;
}
