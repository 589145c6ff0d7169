import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { openStore } from '../../src/db/open-store.ts';
import { enqueueTravel } from '../../src/producers/api.ts';
import { Harness } from '../consumers/helpers.ts';
import { configFor, countFrames, makeImages, startPipeline, waitForRow } from './travel.helpers.ts';
import { probeForCopy } from '../../src/consumers/media/stitch-probe.ts';

for (const mode of ['chained', 'independent'] as const) {
  test(`README sample travel (3 images, 30/10, 320x240) ends in one 60-frame 25 fps video — ${mode}`, { timeout: 240_000 }, async () => {
    const h = await new Harness().init();
    const config = configFor(h.prefix, h.dir);
    const store = await openStore(config);
    const pipeline = await startPipeline(store, config);
    try {
      await h.startWorker({ config, engines: ['onnx'] });
      const images = await makeImages(h.dir);
      const outDir = path.join(h.dir, 'my_video_outputs');
      const run = await enqueueTravel(
        { input_images: images, base_prompts: ['a calm lake', 'a red sunset'], segment_frames: [30], frame_overlap: [10], resolution: '320x240', seed: 789, output_dir: outDir, segment_mode: mode },
        pipeline.deps,
        { cwd: h.dir },
      );
      assert.equal(run.numSegments, 2);
      const row = await waitForRow(store, run.orchestratorTaskId, ['Complete', 'Failed'], 200_000);
      assert.equal(row.status, 'Complete', `orchestrator failed: ${row.errorMessage}`);
      const expected = path.join(outDir, `travel_final_${run.runId}.mp4`);
      assert.equal(row.outputLocation, expected);
      const { frames, fps } = await countFrames(expected);
      assert.equal(frames, 60);
      assert.equal(fps, '25/1');
      // The segments were published with the stitch recipe, so the stitch copied their middles:
      // the final file starts a new IDR where each copied or cross-faded stretch begins (segment 0's
      // frames 0–19, the fade 20–29, segment 1's 30–59). A re-encode would have one keyframe.
      assert.deepEqual([...(await probeForCopy(expected)).keyframes].sort((a, b) => a - b), [0, 20, 30]);
      const finals = (await readdir(outDir)).filter((f) => f.startsWith('travel_final_'));
      assert.deepEqual(finals, [path.basename(expected)]);
      // Intermediates are gone (no --debug / --skip_cleanup).
      assert.ok(!(await readdir(outDir)).includes(`travel_run_${run.runId}`));
      for (const id of run.segmentTaskIds) assert.equal((await store.get(id))?.status, 'Complete');
    } finally {
      await h.close();
      await pipeline.stop();
      await store.close();
    }
  });
}
