import { existsSync } from 'node:fs';
import type { TaskRow } from '../../../src/core/types.ts';
import type { TaskStore } from '../../../src/db/task-store.ts';
import type { EventMonitor } from './event-monitor.ts';
import { runCommand } from './proc.ts';

/**
 * The check every fault scenario ends with: every row terminal, every Complete row's output file
 * there and playable, no task completed twice. Returns counts (for the results table) and a list
 * of problems (empty when all is well) so the assertion message says exactly what went wrong.
 */
export interface FinalReport {
  rows: number;
  byStatus: Record<string, number>;
  /** Rows still Queued / In Progress. */
  stuck: string[];
  /** Complete rows whose output file is missing or not a playable video. */
  badOutputs: string[];
  /** Task ids with more than one `completed` event. */
  duplicated: string[];
  problems: string[];
}

export async function allRows(store: TaskStore): Promise<TaskRow[]> {
  const out: TaskRow[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await store.list({ limit: 1000, offset });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/** ffprobe decodes the first video stream; a file that is not a video (or is truncated) fails. */
export async function playable(file: string): Promise<boolean> {
  const r = await runCommand('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file], { timeoutMs: 30_000 });
  return r.code === 0 && Number(r.stdout.trim().split(',')[0]) > 0 && r.stderr.trim() === '';
}

const VIDEO = /\.(mp4|mkv|webm|mov)$/i;

export interface FinalCheckOptions {
  /** Only these rows (default: every row of the table). */
  taskIds?: string[];
  /** Decode every Complete video (default), or only rows that pass this filter (the load test probes finals). */
  probe?: (row: TaskRow) => boolean;
}

export async function finalCheck(store: TaskStore, monitor: EventMonitor | null, opts: FinalCheckOptions = {}): Promise<FinalReport> {
  const rows = opts.taskIds ? await store.getMany(opts.taskIds) : await allRows(store);
  const byStatus: Record<string, number> = {};
  const stuck: string[] = [];
  const badOutputs: string[] = [];
  const duplicated: string[] = [];
  const problems: string[] = [];
  if (opts.taskIds && rows.length !== opts.taskIds.length) {
    const have = new Set(rows.map((r) => r.taskId));
    for (const id of opts.taskIds) if (!have.has(id)) problems.push(`row ${id} is missing from the table`);
  }
  for (const r of rows) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (r.status === 'Queued' || r.status === 'In Progress') {
      stuck.push(r.taskId);
      problems.push(`row ${r.taskId} (${r.taskType}) is still ${r.status}`);
    }
    if (r.status === 'Complete' && r.outputLocation && r.outputLocation.startsWith('/')) {
      if (!existsSync(r.outputLocation)) {
        badOutputs.push(r.taskId);
        problems.push(`row ${r.taskId} is Complete but its output ${r.outputLocation} does not exist`);
      } else if (VIDEO.test(r.outputLocation) && (opts.probe ?? (() => true))(r) && !(await playable(r.outputLocation))) {
        badOutputs.push(r.taskId);
        problems.push(`row ${r.taskId} is Complete but ${r.outputLocation} does not decode (ffprobe)`);
      }
    }
    const n = monitor ? monitor.count(monitor.completed, r.taskId) : 0;
    if (n > 1) {
      duplicated.push(r.taskId);
      problems.push(`task ${r.taskId} completed ${n} times`);
    }
  }
  if (monitor?.gaps.length) problems.push(`events streams were trimmed before the monitor read them (${monitor.gaps.join(', ')}): completion counts are incomplete`);
  return { rows: rows.length, byStatus, stuck, badOutputs, duplicated, problems };
}

/** Tasks lost by a scenario: stuck, duplicated, or Complete without a usable output. */
export function lostCount(r: FinalReport): number {
  return new Set([...r.stuck, ...r.duplicated, ...r.badOutputs]).size;
}
