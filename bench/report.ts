/**
 * Pure: turns each bench's result into table rows (smq vs its baseline, the ratio, the target and
 * whether it was met) and formats the one table `npm run bench` prints. No I/O here.
 */
import type { DispatchBenchResult } from './dispatch-throughput.ts';
import type { FanOutRow } from './fan-out.ts';
import type { IdleRssResult, RedisBytesResult } from './memory.ts';
import type { PickupBenchResult } from './pickup-latency.ts';

export interface BenchRow {
  bench: string;
  name: string;
  metric: string;
  smq: number | null;
  baseline: number | null;
  /** What the baseline is (raw BullMQ, floor, polling…). */
  baselineName: string;
  /** smq / baseline. */
  ratio: number | null;
  target: string;
  /** null: no target for this row (context only). */
  met: boolean | null;
  note?: string;
}

export interface StitchRowIn {
  name: string;
  segments: number;
  seconds: number;
  peakRssMB: number;
}

export interface ReconcilerLagIn {
  p50Ms: number;
  p99Ms: number;
  applied: number;
  /** A bare XREAD reader's lag for the same events in the same run (bench/reconciler-lag.ts). */
  floorP50Ms?: number;
  floorP99Ms?: number;
}

const ratioOf = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? null : a / b);

function row(r: Omit<BenchRow, 'ratio'> & { ratio?: number | null }): BenchRow {
  return { ...r, ratio: r.ratio === undefined ? ratioOf(r.smq, r.baseline) : r.ratio };
}

export function dispatchRows(r: DispatchBenchResult): BenchRow[] {
  const ratio = ratioOf(r.smq.jobsPerSec, r.raw.jobsPerSec);
  return [
    row({
      bench: 'dispatch',
      name: 'dispatch throughput',
      metric: `jobs/s, ${r.raw.jobs} no-op`,
      smq: r.smq.jobsPerSec,
      baseline: r.raw.jobsPerSec,
      baselineName: 'raw BullMQ',
      target: '≥ 0.80× raw',
      met: ratio === null ? false : ratio >= 0.8,
      note: `smq enqueue alone ${r.smq.enqueueSeconds} s of ${r.smq.seconds} s; ${r.smq.ingested} rows also dispatched by the ingest`,
    }),
  ];
}

export function pickupRows(r: PickupBenchResult): BenchRow[] {
  return [
    row({ bench: 'pickup', name: 'pickup latency p50', metric: `ms, ${r.smq.n} sequential`, smq: r.smq.p50Ms, baseline: r.raw.p50Ms, baselineName: 'raw BullMQ', target: 'smq ≤ 2 ms', met: r.smq.p50Ms <= 2 }),
    row({ bench: 'pickup', name: 'pickup latency p99', metric: 'ms', smq: r.smq.p99Ms, baseline: r.raw.p99Ms, baselineName: 'raw BullMQ', target: '—', met: null }),
    row({
      bench: 'pickup',
      name: 'pickup p50 vs polling',
      metric: `ms, poll ${r.polling.pollIntervalMs / 1000} s, ${r.polling.n} tasks`,
      smq: r.smq.p50Ms,
      baseline: r.polling.p50Ms,
      baselineName: 'table polling',
      target: '—',
      met: null,
    }),
    row({ bench: 'pickup', name: 'pickup p99 vs polling', metric: 'ms', smq: r.smq.p99Ms, baseline: r.polling.p99Ms, baselineName: 'table polling', target: '—', met: null }),
  ];
}

export function fanOutRows(rows: FanOutRow[], label = 'fan-out'): BenchRow[] {
  const out = rows.map((f) => {
    const ratio = ratioOf(f.smqMs, f.rawMs);
    return row({
      bench: 'fanout',
      name: `${label} ${f.segments} segs`,
      metric: `ms (${(f.smqMsPerSegment).toFixed(2)} vs ${(f.rawMsPerSegment).toFixed(2)} ms/seg)`,
      smq: f.smqMs,
      baseline: f.rawMs,
      baselineName: 'raw FlowProducer',
      target: '≤ 1.5× raw',
      met: ratio === null ? false : ratio <= 1.5,
      note: `${f.treeDataBytes >= 2 ** 20 ? `${(f.treeDataBytes / 2 ** 20).toFixed(1)} MiB` : `${(f.treeDataBytes / 1024).toFixed(1)} KiB`} of params in the ${f.tree === 'seed payload' ? 'tree, the seed payload in every segment' : f.tree === 'planned' ? 'tree smq plans' : 'tree'}`,
    });
  });
  if (rows.length >= 2) {
    // Linear growth = constant time per segment: compare the largest run with the next one down.
    const [a, b] = [rows[rows.length - 2]!, rows[rows.length - 1]!];
    const smqGrowth = ratioOf(b.smqMsPerSegment, a.smqMsPerSegment);
    const rawGrowth = ratioOf(b.rawMsPerSegment, a.rawMsPerSegment);
    out.push(
      row({
        bench: 'fanout',
        name: `${label} growth`,
        metric: `ms/seg at ${b.segments} ÷ at ${a.segments}`,
        smq: smqGrowth,
        baseline: rawGrowth,
        baselineName: 'raw FlowProducer',
        target: '≤ 1.5 (linear)',
        met: smqGrowth === null ? false : smqGrowth <= 1.5,
      }),
    );
  }
  return out;
}

export function reconcilerLagRows(r: ReconcilerLagIn, rate: number): BenchRow[] {
  const floorName = 'bare XREAD reader';
  return [
    row({ bench: 'reconciler-lag', name: 'reconciler lag p50', metric: `ms at ${rate} jobs/s, ${r.applied} applied`, smq: r.p50Ms, baseline: r.floorP50Ms ?? null, baselineName: floorName, target: '—', met: null }),
    row({ bench: 'reconciler-lag', name: 'reconciler lag p99', metric: `ms at ${rate} jobs/s`, smq: r.p99Ms, baseline: r.floorP99Ms ?? null, baselineName: floorName, target: '≤ 25 ms', met: r.p99Ms <= 25 }),
  ];
}

