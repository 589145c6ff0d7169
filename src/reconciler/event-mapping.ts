import type { TaskStatus, TaskUpdate } from '../core/types.ts';
import { streamIdTimeMs } from './stream-ids.ts';

/**
 * BullMQ events-stream entries → monotonic row updates (bullmq-facts §5). Pure: whatever the stream
 * does not carry (the worker name, the attempt count, a failed child's own reason) is looked up by
 * the caller for the entries `needsFacts` names, and passed in as `JobFacts`.
 *
 * Why events for one job are coalesced here: at thousands of jobs per second each job emits
 * added/active/progress/completed within one batch, and one UPDATE per job instead of four is what
 * keeps the table up with the queue. The store's monotonic rules still decide against the row as
 * stored; coalescing only has to avoid inventing a backwards move inside the batch.
 */

export interface StreamEntry {
  id: string;
  event: string;
  fields: Record<string, string>;
}

/** What the job hash says, read once per batch with a pipelined HMGET. Null when the hash is gone. */
export interface JobFacts {
  processedBy: string | null;
  attemptsMade: number | null;
}

export interface MapInput {
  entries: StreamEntry[];
  facts: ReadonlyMap<string, JobFacts>;
  /** failedReason as it should be written, for `failed` entries whose reason names a failed child. */
  resolvedFailures?: ReadonlyMap<string, string>;
}

/** A flat XREAD entry (`[k1, v1, k2, v2, …]`) as an object; `event` is BullMQ's own field. */
export function parseStreamEntry(id: string, flat: readonly string[]): StreamEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return { id, event: fields.event ?? '', fields };
}

/**
 * Which entries need their job hash read: the rule is data so the read script (stream-reader.ts),
 * which looks the facts up inside Redis, and `jobIdsNeedingFacts` apply the very same one.
 */
export const FACT_RULE = {
  /** Events whose update needs the job hash whatever their `prev`. */
  always: ['active', 'failed'],
  /** Events that need it only when they come from `active` (a retry or a stall). */
  afterActive: ['delayed', 'waiting'],
} as const;

function isRetryOrStall(e: StreamEntry): boolean {
  return (FACT_RULE.afterActive as readonly string[]).includes(e.event) && e.fields.prev === 'active';
}

/** True when this entry's update needs its job hash (worker name, attempts) to be mapped. */
export function needsFacts(e: StreamEntry): boolean {
  return (FACT_RULE.always as readonly string[]).includes(e.event) || isRetryOrStall(e);
}

const CHILD_FAILED = /^child (.+) failed$/;

/** The child job key in BullMQ's failParentOnFailure reason ("child <prefix>:<queue>:<id> failed"), else null. */
export function childKeyOfFailure(reason: string | undefined | null): string | null {
  const m = reason ? CHILD_FAILED.exec(reason.trim()) : null;
  return m ? m[1]! : null;
}

/** Splits `<prefix>:<queue>:<id>`; the prefix may itself hold colons, ids and queue names may not. */
export function parseJobKey(key: string): { prefix: string; queue: string; jobId: string } | null {
  const last = key.lastIndexOf(':');
  const prev = last > 0 ? key.lastIndexOf(':', last - 1) : -1;
  if (last <= 0 || prev <= 0) return null;
  return { prefix: key.slice(0, prev), queue: key.slice(prev + 1, last), jobId: key.slice(last + 1) };
}

/**
 * The message a run's row gets when a child failed it: the chain of failed descendants down to the
 * one that really failed, and its own reason — so the row says which segment failed and why.
 */
export function describeChildFailure(chain: readonly { jobId: string; reason: string | null }[]): string {
  if (chain.length === 0) return 'a child task failed';
  const ids = chain.map((c) => c.jobId);
  const leaf = chain[chain.length - 1]!;
  const path = ids.length > 1 ? ` (via ${ids.slice(0, -1).join(' → ')})` : '';
  return `child task ${leaf.jobId} failed${path}: ${leaf.reason ?? 'reason unknown (its job is gone from Redis)'}`;
}

