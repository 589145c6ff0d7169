import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { resolveConfig } from '../core/config.ts';
import { SmqError } from '../core/errors.ts';
import type { TaskRow } from '../core/types.ts';
import { enqueueTravel, openProducerDeps } from '../producers/api.ts';
import { authFromEnv } from './dashboard/auth.ts';
import { isVideoLocation } from './dashboard/run-view.ts';
import { ensureRedis } from './private-redis.ts';
import { barStates, createProgressDisplay } from './run-progress-display.ts';
import { writeSampleImages } from './sample-images.ts';
import { startUp, untilSignal } from './up.ts';

/**
 * `smq demo` (`npm run demo`): the seed README's sample travel, end to end on one machine with
 * nothing configured — a SQLite file in the demo dir, the local Redis (or a private redis-server),
 * the onnx engine — through the same public paths a user takes: `up` in-process and
 * `enqueueTravel`. It ends with the video's path, the root row's status and the dashboard URL.
 */
export interface DemoOptions {
  /** @defaultValue ./outputs/demo */
  outputDir?: string;
  /** Keep the dashboard (and worker) up after the video is done, until Ctrl-C. */
  keepRunning?: boolean;
  /** Dashboard port; 0 picks a free one. @defaultValue 0 */
  port?: number;
  /** Give up after this long. @defaultValue 15 minutes */
  timeoutMs?: number;
  out?: NodeJS.WriteStream;
}

export interface DemoResult {
  runId: string;
  orchestratorTaskId: string;
  videoPath: string;
  status: string;
  dashboardUrl: string;
}

/** The seed README's "Running with Sample Images" travel (section 3.A), on smq's defaults. */
export const SAMPLE_TRAVEL = {
  base_prompts: ['Transitioning from red', 'Moving to green'],
  resolution: '320x240',
  segment_frames: [30],
  frame_overlap: [10],
  seed: 789,
} as const;

const TERMINAL = new Set(['Complete', 'Failed', 'Cancelled']);

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const out = opts.out ?? process.stdout;
  const say = (line: string) => out.write(`${line}\n`);
  const demoDir = path.resolve(opts.outputDir ?? path.join('outputs', 'demo'));
  await mkdir(demoDir, { recursive: true });

  // The demo's own prefix keeps its jobs away from any smq workers already running on this Redis
  // (SMQ_DEMO_QUEUE_PREFIX overrides it, e.g. for tests sharing one Redis).
  const queuePrefix = process.env.SMQ_DEMO_QUEUE_PREFIX?.trim() || '{smq-demo}';
  const base = resolveConfig({ dbType: 'sqlite', dbFile: path.join(demoDir, 'tasks.db'), queuePrefix });
  const redis = await ensureRedis(base.redisUrl, { log: say });
  const config = { ...base, redisUrl: redis.url };
  const quiet = pino({ level: process.env.SMQ_LOG_LEVEL ?? 'warn' }, pino.destination(2));
  let up: Awaited<ReturnType<typeof startUp>> | null = null;
  let producer: Awaited<ReturnType<typeof openProducerDeps>> | null = null;
  try {
    const images = await writeSampleImages(path.join(demoDir, 'samples'));
    say(`sample images: ${images.join(', ')}`);
    up = await startUp({
      config,
      worker: { outputRoot: path.join(demoDir, 'work'), name: 'demo-worker', graceMs: 5000, logger: quiet },
      logger: quiet,
      host: '127.0.0.1',
      port: opts.port ?? 0,
      auth: authFromEnv(),
      log: (l) => process.stderr.write(`${l}\n`),
    });
    say(`dashboard: ${up.dashboard.url}/runs`);
    producer = await openProducerDeps(config);
    const run = await enqueueTravel({ ...SAMPLE_TRAVEL, base_prompts: [...SAMPLE_TRAVEL.base_prompts], segment_frames: [...SAMPLE_TRAVEL.segment_frames], frame_overlap: [...SAMPLE_TRAVEL.frame_overlap], input_images: images, output_dir: demoDir }, producer, { cwd: demoDir });
    say(`run ${run.runId}: ${run.numSegments} segments, orchestrator ${run.orchestratorTaskId}`);

    const root = await follow(up.store, run.runId, run.orchestratorTaskId, run.segmentTaskIds, run.stitchTaskId, opts.timeoutMs ?? 15 * 60_000, out);
    if (root.status !== 'Complete') {
      throw new SmqError('MEDIA', `the demo run ended ${root.status}: ${root.errorMessage ?? 'no error message recorded'} (see ${up.dashboard.url}/runs/${encodeURIComponent(run.runId)})`);
    }
    const stitch = await up.store.get(run.stitchTaskId);
    const videoPath = isVideoLocation(root.outputLocation) ? root.outputLocation : (stitch?.outputLocation ?? null);
    if (!videoPath || (!/^https?:/.test(videoPath) && !existsSync(videoPath))) {
      throw new SmqError('MEDIA', `the run is Complete but its video is missing (output_location ${JSON.stringify(videoPath)})`);
    }
    const result: DemoResult = { runId: run.runId, orchestratorTaskId: run.orchestratorTaskId, videoPath, status: root.status, dashboardUrl: `${up.dashboard.url}/runs/${encodeURIComponent(run.runId)}` };
    say('');
    say(`video:     ${result.videoPath}`);
    say(`status:    ${result.status} (tasks row ${result.orchestratorTaskId} in ${config.sqlitePath})`);
    say(`dashboard: ${result.dashboardUrl}`);
    if (opts.keepRunning) {
      say('the dashboard stays up (--keep-running); press Ctrl-C to stop');
      await untilSignal();
    } else {
      say('(the demo stops its dashboard on exit; add --keep-running to browse it)');
    }
    return result;
  } finally {
    await producer?.close().catch(() => {});
    await up?.close(5000).catch(() => {});
    await redis.stop().catch(() => {});
  }
}

async function follow(
  store: { listByRun(runId: string): Promise<TaskRow[]> },
  runId: string,
  rootId: string,
  segmentIds: string[],
  stitchId: string,
  timeoutMs: number,
  out: NodeJS.WriteStream,
): Promise<TaskRow> {
  const display = createProgressDisplay(out);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const rows = await store.listByRun(runId);
      display.update(barStates(rows, segmentIds, stitchId));
      const root = rows.find((r) => r.taskId === rootId);
      if (root && TERMINAL.has(root.status)) return root;
      if (Date.now() > deadline) throw new SmqError('TIMEOUT', `the demo run did not finish within ${Math.round(timeoutMs / 1000)} s (last root status: ${root?.status ?? 'no row'})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    display.stop();
  }
}