export function stitchRows(rows: StitchRowIn[]): BenchRow[] {
  const pick = (prefix: string, n: number) => rows.find((r) => r.name.startsWith(prefix) && r.segments === n) ?? null;
  const sizes = [...new Set(rows.map((r) => r.segments))].sort((a, b) => a - b);
  const out: BenchRow[] = [];
  for (const n of sizes) {
    const smq = pick('smq stitch (streaming)', n);
    const copy = pick('smq stitch (copy', n);
    const floor = pick('floor', n);
    const seed = pick('seed', n);
    if (smq && floor) {
      const ratio = smq.seconds / floor.seconds;
      out.push(row({ bench: 'stitch', name: `stitch ${n} segs time`, metric: 's', smq: smq.seconds, baseline: floor.seconds, baselineName: 'floor re-encode', target: '≤ 1.1× floor', met: ratio <= 1.1 }));
    }
    if (copy && floor) {
      // The issue's stretch: copying what the cross-fade leaves untouched beats a plain re-encode.
      out.push(row({ bench: 'stitch', name: `stitch ${n} segs (copy)`, metric: 's, copy untouched', smq: copy.seconds, baseline: floor.seconds, baselineName: 'floor re-encode', target: '< floor', met: copy.seconds < floor.seconds }));
      out.push(row({ bench: 'stitch', name: `stitch ${n} segs (copy) peak RSS`, metric: 'MB', smq: copy.peakRssMB, baseline: floor.peakRssMB, baselineName: 'floor re-encode', target: '—', met: null }));
    }
    if (smq && seed) {
      out.push(row({ bench: 'stitch', name: `stitch ${n} segs vs seed`, metric: 's', smq: smq.seconds, baseline: seed.seconds, baselineName: 'seed (all in RAM)', target: '—', met: null }));
      out.push(row({ bench: 'stitch', name: `stitch ${n} segs peak RSS`, metric: 'MB', smq: smq.peakRssMB, baseline: seed.peakRssMB, baselineName: 'seed (all in RAM)', target: '—', met: null }));
    }
  }
  if (sizes.length >= 2) {
    const lo = sizes[0]!;
    const hi = sizes[sizes.length - 1]!;
    const smqLo = pick('smq stitch (streaming)', lo);
    const smqHi = pick('smq stitch (streaming)', hi);
    const seedLo = pick('seed', lo);
    const seedHi = pick('seed', hi);
    const copyLo = pick('smq stitch (copy', lo);
    const copyHi = pick('smq stitch (copy', hi);
    if (copyLo && copyHi) {
      const growth = copyHi.peakRssMB / copyLo.peakRssMB;
      out.push(row({ bench: 'stitch', name: 'stitch RSS flatness (copy)', metric: `peak RSS ${hi} ÷ ${lo} segs`, smq: growth, baseline: null, baselineName: '—', target: '≤ 1.15 (flat)', met: growth <= 1.15 }));
    }
    if (smqLo && smqHi) {
      const growth = smqHi.peakRssMB / smqLo.peakRssMB;
      out.push(
        row({
          bench: 'stitch',
          name: 'stitch RSS flatness',
          metric: `peak RSS ${hi} ÷ ${lo} segs`,
          smq: growth,
          baseline: seedLo && seedHi ? seedHi.peakRssMB / seedLo.peakRssMB : null,
          baselineName: 'seed (all in RAM)',
          // "Flat" with room for sampling noise and ffmpeg's own variation.
          target: '≤ 1.15 (flat)',
          met: growth <= 1.15,
        }),
      );
    }
  }
  return out;
}

export function memoryRows(idle: IdleRssResult | null, bytes: RedisBytesResult | null): BenchRow[] {
  const out: BenchRow[] = [];
  if (idle) out.push(row({ bench: 'memory', name: 'idle worker RSS', metric: 'MB', smq: idle.smqMB, baseline: idle.rawMB, baselineName: 'bare BullMQ worker', target: '—', met: null }));
  if (bytes) {
    out.push(row({ bench: 'memory', name: 'Redis bytes/queued task', metric: `B, MEMORY USAGE, ${bytes.tasks} tasks`, smq: bytes.smq.bytesPerTask, baseline: bytes.raw.bytesPerTask, baselineName: 'raw empty job', target: '—', met: null }));
    out.push(row({ bench: 'memory', name: 'Redis used_memory/task', metric: 'B, INFO delta (shared server)', smq: bytes.smq.usedMemoryPerTask, baseline: bytes.raw.usedMemoryPerTask, baselineName: 'raw empty job', target: '—', met: null }));
  }
  return out;
}

export function errorRow(bench: string, err: unknown): BenchRow {
  const msg = err instanceof Error ? err.message : String(err);
  return { bench, name: bench, metric: 'error', smq: null, baseline: null, baselineName: '', ratio: null, target: '—', met: false, note: `FAILED: ${msg.split('\n')[0]}` };
}

export function formatNumber(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toString();
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  return x.toFixed(3);
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['name', 'metric', 'smq', 'baseline', 'ratio', 'target', 'met?'];
  const body = rows.map((r) => [
    r.name,
    r.metric,
    formatNumber(r.smq),
    r.baseline === null ? '—' : `${formatNumber(r.baseline)} ${r.baselineName}`,
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    r.target,
    r.met === null ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.name}: ${r.note}`);
  return [line(header), sep, ...body.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}
