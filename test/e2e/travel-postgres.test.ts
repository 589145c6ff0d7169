import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore } from '../../src/db/open-store.ts';
import { enqueueTravel } from '../../src/producers/api.ts';
import { Harness } from '../consumers/helpers.ts';
import { createTestSchema } from '../support/pg.ts';
import { configFor, countFrames, makeImages, startPipeline, waitForRow } from './travel.helpers.ts';

test('README sample travel completes on PostgreSQL with a 60-frame final video', { timeout: 240_000 }, async () => {
  const h = await new Harness().init();
  const schema = await createTestSchema();
  const config = configFor(h.prefix, h.dir, { DB_TYPE: 'postgres', DATABASE_URL: schema.url });
  const store = await openStore(config, { schema: schema.name });
  const pipeline = await startPipeline(store, config);
  try {
    await h.startWorker({ config, engines: ['onnx'], storeSchema: schema.name });
    const images = await makeImages(h.dir);
    const outDir = path.join(h.dir, 'out');
    const run = await enqueueTravel(
      { input_images: images, base_prompts: ['a', 'b'], segment_frames: [30], frame_overlap: [10], resolution: '320x240', output_dir: outDir, segment_mode: 'chained' },
      pipeline.deps,
      { cwd: h.dir },
    );
    const row = await waitForRow(store, run.orchestratorTaskId, ['Complete', 'Failed'], 200_000);
    assert.equal(row.status, 'Complete', `orchestrator failed: ${row.errorMessage}`);
    assert.equal(row.outputLocation, path.join(outDir, `travel_final_${run.runId}.mp4`));
    assert.equal((await countFrames(row.outputLocation!)).frames, 60);
    assert.equal(store.kind, 'postgres');
  } finally {
    await h.close();
    await pipeline.stop();
    await store.close();
    await schema.drop();
  }
});
