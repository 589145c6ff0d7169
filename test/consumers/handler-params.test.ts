import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './helpers.ts';

/**
 * Every built-in handler refuses bad params at the edge: the job fails on its first attempt
 * (attempts remain unused) and the reason names the offending field.
 */
const CASES: Array<{ taskType: string; queue: string; params: Record<string, unknown>; field: RegExp }> = [
  { taskType: 'travel_segment', queue: 'gpu-onnx', params: { orchestrator_task_id_ref: 'o', orchestrator_run_id: 'r', segment_index: 'zero', segment_frames_target: 30 }, field: /segment_index: / },
  { taskType: 'travel_segment', queue: 'gpu-onnx', params: { orchestrator_run_id: 'r', segment_index: 0, segment_frames_target: 30 }, field: /orchestrator_task_id_ref: / },
  { taskType: 'travel_stitch', queue: 'cpu', params: { orchestrator_run_id: 'r', frame_overlap_settings_expanded: [10], parsed_resolution_wh: [320] }, field: /parsed_resolution_wh/ },
  { taskType: 'travel_stitch', queue: 'cpu', params: { orchestrator_run_id: 'r', frame_overlap_settings_expanded: [-3], parsed_resolution_wh: [320, 240] }, field: /frame_overlap_settings_expanded\.0: / },
  { taskType: 'generate_openpose', queue: 'gpu-onnx', params: { output_path: '/tmp/x.png' }, field: /input_image_path: / },
  { taskType: 'rife_interpolate_images', queue: 'gpu-onnx', params: { input_image_path1: 'a.png', input_image_path2: 'b.png', frames: '30', resolution: '320x240' }, field: /frames: / },
  { taskType: 'standard_wgp_task', queue: 'gpu-onnx', params: { prompt: 'x', frames: 2.5 }, field: /frames: / },
  { taskType: 'standard_wgp_task', queue: 'gpu-onnx', params: { prompt: 'x', seed: 'abc' }, field: /seed: / },
  { taskType: 'comfyui_workflow', queue: 'gpu-comfyui', params: { comfyui_inputs: {} }, field: /comfyui_workflow_path: / },
  { taskType: 'comfyui_workflow', queue: 'gpu-comfyui', params: { comfyui_workflow_path: '/w.json', comfyui_server_address: 'not a url' }, field: /comfyui_server_address: / },
  { taskType: 'travel_orchestrator', queue: 'cpu', params: { orchestrator_details: 'nope' }, field: /orchestrator_details/ },
];

test('bad params fail every built-in handler on the first attempt, naming the field', { timeout: 90_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker({ engines: ['onnx', 'comfyui'] });
    const jobs = [];
    for (const c of CASES) jobs.push({ c, job: await h.add(c.taskType, c.params, { queue: c.queue, attempts: 3 }) });
    for (const { c, job } of jobs) {
      const done = await h.waitForState(job.id!, ['failed', 'completed'], 30_000, c.queue);
      assert.equal(await done.getState(), 'failed', `${c.taskType} should fail`);
      assert.equal(done.attemptsMade, 1, `${c.taskType}: no retries for bad params`);
      // The orchestrator validates its details itself (so errors name orchestrator_details.<key>).
      if (c.taskType !== 'travel_orchestrator') assert.match(done.failedReason, new RegExp(`invalid params for ${c.taskType}`));
      assert.match(done.failedReason, c.field, `${c.taskType}: reason ${done.failedReason} names the field`);
    }
  } finally {
    await h.close();
  }
});

test('output paths that climb out of the output root are refused without retries', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker();
    const a = await h.add('standard_wgp_task', { prompt: 'x', frames: 5, resolution: '64x48', output_sub_dir: '../../etc' }, { queue: 'gpu-onnx', attempts: 3 });
    const b = await h.add('standard_wgp_task', { prompt: 'x', frames: 5, resolution: '64x48', output_path: 'a/../../../escape.mp4' }, { queue: 'gpu-onnx', attempts: 3 });
    const fa = await h.waitForState(a.id!, ['failed', 'completed'], 30_000, 'gpu-onnx');
    const fb = await h.waitForState(b.id!, ['failed', 'completed'], 30_000, 'gpu-onnx');
    assert.equal(fa.attemptsMade, 1);
    assert.match(fa.failedReason, /^output_sub_dir: .*climbs out of the output root/);
    assert.equal(fb.attemptsMade, 1);
    assert.match(fb.failedReason, /^output_path: .*climbs out of the output root/);
  } finally {
    await h.close();
  }
});
