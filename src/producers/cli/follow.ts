import cliProgress from 'cli-progress';
import type { TaskStatus } from '../../core/types.ts';
import { status, type RunStatus } from '../control.ts';
import type { ProducerDeps } from '../deps.ts';
import { taskPercent } from '../progress.ts';

/**
 * `--wait`: follows a run by reading the table (rows' status/progress, written by the reconciler)
 * and BullMQ job progress, until the root row is terminal. On a TTY each step gets a live bar; on
 * anything else one line is printed per change, so logs stay readable. Aborting (Ctrl-C) stops the
 * following only; the run goes on.
 */

const TERMINAL: ReadonlySet<TaskStatus> = new Set(['Complete', 'Failed', 'Cancelled']);

export interface FollowOptions {
  runId: string;
  /** Task ids to show, in order (the root is shown as the overall line). */
  stepIds: string[];
  deps: ProducerDeps;
  pollMs: number;
  signal: AbortSignal;
  tty: boolean;
  /** No output at all (the caller prints one JSON object at the end). */
  quiet: boolean;
  write: (line: string) => void;
}

export type FollowOutcome = { kind: 'finished'; status: RunStatus } | { kind: 'stopped'; status: RunStatus | null };

function label(id: string, runId: string): string {
  return id.replace(`_${runId}`, '').replace(runId, 'run') || id;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function followRun(o: FollowOptions): Promise<FollowOutcome> {
  const bars = o.tty && !o.quiet ? new cliProgress.MultiBar({ format: ' {name} |{bar}| {percentage}% {state}', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic) : null;
  const barOf = new Map<string, cliProgress.SingleBar>();
  const lastLine = new Map<string, string>();
  const width = Math.max(...o.stepIds.map((id) => label(id, o.runId).length), 3) + 2;
  let last: RunStatus | null = null;
  try {
    while (!o.signal.aborted) {
      try {
        last = await status(o.runId, o.deps);
      } catch (err) {
        // A transient store error must not end the wait; the next poll tries again.
        if (!o.quiet) o.write(`(status read failed: ${(err as Error).message}; retrying)`);
      }
      if (last) {
        const byId = new Map(last.tasks.map((t) => [t.taskId, t]));
        // Steps the planner added beyond the ids known up front (e.g. an upscale) get a bar when their row appears.
        const ids = [...o.stepIds, ...last.tasks.map((t) => t.taskId).filter((id) => id !== last!.rootTaskId && !o.stepIds.includes(id))];
        for (const id of ids) {
          const t = byId.get(id);
          const pct = t ? Math.round(taskPercent(t)) : 0;
          const state = t ? `${t.status}${t.jobState && t.status !== 'Complete' ? ` (${t.jobState})` : ''}` : 'not planned yet';
          const name = label(id, o.runId).padEnd(width);
          if (bars) {
            let b = barOf.get(id);
            if (!b) barOf.set(id, (b = bars.create(100, pct, { name, state })));
            b.update(pct, { name, state });
          } else if (!o.quiet) {
            const line = `[${name}] ${state} ${pct}%`;
            if (lastLine.get(id) !== line) {
              lastLine.set(id, line);
              o.write(line);
            }
          }
        }
        if (TERMINAL.has(last.status)) return { kind: 'finished', status: last };
      }
      await sleep(o.pollMs, o.signal);
    }
    return { kind: 'stopped', status: last };
  } finally {
    bars?.stop();
  }
}
