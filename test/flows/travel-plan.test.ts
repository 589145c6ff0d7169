import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildTask } from '../../src/consumers/handlers/types.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { parseOrchestratorDetails } from '../../src/flows/travel-details.ts';
import { expectedFinalFrames, planTravel, travelTaskIds, wanFrameCount } from '../../src/flows/travel-plan.ts';
import { fakeRow, seedDetails } from './fixtures.ts';

const RUN = '20250603_221500_123456';
const ORCH = 'sm_travel_orchestrator_20250603_4f1c9a0b7e2d';
const SEG0 = `travel_seg_${RUN}_00`;
const SEG1 = `travel_seg_${RUN}_01`;
const STITCH = `travel_stitch_${RUN}`;

function details(overrides: Record<string, unknown> = {}) {
  return parseOrchestratorDetails(seedDetails('/data', RUN, overrides), { fallbackRunId: ORCH, outputRoot: '/worker/out' });
}

/** Tree as nested ids, e.g. ['stitch', ['seg1', ['seg0']]]. */
function shape(n: ChildTask): unknown[] {
  return [n.taskId, ...(n.children ?? []).map(shape)];
}

test('a seed payload gets smq defaults: chained mode, onnx only when absent', () => {
  const d = details();
  assert.equal(d.segment_mode, 'chained');
  assert.equal(d.execution_engine, 'wgp'); // the seed row asked for wgp explicitly
  const bare = seedDetails('/data', RUN);
  delete bare.execution_engine;
  delete bare.fps_helpers;
  const d2 = parseOrchestratorDetails(bare, { fallbackRunId: ORCH, outputRoot: '/w' });
  assert.equal(d2.execution_engine, 'onnx');
  assert.equal(d2.fps_helpers, 25);
});

test('chained plan of the README sample: ids, tree, params and frame arithmetic', () => {
  const plan = planTravel({ orchestratorTaskId: ORCH, details: details(), existing: [] });
  assert.deepEqual(plan.tree.map(shape), [[STITCH, [SEG1, [SEG0]]]]);
  const [s0, s1] = plan.segments;
  assert.equal(s0.taskId, SEG0);
  assert.equal(s0.parentTaskId, SEG1);
  assert.equal(s1.parentTaskId, STITCH);
  assert.equal(plan.stitch.parentTaskId, ORCH);
  assert.equal(s0.params.task_id, SEG0);
  assert.equal(s0.params.orchestrator_task_id_ref, ORCH);
  assert.equal(s0.params.frames_to_generate, 30);
  assert.equal(s0.params.frame_overlap_from_previous, 0);
  assert.equal(s1.params.frames_to_generate, 40);
  assert.equal(s1.params.frame_overlap_from_previous, 10);
  assert.equal(s1.params.frame_overlap_with_next, 10);
  assert.equal(s0.params.seed_to_use, 789);
  assert.equal(s1.params.seed_to_use, 790);
  assert.equal(s1.params.is_last_segment, true);
  assert.equal(s1.params.base_prompt, 'Moving to green');
  assert.equal(s1.params.previous_segment_task_id, SEG0);
  assert.equal(s1.params.path_to_previous_segment_output, undefined);
  assert.equal(s0.params.current_run_base_output_dir, `/data/my_video_outputs/travel_run_${RUN}`);
  assert.equal(s0.params.execution_engine, 'wgp');
  assert.equal(s0.params.fade_in_params_json_str, seedDetails('/data', RUN).fade_in_params_json_str);
  // The seed never passed refs (02 §3.6); smq passes each segment its own.
  assert.deepEqual((s1.params.vace_image_refs_for_segment as { processed_path: string }[]).map((r) => r.processed_path), ['/data/log/s1_final_anchor_strength_1.00.png']);
  const st = plan.stitch.params;
  assert.deepEqual(st.segment_task_ids, [SEG0, SEG1]);
  assert.deepEqual(st.stitch_join_overlaps, [10]);
  assert.equal(st.final_output_dir, '/data/my_video_outputs');
  assert.equal(st.seed_for_upscale, 5789);
  assert.equal(st.fps_final_video, 25);
  assert.equal(st.num_total_segments_generated, 2);
  assert.equal(plan.expectedFinalFrames, 60);
});

test('independent plan: all segments are siblings under the stitch', () => {
  const d = details({ segment_mode: 'independent', num_new_segments_to_generate: 3, input_image_paths_resolved: ['a', 'b', 'c', 'd'], base_prompts_expanded: ['p'], negative_prompts_expanded: [''], segment_frames_expanded: [20, 30, 40], frame_overlap_expanded: [5] });
  const plan = planTravel({ orchestratorTaskId: ORCH, details: d, existing: [] });
  assert.deepEqual(plan.tree.map(shape), [[STITCH, [SEG0], [SEG1], [`travel_seg_${RUN}_02`]]]);
  assert.ok(plan.segments.every((s) => s.parentTaskId === STITCH));
  assert.deepEqual(plan.segments.map((s) => s.params.frames_to_generate), [20, 35, 45]);
  assert.deepEqual(plan.segments.map((s) => s.params.base_prompt), ['p', 'p', 'p']);
  assert.equal(plan.segments[1].params.previous_segment_task_id, undefined);
  assert.equal(plan.expectedFinalFrames, 90);
});

