import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/db/open-store.ts';
import { enqueueTravel } from '../../src/producers/api.ts';
import { Harness, REDIS_URL, waitFor } from '../consumers/helpers.ts';
import { configFor, countFrames, makeImages, startPipeline, waitForRow } from './travel.helpers.ts';

const SMQ_BIN = fileURLToPath(new URL('../../bin/smq.js', import.meta.url));

function spawnWorker(h: Harness, name: string, extra: string[] = []): ChildProcess {
  return spawn(
    process.execPath,
    [SMQ_BIN, 'worker', '--name', name, '--db-file', path.join(h.dir, 'tasks.db'), '--main-output-dir', path.join(h.dir, 'outputs'), '--grace', '2', ...extra],
    { env: { ...process.env, DB_TYPE: 'sqlite', REDIS_URL, SMQ_QUEUE_PREFIX: h.prefix, SMQ_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
}

test('two worker processes share an independent-mode run; both take segments', { timeout: 300_000 }, async () => {
  const h = await new Harness().init();
  const config = configFor(h.prefix, h.dir);
  const store = await openStore(config);
  const pipeline = await startPipeline(store, config);
  const workers = [spawnWorker(h, 'proc-a'), spawnWorker(h, 'proc-b')];
  try {
    const images = await makeImages(h.dir);
    // Six images, five segments: enough that one worker cannot take them all while the other idles.
    const six = [...images, ...images];
    const outDir = path.join(h.dir, 'out');
    // Both workers must be listening before the run is queued, or the first could take everything.
    await waitFor('both workers to register', async () => (await h.queue('gpu-onnx').getWorkers()).length >= 2, 60_000);
    const run = await enqueueTravel(
      { input_images: six, base_prompts: ['x'], segment_frames: [20], frame_overlap: [4], resolution: '160x120', output_dir: outDir, segment_mode: 'independent' },
      pipeline.deps,
      { cwd: h.dir },
    );
    const row = await waitForRow(store, run.orchestratorTaskId, ['Complete', 'Failed'], 240_000);
    assert.equal(row.status, 'Complete', `orchestrator failed: ${row.errorMessage}`);
    assert.equal((await countFrames(row.outputLocation!)).frames, 100);
    const segRows = await store.getMany(run.segmentTaskIds);
    const who = new Set(segRows.map((r) => r.workerId));
    assert.deepEqual([...who].sort(), ['proc-a', 'proc-b'], `segments ran on ${[...who].join(', ')}`);
  } finally {
    await stopAll(workers);
    await h.close();
    await pipeline.stop();
    await store.close();
  }
});

test('SIGKILL of a worker mid-segment: another takes over after the lock lapses; one final video', { timeout: 300_000 }, async () => {
  const h = await new Harness().init();
  const config = configFor(h.prefix, h.dir);
  const store = await openStore(config);
  const pipeline = await startPipeline(store, config);
  const fast = ['--lock-duration', '3000', '--stalled-interval', '2000'];
  const victim = spawnWorker(h, 'victim', fast);
  const children: ChildProcess[] = [victim];
  try {
    const images = await makeImages(h.dir);
    const outDir = path.join(h.dir, 'out');
    await waitFor('the victim to register', async () => (await h.queue('gpu-onnx').getWorkers()).length >= 1, 60_000);
    const run = await enqueueTravel(
      { input_images: images, base_prompts: ['x'], segment_frames: [60], frame_overlap: [10], resolution: '320x240', output_dir: outDir, segment_mode: 'chained' },
      pipeline.deps,
      { cwd: h.dir },
    );
    const seg0 = run.segmentTaskIds[0];
    await waitFor('segment 0 to be active on the victim', async () => {
      const job = await h.queue('gpu-onnx').getJob(seg0);
      return job && (await job.getState()) === 'active' && job.processedBy === 'victim';
    }, 120_000);
    victim.kill('SIGKILL');
    children.push(spawnWorker(h, 'rescuer', fast));
    const row = await waitForRow(store, run.orchestratorTaskId, ['Complete', 'Failed'], 240_000);
    assert.equal(row.status, 'Complete', `orchestrator failed: ${row.errorMessage}`);
    assert.equal((await countFrames(row.outputLocation!)).frames, 120);
    assert.equal((await store.get(seg0))?.workerId, 'rescuer');
    const finals = (await readdir(outDir)).filter((f) => f.startsWith('travel_final_'));
    assert.equal(finals.length, 1);
  } finally {
    await stopAll(children);
    await h.close();
    await pipeline.stop();
    await store.close();
  }
});
