import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { openStore } from '../../src/db/open-store.ts';
import { enqueueDifferentPose } from '../../src/producers/api.ts';
import { Harness } from '../consumers/helpers.ts';
import { configFor, countFrames, makeImages, startPipeline, waitForRow } from './travel.helpers.ts';

test('README different_pose sample ends with its video and final_posed_image_<run_id>.png', { timeout: 240_000 }, async () => {
  const h = await new Harness().init();
  const config = configFor(h.prefix, h.dir);
  const store = await openStore(config);
  const pipeline = await startPipeline(store, config);
  try {
    await h.startWorker({ config, engines: ['onnx'] });
    const [image] = await makeImages(h.dir);
    const outDir = path.join(h.dir, 'pose_out');
    const run = await enqueueDifferentPose({ input_image: image, prompt: 'the character raising both arms', resolution: '320x240', output_dir: outDir }, pipeline.deps, { cwd: h.dir });
    const row = await waitForRow(store, run.orchestratorTaskId, ['Complete', 'Failed'], 200_000);
    assert.equal(row.status, 'Complete', `different_pose failed: ${row.errorMessage}`);
    assert.ok(row.outputLocation?.endsWith('.mp4'), `output ${row.outputLocation}`);
    const { frames } = await countFrames(row.outputLocation!);
    assert.equal(frames, 30, 'output_video_frames default');
    const posed = path.join(outDir, `final_posed_image_${run.runId}.png`);
    assert.ok((await stat(posed)).size > 0, `${posed} exists`);
  } finally {
    await h.close();
    await pipeline.stop();
    await store.close();
  }
});