test('continue video: segment 0 overlaps it, joins include it', () => {
  const d = details({ continue_from_video_resolved_path: '/data/cont.mp4', input_image_paths_resolved: ['b', 'c'], frame_overlap_expanded: [8, 12] });
  const plan = planTravel({ orchestratorTaskId: ORCH, details: d, existing: [] });
  assert.deepEqual(plan.segments.map((s) => s.params.frame_overlap_from_previous), [8, 8]);
  assert.deepEqual(plan.segments.map((s) => s.params.frames_to_generate), [38, 38]);
  assert.deepEqual(plan.stitch.params.stitch_join_overlaps, [8, 8]);
  assert.equal(expectedFinalFrames(d, 50), 110);
});

test('re-plan: Complete rows are not planned again and their outputs are passed by reference', () => {
  const d = details();
  const done = [fakeRow(SEG0, 'Complete', '/out/seg0.mp4'), fakeRow(SEG1, 'Failed')];
  const plan = planTravel({ orchestratorTaskId: ORCH, details: d, existing: done });
  assert.deepEqual(plan.tree.map(shape), [[STITCH, [SEG1]]]);
  assert.equal(plan.segments[1].params.path_to_previous_segment_output, '/out/seg0.mp4');
  assert.deepEqual(plan.stitch.params.segment_outputs, { '0': '/out/seg0.mp4' });
  // A pending segment whose successor is done hangs under the stitch.
  const gap = planTravel({ orchestratorTaskId: ORCH, details: d, existing: [fakeRow(SEG1, 'Complete', '/out/seg1.mp4')] });
  assert.deepEqual(gap.tree.map(shape), [[STITCH, [SEG0]]]);
  assert.equal(gap.segments[0].parentTaskId, STITCH);
  // Stitch done: nothing to add.
  const fin = planTravel({ orchestratorTaskId: ORCH, details: d, existing: [fakeRow(STITCH, 'Complete', '/out/final.mp4')] });
  assert.deepEqual(fin.tree, []);
  assert.equal(fin.stitch.outputLocation, '/out/final.mp4');
});

test('travelTaskIds names every task of the run', () => {
  assert.deepEqual(travelTaskIds(details()), [SEG0, SEG1, STITCH]);
});

test('missing run_id falls back to the row id; missing output dir to the worker root', () => {
  const raw = seedDetails('/data', RUN);
  delete raw.run_id;
  delete raw.main_output_dir_for_run;
  const d = parseOrchestratorDetails(raw, { fallbackRunId: ORCH, outputRoot: '/worker/out' });
  assert.equal(d.run_id, ORCH);
  assert.equal(d.main_output_dir_for_run, '/worker/out');
});

test('bad details fail naming the field', () => {
  const bad = (o: Record<string, unknown>, field: RegExp) =>
    assert.throws(() => details(o), (e: unknown) => e instanceof ValidationError && field.test(e.field) && field.test(e.message));
  bad({ num_new_segments_to_generate: 0 }, /num_new_segments_to_generate/);
  bad({ segment_frames_expanded: [30, 30, 30] }, /segment_frames_expanded/);
  bad({ segment_frames_expanded: [30, 0] }, /segment_frames_expanded/);
  bad({ input_image_paths_resolved: ['a'] }, /input_image_paths_resolved/);
  bad({ segment_mode: 'parallel' }, /segment_mode/);
  bad({ parsed_resolution_wh: 'big' }, /parsed_resolution_wh/);
  assert.throws(() => parseOrchestratorDetails(undefined, { fallbackRunId: ORCH, outputRoot: '/' }), /orchestrator_details/);
});

test('wanFrameCount is the next 4k+1', () => {
  assert.deepEqual([1, 2, 5, 29, 30, 40, 41, 97].map(wanFrameCount), [1, 5, 5, 29, 33, 41, 41, 97]);
});

test('segment params stay the same size whatever the run length: the run-wide lists stay on the orchestrator row', () => {
  const segmentBytes = (n: number) => {
    const images = Array.from({ length: n + 1 }, (_, i) => `/data/images/image_${i}.png`);
    const plan = planTravel({ orchestratorTaskId: ORCH, details: details({ num_new_segments_to_generate: n, input_image_paths_resolved: images, base_prompts_expanded: ['p'], negative_prompts_expanded: [''], segment_frames_expanded: [30], frame_overlap_expanded: [10] }), existing: [] });
    for (const s of plan.segments) {
      assert.equal('full_orchestrator_payload' in s.params, false, `${s.taskId} carries the whole details`);
      assert.equal('input_image_paths_resolved' in s.params, false, `${s.taskId} carries every image path`);
      // What the segment handler needs at the top level is still there.
      assert.equal(s.params.orchestrator_task_id_ref, ORCH);
      assert.equal(s.params.execution_engine, 'wgp');
    }
    return Buffer.byteLength(JSON.stringify(plan.segments[1]!.params));
  };
  const small = segmentBytes(2);
  const large = segmentBytes(400);
  // Only the digits of the index and flags differ.
  assert.ok(Math.abs(large - small) <= 8, `segment 1 params: ${small} bytes at 2 segments, ${large} at 400`);
});
