/**
 * `npm run bench`: every benchmark of issue 8, side by side with its baseline in the same run, on
 * real Redis (a private prefix per bench, deleted afterwards) and SQLite files in a temp dir.
 * Prints one table and writes the figures as JSON.
 *
 *   npm run bench [-- --quick] [-- --only dispatch,pickup,fanout,reconciler-lag,stitch,memory] [-- --out file.json]
 *
 * `--quick` runs tiny sizes (seconds, not minutes) and writes bench/results.quick.json unless
 * `--out` says otherwise, so it never overwrites the full run's bench/results.json.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ValidationError } from '../src/core/errors.ts';
import { benchDispatchThroughput } from './dispatch-throughput.ts';
import { benchFanOut } from './fan-out.ts';
import { benchIdleWorkerRss, benchRedisBytesPerTask } from './memory.ts';
import { benchPickupLatency } from './pickup-latency.ts';
import { dispatchRows, errorRow, fanOutRows, formatTable, memoryRows, pickupRows, reconcilerLagRows, stitchRows, type BenchRow, type StitchRowIn } from './report.ts';
import { makeWorkDir, round } from './support.ts';

export const BENCH_NAMES = ['dispatch', 'pickup', 'fanout', 'reconciler-lag', 'stitch', 'memory'] as const;
export type BenchName = (typeof BENCH_NAMES)[number];

export interface BenchSizes {
  dispatch: { jobs: number; concurrency: number };
  pickup: { tasks: number; pollTasks: number; pollIntervalMs: number };
  fanout: { sizes: number[] };
  reconcilerLag: { rate: number; seconds: number };
  /** rounds: interleaved repetitions of every approach (median time), so load drift hits all alike. */
  stitch: { segments: number[]; width: number; height: number; frames: number; overlap: number; rounds: number };
  memory: { queuedTasks: number };
}

export const FULL_SIZES: BenchSizes = {
  dispatch: { jobs: 10_000, concurrency: 50 },
  pickup: { tasks: 200, pollTasks: 100, pollIntervalMs: 1000 },
  fanout: { sizes: [10, 100, 1000] },
  reconcilerLag: { rate: 1000, seconds: 10 },
  stitch: { segments: [10, 30], width: 640, height: 360, frames: 81, overlap: 16, rounds: 3 },
  memory: { queuedTasks: 10_000 },
};

export const QUICK_SIZES: BenchSizes = {
  dispatch: { jobs: 200, concurrency: 20 },
  pickup: { tasks: 10, pollTasks: 3, pollIntervalMs: 200 },
  fanout: { sizes: [3, 10] },
  reconcilerLag: { rate: 200, seconds: 2 },
  stitch: { segments: [2, 3], width: 160, height: 96, frames: 17, overlap: 4, rounds: 1 },
  memory: { queuedTasks: 200 },
};

export interface BenchRunOptions {
  quick?: boolean;
  only?: BenchName[];
  /** Where to write the JSON; null writes nothing. */
  out?: string | null;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface BenchRunResult {
  rows: BenchRow[];
  results: Record<string, unknown>;
  seconds: number;
  table: string;
}

export function parseArgs(argv: string[]): BenchRunOptions {
  const opts: BenchRunOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') opts.quick = true;
    else if (a === '--only' || a === '--out') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new ValidationError(a, `needs a value, e.g. ${a === '--only' ? '--only dispatch,pickup' : '--out /tmp/results.json'}`);
      if (a === '--out') opts.out = v;
      else {
        const names = v.split(',').map((s) => s.trim()).filter(Boolean);
        const bad = names.filter((n) => !(BENCH_NAMES as readonly string[]).includes(n));
        if (bad.length || names.length === 0) throw new ValidationError('--only', `${JSON.stringify(bad.join(',') || v)} is not a bench; use a comma list of ${BENCH_NAMES.join(', ')}`);
        opts.only = names as BenchName[];
      }
    } else throw new ValidationError(a, `is not a bench flag; use --quick, --only <names> or --out <file>`);
  }
  return opts;
}

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

