import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allRows } from '../support/faults/final-check.ts';
import { runCommand, SM_BIN } from '../support/faults/proc.ts';
import { recordResult } from '../support/faults/results.ts';
import { FaultWorld } from '../support/faults/world.ts';

test('10,000 input images, all present but the last: accepted or refused within 60 s, nothing half-written', { timeout: 200_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    const [a0] = await world.images(1);
    const many = Array.from({ length: 9_999 }, () => a0!).concat(['missing_10000.png']);
    const args = ['travel_between_images', '--input_images', ...many, '--base_prompts', 'p', '--resolution', '64x48', '--segment_frames', '10', '--frame_overlap', '2', '--output_dir', 'out', '--db_path', world.config.sqlitePath];
    const r = await runCommand(process.execPath, [SM_BIN, ...args], { env: { DB_TYPE: 'sqlite', REDIS_URL: world.redisUrl, SMQ_QUEUE_PREFIX: world.prefix }, cwd: world.dir, timeoutMs: 150_000 });
    const rows = (await allRows(world.store)).length;
    const problems: string[] = [];
    if (r.code === 0) problems.push('a run with a missing image was accepted');
    if (!/missing_10000|input_images/.test(r.stderr + r.stdout)) problems.push(`the refusal does not name the missing image: ${(r.stderr + r.stdout).slice(0, 300)}`);
    if (r.ms > 60_000) problems.push(`took ${r.ms} ms (killed at 150 s): every image is probed with its own ffprobe, in order, before the missing one is noticed`);
    if (rows !== 0) problems.push(`${rows} rows written`);
    recordResult({ fault: 'CLI: 10,000 input images (last missing)', tries: 1, survived: problems.length ? 0 : 1, lost: 0 });
    assert.deepEqual(problems, []);
  } finally {
    await world.close();
  }
});
