import type { Logger } from 'pino';
import { SmqError } from '../core/errors.ts';
import type { TaskRow } from '../core/types.ts';
import type { TaskStore } from '../db/task-store.ts';
import type { Dispatcher } from '../flows/dispatch.ts';

/**
 * Ingest: rows something else wrote into the table (`Queued`, queue_name NULL — the seed's Python
 * client, any SQL client on Supabase) go onto BullMQ. The store claim stamps queue_name with a mark
 * atomically, so no two reconcilers take one row; the real queue name replaces the mark once the
 * job is added. A crash between the two leaves a row whose "queue" has no job: the sweep re-dispatches it.
 */

export interface IngestResult {
  claimed: number;
  dispatched: number;
  /** Rows that can never run (bad params, unknown task type): marked Failed with the reason. */
  failed: number;
}

export interface IngestDeps {
  store: TaskStore;
  dispatcher: Dispatcher;
  claimMark: string;
  limit: number;
  log: Logger;
}

/** Errors that mean "this row can never run", as opposed to Redis or the database being unwell. */
export function isPermanentDispatchError(err: unknown): boolean {
  return err instanceof SmqError && (err.code === 'VALIDATION' || err.code === 'UNKNOWN_TASK_TYPE' || err.code === 'CONFIG');
}

export async function failUnrunnable(store: TaskStore, row: Pick<TaskRow, 'taskId'>, reason: string): Promise<void> {
  await store.transition({ taskId: row.taskId, status: 'Failed', errorMessage: reason, finishedAt: new Date().toISOString() });
}

/** Claims and dispatches one batch; the caller loops while `claimed === limit`. */
export async function ingestBatch(deps: IngestDeps): Promise<IngestResult> {
  const rows = await deps.store.claimUndispatched(deps.limit, deps.claimMark);
  const result: IngestResult = { claimed: rows.length, dispatched: 0, failed: 0 };
  const outcomes = await Promise.allSettled(rows.map((row) => dispatchOne(deps, row)));
  let transient: unknown = null;
  outcomes.forEach((o, i) => {
    if (o.status === 'fulfilled') {
      if (o.value) result.dispatched++;
      else result.failed++;
    } else {
      transient ??= o.reason;
      deps.log.warn({ taskId: rows[i]!.taskId, err: (o.reason as Error)?.message }, 'ingest: dispatch failed; the sweep will retry this row');
    }
  });
  if (transient) throw transient;
  return result;
}

async function dispatchOne(deps: IngestDeps, row: TaskRow): Promise<boolean> {
  if (!row.params) {
    await failUnrunnable(deps.store, row, `cannot dispatch: ${row.paramsError ?? 'params is not a JSON object'}; fix the row's params and insert it again`);
    return false;
  }
  try {
    const queue = await deps.dispatcher.dispatchRow(row);
    await deps.store.setQueueName(row.taskId, queue);
    return true;
  } catch (err) {
    if (!isPermanentDispatchError(err)) throw err;
    await failUnrunnable(deps.store, row, `cannot dispatch: ${(err as Error).message}`);
    return false;
  }
}