export async function runBench(opts: BenchRunOptions = {}): Promise<BenchRunResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const sizes = opts.quick ? QUICK_SIZES : FULL_SIZES;
  const wanted = new Set<BenchName>(opts.only ?? BENCH_NAMES);
  const rows: BenchRow[] = [];
  const results: Record<string, unknown> = {};
  const work = await makeWorkDir('run');
  const t0 = performance.now();
  const loadBefore = os.loadavg();

  const step = async (name: BenchName, fn: () => Promise<BenchRow[]>) => {
    if (!wanted.has(name)) return;
    log(`bench: ${name}…`);
    const s = performance.now();
    try {
      rows.push(...(await fn()));
    } catch (err) {
      results[name] = { error: (err as Error).stack ?? String(err) };
      rows.push(errorRow(name, err));
    }
    log(`bench: ${name} done in ${((performance.now() - s) / 1000).toFixed(1)} s`);
  };

  try {
    await step('dispatch', async () => {
      const r = await benchDispatchThroughput({ ...sizes.dispatch, workDir: work.dir });
      results.dispatch = r;
      return dispatchRows(r);
    });
    await step('pickup', async () => {
      const r = await benchPickupLatency({ ...sizes.pickup, workDir: work.dir });
      results.pickup = r;
      return pickupRows(r);
    });
    await step('fanout', async () => {
      const spec = await benchFanOut({ sizes: sizes.fanout.sizes, workDir: work.dir, payload: 'spec' });
      const lean = await benchFanOut({ sizes: sizes.fanout.sizes, workDir: work.dir, payload: 'lean' });
      results.fanout = { spec, lean };
      // 'lean' is the tree smq plans; 'spec' adds the seed's full_orchestrator_payload to every segment (N² bytes).
      return [...fanOutRows(lean, 'fan-out'), ...fanOutRows(spec, 'fan-out seed payload')];
    });
    await step('reconciler-lag', async () => {
      // Another engineer's module; load it late so the rest of the suite runs without it.
      const { benchReconcilerLag } = (await import('./reconciler-lag.ts')) as {
        benchReconcilerLag: (o: { rate: number; seconds: number; workDir: string }) => Promise<{ p50Ms: number; p99Ms: number; applied: number }>;
      };
      const r = await benchReconcilerLag({ ...sizes.reconcilerLag, workDir: path.join(work.dir, 'reconciler-lag') });
      results.reconcilerLag = { ...r, rate: sizes.reconcilerLag.rate };
      return reconcilerLagRows(r, sizes.reconcilerLag.rate);
    });
    await step('stitch', async () => {
      const { benchStitch } = (await import('./stitch.ts')) as { benchStitch: (o: BenchSizes['stitch'] & { workDir: string }) => Promise<StitchRowIn[]> };
      const r = await benchStitch({ ...sizes.stitch, workDir: path.join(work.dir, 'stitch') });
      results.stitch = r;
      return stitchRows(r);
    });
    await step('memory', async () => {
      const idle = await benchIdleWorkerRss({ workDir: work.dir });
      const bytes = await benchRedisBytesPerTask({ tasks: sizes.memory.queuedTasks, workDir: work.dir });
      results.memory = { idle, bytes };
      return memoryRows(idle, bytes);
    });
  } finally {
    await work.cleanup();
  }

  const seconds = round((performance.now() - t0) / 1000, 1);
  const table = formatTable(rows);
  const out = opts.out === undefined ? path.join(BENCH_DIR, opts.quick ? 'results.quick.json' : 'results.json') : opts.out;
  if (out !== null) {
    const doc = {
      generatedAt: new Date().toISOString(),
      quick: !!opts.quick,
      seconds,
      machine: { cpus: os.cpus().length, node: process.version, loadavgBefore: loadBefore.map((x) => round(x, 2)), loadavgAfter: os.loadavg().map((x) => round(x, 2)) },
      sizes,
      rows,
      results,
    };
    await writeFile(out, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return { rows, results, seconds, table };
}

async function main(): Promise<void> {
  let opts: BenchRunOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  process.stderr.write(`smq bench (${opts.quick ? 'quick' : 'full'}) on ${os.cpus().length} cores, load average ${load}\n`);
  const r = await runBench(opts);
  process.stdout.write(`${r.table}\n\nfinished in ${r.seconds} s; load average now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  // Exit non-zero only when a bench broke; a missed target is a finding, not a crash.
  process.exit(r.rows.some((x) => x.metric === 'error') ? 1 : 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
