import type { Command } from 'commander';
import { resolveConfig } from '../core/config.ts';
import { ValidationError } from '../core/errors.ts';
import { enqueueTask } from './api.ts';
import { cancel, retry, status, type RunStatus } from './control.ts';
import { openProducerDeps, type ProducerDeps } from './deps.ts';
import { taskPercent } from './progress.ts';

/**
 * `smq status|cancel|retry <run_id|task_id>` and `smq enqueue <task_type> --params <json>`, thin
 * shells over src/producers/control.ts and api.ts. Errors propagate to src/cli/smq.ts, which maps
 * them to exit codes (2 bad arguments, 1 anything else).
 */

interface CommonOpts {
  json?: boolean;
  dbFile?: string;
}

async function withCliDeps<T>(opts: CommonOpts, fn: (d: ProducerDeps) => Promise<T>): Promise<T> {
  const deps = await openProducerDeps(resolveConfig({ dbFile: opts.dbFile }));
  try {
    return await fn(deps);
  } finally {
    await deps.close();
  }
}

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

/** Human table of a run (pure, so it can be tested without a terminal). */
export function formatStatus(st: RunStatus): string {
  const lines = [
    `Run ${st.runId} (root ${st.rootTaskId}): ${st.status}` +
      ` — ${st.progress.complete}/${st.progress.total} tasks complete, ${st.progress.percent}%` +
      (st.redisReachable ? '' : ' [Redis did not answer: job states unknown]'),
  ];
  if (st.outputLocation) lines.push(`Output: ${st.outputLocation}`);
  if (st.errorMessage && st.status !== 'Complete') lines.push(`Error: ${st.errorMessage}`);
  const rows = st.tasks.map((t) => [
    t.taskId,
    t.taskType,
    t.status,
    t.jobState ?? (t.queueName ? '-' : 'not dispatched'),
    `${Math.round(taskPercent(t))}%`,
    t.status === 'Failed' || t.status === 'Cancelled' ? (t.errorMessage ?? '') : (t.outputLocation ?? ''),
  ]);
  const head = ['TASK', 'TYPE', 'STATUS', 'JOB', 'PROGRESS', 'OUTPUT / ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  lines.push('', fmt(head), ...rows.map(fmt));
  return lines.join('\n');
}

export function registerRunCommands(program: Command): void {
  program
    .command('status <id>')
    .description('show a run (by run id or any of its task ids) or a single task: rows, job states, progress')
    .option('--json', 'print one JSON object')
    .option('--db-file <path>', 'SQLite file of the tasks table (DB_TYPE=sqlite)')
    .action(async (id: string, opts: CommonOpts) => {
      const st = await withCliDeps(opts, (d) => status(id, d));
      out(opts.json ? JSON.stringify(st) : formatStatus(st));
    });

  program
    .command('cancel <id>')
    .description('cancel a run and everything under it: queued jobs removed, running ones told to stop, rows Cancelled')
    .option('--json', 'print one JSON object')
    .option('--db-file <path>', 'SQLite file of the tasks table (DB_TYPE=sqlite)')
    .action(async (id: string, opts: CommonOpts) => {
      const r = await withCliDeps(opts, (d) => cancel(id, d));
      if (opts.json) return out(JSON.stringify(r));
      out(`Cancelled ${r.cancelled.length} task(s) of ${r.runId}; removed ${r.removedJobs.length} queued job(s); told ${r.signalled.length} running job(s) to stop.`);
      if (!r.redisReachable) out('Redis (REDIS_URL) did not answer: the rows are Cancelled; run this cancel again once Redis is back to remove the queued jobs.');
    });

  program
    .command('retry <id>')
    .description('retry a failed or cancelled run or task from what failed (finished segments are not redone)')
    .option('--json', 'print one JSON object')
    .option('--db-file <path>', 'SQLite file of the tasks table (DB_TYPE=sqlite)')
    .action(async (id: string, opts: CommonOpts) => {
      const r = await withCliDeps(opts, (d) => retry(id, d));
      if (opts.json) return out(JSON.stringify(r));
      out(`Re-queued ${r.requeued.length} task(s) of ${r.runId}: ${r.requeued.join(', ')}.`);
      out(r.dispatched ? `Dispatched ${r.rootTaskId} again. Follow it with: smq status ${r.runId}` : `${r.rootTaskId} is Queued; the reconciler dispatches it.`);
    });

  program
    .command('enqueue <task_type>')
    .description('queue one task of a known type with the given params (generic)')
    .requiredOption('--params <json>', 'task params as a JSON object, e.g. \'{"prompt": "a cat"}\'')
    .option('--task-id <id>', 'task id (default: params.task_id, else sm_task_<12hex>)')
    .option('--run-id <id>', 'group the task under this run id')
    .option('--priority <int>', 'BullMQ priority, 1 = most urgent')
    .option('--json', 'print one JSON object')
    .option('--db-file <path>', 'SQLite file of the tasks table (DB_TYPE=sqlite)')
    .action(async (taskType: string, opts: CommonOpts & { params: string; taskId?: string; runId?: string; priority?: string }) => {
      let params: unknown;
      try {
        params = JSON.parse(opts.params);
      } catch (err) {
        throw new ValidationError('--params', `is not valid JSON (${(err as Error).message}); quote it, e.g. --params '{"prompt": "a cat"}'`);
      }
      let priority: number | null = null;
      if (opts.priority !== undefined) {
        if (!/^\s*\d+\s*$/.test(opts.priority)) throw new ValidationError('--priority', `${JSON.stringify(opts.priority)} is not an integer; give e.g. --priority 1`);
        priority = Number.parseInt(opts.priority, 10);
      }
      const r = await withCliDeps(opts, (d) => enqueueTask(taskType, params, d, { taskId: opts.taskId, runId: opts.runId ?? null, priority }));
      if (opts.json) return out(JSON.stringify({ ok: true, task_type: taskType, task_id: r.orchestratorTaskId, run_id: r.runId, dispatched: r.dispatched }));
      out(`Successfully enqueued '${taskType}' task (ID: ${r.orchestratorTaskId}).`);
      if (!r.dispatched) out('Redis (REDIS_URL) did not answer: the task is saved as Queued and will be dispatched once Redis is back (the reconciler picks it up).');
    });
}
