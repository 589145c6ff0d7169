import type { Redis } from 'ioredis';
import { smqKeys } from '../flows/queues.ts';
import { childKeyOfFailure, describeChildFailure, parseJobKey, type JobFacts } from './event-mapping.ts';

/**
 * What the events stream does not carry, from the job hashes: the worker name (`pb`) and the
 * attempt count (`atm`), which the read script (stream-reader.ts) looks up with each batch, and
 * for a parent failed by a child the failed descendant's own `failedReason`.
 */

/** The job hash fields this module reads, in the order `factsFromHash` expects them. */
export const FACT_FIELDS = ['pb', 'atm', 'attemptsMade'] as const;

/** JobFacts from the values of FACT_FIELDS (null for a missing field or hash). */
export function factsFromHash([pb, atm, legacyAtm]: readonly (string | null | undefined)[]): JobFacts {
  const raw = atm ?? legacyAtm ?? null;
  const n = Number(raw);
  return { processedBy: pb ?? null, attemptsMade: raw !== null && Number.isFinite(n) ? n : null };
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