/** JobResult.output_location from a completed entry's returnvalue (a JSON string), else null. */
export function outputLocationOf(returnvalue: string | undefined): string | null {
  if (returnvalue === undefined) return null;
  try {
    const v: unknown = JSON.parse(returnvalue);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const loc = (v as Record<string, unknown>).output_location;
      return typeof loc === 'string' && loc !== '' ? loc : null;
    }
  } catch {
    // A non-JSON return value has no output location; the row still completes.
  }
  return null;
}

function parseProgress(data: string | undefined): unknown {
  if (data === undefined) return null;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

const RANK: Record<TaskStatus, number> = { Queued: 0, 'In Progress': 1, Complete: 2, Failed: 2, Cancelled: 2 };
const isTerminal = (s: TaskStatus | undefined): boolean => s !== undefined && RANK[s] === 2;

function updateFor(e: StreamEntry, input: MapInput): TaskUpdate | null {
  const taskId = e.fields.jobId;
  if (!taskId) return null;
  const at = new Date(streamIdTimeMs(e.id)).toISOString();
  const facts = input.facts.get(taskId);
  switch (e.event) {
    case 'active': {
      const u: TaskUpdate = { taskId, status: 'In Progress', startedAt: at };
      if (facts?.processedBy) u.workerId = facts.processedBy;
      return u;
    }
    case 'progress':
      return { taskId, progress: parseProgress(e.fields.data) };
    case 'completed':
      return { taskId, status: 'Complete', outputLocation: outputLocationOf(e.fields.returnvalue), finishedAt: at };
    case 'failed': {
      const reason = input.resolvedFailures?.get(taskId) ?? e.fields.failedReason ?? 'failed (no reason recorded)';
      const u: TaskUpdate = { taskId, status: 'Failed', errorMessage: reason, finishedAt: at };
      if (facts?.attemptsMade != null) u.attempts = facts.attemptsMade;
      return u;
    }
    case 'retries-exhausted': {
      const n = Number(e.fields.attemptsMade);
      return Number.isFinite(n) ? { taskId, attempts: n } : null;
    }
    case 'delayed':
    case 'waiting':
      if (!isRetryOrStall(e) || facts?.attemptsMade == null) return null;
      return { taskId, attempts: facts.attemptsMade };
    case 'removed':
      // "Unless already terminal": the store ignores updates to terminal rows (status-rules.ts), and
      // within the batch merge() refuses to overwrite a terminal status.
      return { taskId, status: 'Cancelled', finishedAt: at };
    default:
      return null;
  }
}

/** Folds `next` (later in the stream) into `acc`: later fields win, attempts only grow, no backwards status. */
function merge(acc: TaskUpdate, next: TaskUpdate): TaskUpdate {
  const out: TaskUpdate = { ...acc };
  const accTerminal = isTerminal(acc.status);
  const statusAllowed = next.status === undefined || !accTerminal;
  for (const [k, v] of Object.entries(next) as [keyof TaskUpdate, unknown][]) {
    if (k === 'taskId' || v === undefined) continue;
    if (k === 'attempts') {
      out.attempts = Math.max(acc.attempts ?? 0, v as number);
      continue;
    }
    if (!statusAllowed) continue; // a stale non-terminal event after the job finished in this batch
    if (accTerminal && k === 'progress') continue;
    (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** One update per job, in the order each job first appeared (keeps applyBatch deterministic). */
export function mapEntries(input: MapInput): TaskUpdate[] {
  const byTask = new Map<string, TaskUpdate>();
  for (const e of input.entries) {
    const u = updateFor(e, input);
    if (!u) continue;
    const acc = byTask.get(u.taskId);
    byTask.set(u.taskId, acc ? merge(acc, u) : u);
  }
  return [...byTask.values()].map(stripUndefined);
}

function stripUndefined(u: TaskUpdate): TaskUpdate {
  const out = {} as Record<string, unknown>;
  for (const [k, v] of Object.entries(u)) if (v !== undefined) out[k] = v;
  return out as unknown as TaskUpdate;
}
