import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { Redis } from 'ioredis';
import { resolveConfig, type SmqConfig } from '../../src/core/config.ts';
import type { TaskRow } from '../../src/core/types.ts';
import type { TaskStore } from '../../src/db/task-store.ts';
import { Dispatcher } from '../../src/flows/dispatch.ts';
import { Reconciler } from '../../src/reconciler/reconciler.ts';
import { createWorkerLogger } from '../../src/consumers/logger.ts';
import { REDIS_URL, sleep } from '../consumers/helpers.ts';

const run = promisify(execFile);

/** Three distinct anchor images (the seed README's sample uses three). */
export async function makeImages(dir: string): Promise<string[]> {
  const sources = ['testsrc=size=400x300', 'color=c=red:size=400x300', 'smptebars=size=400x300'];
  const out: string[] = [];
  for (const [i, src] of sources.entries()) {
    const file = path.join(dir, `img${i}.png`);
    await run('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', src, '-frames:v', '1', file]);
    out.push(file);
  }
  return out;
}

/** Frames counted by decoding (ffprobe -count_frames), and the stream's frame rate. */
export async function countFrames(file: string): Promise<{ frames: number; fps: string }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,r_frame_rate', '-of', 'json', file]);
  const s = JSON.parse(stdout).streams[0];
  return { frames: Number(s.nb_read_frames), fps: s.r_frame_rate };
}

export async function waitForRow(store: TaskStore, taskId: string, statuses: string[], timeoutMs: number): Promise<TaskRow> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskRow | null = null;
  while (Date.now() < deadline) {
    last = await store.get(taskId);
    if (last && statuses.includes(last.status)) return last;
    await sleep(200);
  }
  throw new Error(`row ${taskId} did not reach ${statuses.join('/')} in ${timeoutMs} ms (last: ${last?.status} ${last?.errorMessage ?? ''})`);
}

export function configFor(prefix: string, dir: string, env: NodeJS.ProcessEnv = {}): SmqConfig {
  return resolveConfig({ dbFile: path.join(dir, 'tasks.db'), redisUrl: REDIS_URL, queuePrefix: prefix }, { ...process.env, DB_TYPE: 'sqlite', ...env });
}

/** Producer deps and a running reconciler on the test's prefix. */
export async function startPipeline(store: TaskStore, config: SmqConfig) {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const dispatcher = new Dispatcher(redis, config.queuePrefix);
  const reconciler = new Reconciler({
    store,
    redisUrl: REDIS_URL,
    prefix: config.queuePrefix,
    sweepIntervalMs: 1000,
    logger: createWorkerLogger({ name: 'reconciler', level: process.env.SMQ_TEST_LOG ?? 'silent' }),
  });
  await reconciler.start();
  return {
    deps: { store, dispatcher, config, redis },
    async stop() {
      await reconciler.stop();
      await dispatcher.close();
      redis.disconnect();
    },
  };
}
