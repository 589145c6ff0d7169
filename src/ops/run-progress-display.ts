import cliProgress from 'cli-progress';
import type { TaskRow } from '../core/types.ts';
import { progressOf } from './dashboard/run-view.ts';

/** One bar per step of a run (segments, then the stitch), fed from the canonical rows. */
export interface BarState {
  key: string;
  label: string;
  percent: number;
  status: string;
}

export function barStates(rows: TaskRow[], expectedSegments: string[], stitchId: string | null): BarState[] {
  const byId = new Map(rows.map((r) => [r.taskId, r]));
  const ids = [...expectedSegments, ...(stitchId ? [stitchId] : [])];
  return ids.map((id, i) => {
    const row = byId.get(id);
    const label = i < expectedSegments.length ? `segment ${i}` : 'stitch   ';
    if (!row) return { key: id, label, percent: 0, status: 'planned' };
    const { percent } = progressOf(row);
    return { key: id, label, percent: percent ?? (row.status === 'Complete' ? 100 : 0), status: row.status };
  });
}

export interface ProgressDisplay {
  update(states: BarState[]): void;
  stop(): void;
}

/** cli-progress bars on a terminal; one line per change otherwise (CI logs, pipes). */
export function createProgressDisplay(stream: NodeJS.WriteStream = process.stdout): ProgressDisplay {
  if (stream.isTTY) {
    const multi = new cliProgress.MultiBar(
      { format: ' {label} |{bar}| {percentage}% {status}', hideCursor: true, clearOnComplete: false, stopOnComplete: false, stream, barsize: 30 },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map<string, cliProgress.SingleBar>();
    return {
      update(states) {
        for (const s of states) {
          let bar = bars.get(s.key);
          if (!bar) {
            bar = multi.create(100, s.percent, { label: s.label, status: s.status });
            bars.set(s.key, bar);
          }
          bar.update(s.percent, { label: s.label, status: s.status });
        }
      },
      stop: () => multi.stop(),
    };
  }
  const last = new Map<string, string>();
  return {
    update(states) {
      for (const s of states) {
        const line = `${s.label.trim()}: ${s.status} ${s.percent}%`;
        if (last.get(s.key) !== line) {
          last.set(s.key, line);
          stream.write(`${line}\n`);
        }
      }
    },
    stop() {},
  };
}
