import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/core/errors.ts';
import {
  assertJobId, newRunId, poseRunId, poseStepIds, RUN_ID_PATTERN, travelOrchestratorId, travelSegmentId, travelStitchId, genericTaskId,
} from '../../src/producers/ids.ts';
import { parseResolution } from '../../src/producers/resolution.ts';
import { expandPerSegment, expandTravel, parseTravelOptions } from '../../src/producers/travel-args.ts';
import { buildOrchestratorDetails, planVaceRefs, SEED_ORCHESTRATOR_DETAIL_KEYS, travelTaskArgs } from '../../src/producers/travel-payload.ts';
import { normaliseArgv, convertFlags, lastOccurrenceWins, TRAVEL_FLAGS } from '../../src/producers/cli/flags.ts';
import { runProgress } from '../../src/producers/progress.ts';
import { classifyProbe } from '../../src/producers/media-check.ts';
import { parsePoseOptions } from '../../src/producers/pose-args.ts';

function field(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return err.field;
  }
  assert.fail('expected a ValidationError');
}

describe('ids', () => {
  it('formats the run id as local YYYYMMDD_HHMMSS_ffffff with ms*1000 + sub-ms', () => {
    const d = new Date(2025, 5, 3, 22, 15, 0, 123);
    assert.equal(newRunId(d, 456), '20250603_221500_123456');
    assert.equal(newRunId(d, 7), '20250603_221500_123007');
    assert.match(newRunId(), RUN_ID_PATTERN);
  });
  it('derives orchestrator, segment, stitch and pose ids in the seed formats', () => {
    const run = '20250603_221500_123456';
    assert.match(travelOrchestratorId(run), /^sm_travel_orchestrator_20250603_[0-9a-f]{12}$/);
    assert.notEqual(travelOrchestratorId(run), travelOrchestratorId(run));
    assert.equal(travelSegmentId(run, 0), 'travel_seg_20250603_221500_123456_00');
    assert.equal(travelSegmentId(run, 12), 'travel_seg_20250603_221500_123456_12');
    assert.equal(travelStitchId(run), 'travel_stitch_20250603_221500_123456');
    const pose = poseRunId();
    assert.match(pose, /^sm_pose_rife_[0-9a-f]{12}$/);
    assert.equal(poseStepIds.userPose(pose), `pose_op_user_${pose}`);
    assert.equal(poseStepIds.finalVideo(pose), `pose_finalvid_custom_${pose}`);
    assert.match(genericTaskId(), /^sm_task_[0-9a-f]{12}$/);
    assert.equal(field(() => travelSegmentId(run, -1)), 'segment_index');
  });
  it('refuses ids BullMQ would reject', () => {
    assert.equal(field(() => assertJobId('a:b')), 'task_id');
    assert.equal(field(() => assertJobId('12345')), 'task_id');
    assert.equal(field(() => assertJobId('')), 'task_id');
    assert.equal(assertJobId('task_1'), 'task_1');
  });
});

describe('parseResolution', () => {
  it('accepts WxH with whitespace tolerated', () => {
    assert.deepEqual(parseResolution('640x480'), [640, 480]);
    assert.deepEqual(parseResolution(' 320 x 240 '), [320, 240]);
  });
  for (const bad of ['640X480', '640', '640x480x2', 'axb', '0x480', '640x-1', '']) {
    it(`rejects ${JSON.stringify(bad)} with the seed's message`, () => {
      assert.throws(
        () => parseResolution(bad),
        (e: unknown) =>
          e instanceof ValidationError &&
          e.field === '--resolution' &&
          e.message.includes(`Resolution string must be in WIDTHxHEIGHT format with positive integers (e.g., '960x544'), got ${bad}. Error:`),
      );
    });
  }
});

const base = { input_images: ['a.png', 'b.png', 'c.png'], base_prompts: ['p'], resolution: '320x240' };

describe('travel options and expansion', () => {
  it('applies the e88631f defaults (engine onnx, chained)', () => {
    const o = parseTravelOptions(base);
    assert.deepEqual(o.segment_frames, [81]);
    assert.deepEqual(o.frame_overlap, [16]);
    assert.deepEqual(o.negative_prompts, ['']);
    assert.equal(o.execution_engine, 'onnx');
    assert.equal(o.segment_mode, 'chained');
    assert.equal(o.model_name, 'vace_14B');
    assert.equal(o.seed, 12345);
    assert.equal(o.upscale_model_name, 'ltxv_13B');
  });
  it('broadcasts one value and keeps n values', () => {
    const e = expandTravel(parseTravelOptions({ ...base, segment_frames: [30, 40], frame_overlap: [10] }));
    assert.equal(e.numSegments, 2);
    assert.deepEqual(e.segment_frames_expanded, [30, 40]);
    assert.deepEqual(e.frame_overlap_expanded, [10, 10]);
    assert.deepEqual(e.base_prompts_expanded, ['p', 'p']);
  });
  it('counts one segment per image with a continued video', () => {
    const e = expandTravel(parseTravelOptions({ ...base, input_images: ['a.png'], continue_from_video: 'v.mp4', segment_frames: [30], frame_overlap: [5] }));
    assert.equal(e.numSegments, 1);
  });
  it('refuses mismatched counts naming the flag and both counts', () => {
    assert.throws(() => expandPerSegment([1, 2, 3], 2, '--segment_frames'), /--segment_frames: got 3 values for 2 segments/);
  });
  it('names both anchors, or the continued video, when frames <= overlap', () => {
    assert.throws(() => expandTravel(parseTravelOptions({ ...base, segment_frames: [30, 10], frame_overlap: [10] })), /segment 1 \(from b\.png to c\.png\).*--segment_frames 10.*--frame_overlap 10/);
    assert.throws(
      () => expandTravel(parseTravelOptions({ ...base, input_images: ['a.png'], continue_from_video: 'v.mp4', segment_frames: [8], frame_overlap: [8] })),
      /from the continued video to a\.png/,
    );
    // overlap 0 imposes nothing beyond frames > 0
    assert.equal(expandTravel(parseTravelOptions({ ...base, segment_frames: [1], frame_overlap: [0] })).numSegments, 2);
  });
  it('names the flag of a bad option value', () => {
    assert.equal(field(() => parseTravelOptions({ ...base, execution_engine: 'tensorrt' })), '--execution_engine');
    assert.equal(field(() => parseTravelOptions({ ...base, fade_in_duration: '{oops' })), '--fade_in_duration');
    assert.equal(field(() => parseTravelOptions({ ...base, priority: 0 })), '--priority');
    assert.equal(field(() => parseTravelOptions({ ...base, bogus: 1 })), '--bogus');
    assert.equal(field(() => parsePoseOptions({ input_image: 'a.png', prompt: 'p', resolution: '64x64', output_video_frames: 1 })), '--output_video_frames');
  });
});

/** Spec 01 §3.3, written out independently of the implementation's list. */
const SPEC_KEYS = [
  'orchestrator_task_id', 'run_id', 'original_task_args', 'original_common_args', 'parsed_resolution_wh',
  'main_output_dir_for_run', 'orchestrator_log_folder', 'input_image_paths_resolved', 'continue_from_video_resolved_path',
  'num_new_segments_to_generate', 'base_prompts_expanded', 'negative_prompts_expanded', 'segment_frames_expanded',
  'frame_overlap_expanded', 'vace_image_refs_prepared', 'fade_in_params_json_str', 'fade_out_params_json_str', 'model_name',
  'seed_base', 'execution_engine', 'use_causvid_lora', 'cfg_star_switch', 'cfg_zero_step', 'params_json_str_override',
  'fps_helpers', 'last_frame_duplication', 'subsequent_starting_strength_adjustment', 'desaturate_subsequent_starting_frames',
  'adjust_brightness_subsequent_starting_frames', 'after_first_post_generation_saturation', 'crossfade_sharp_amt',
  'upscale_factor', 'upscale_model_name', 'debug_mode_enabled', 'skip_cleanup_enabled',
];
/** The seed namespace keys of spec 01 §3.6's original_task_args, in order. */
const SPEC_ARG_KEYS = [
  'task', 'resolution', 'model_name', 'seed', 'db_path', 'output_dir', 'fps_helpers', 'output_video_frames', 'poll_interval',
  'poll_timeout', 'skip_cleanup', 'debug', 'use_causvid_lora', 'upscale_model_name', 'last_frame_duplication',
  'final_image_strength', 'initial_image_strength', 'fade_in_duration', 'fade_out_duration',
  'subsequent_starting_strength_adjustment', 'desaturate_subsequent_starting_frames',
  'adjust_brightness_subsequent_starting_frames', 'execution_engine', 'cfg_star_switch', 'cfg_zero_step', 'params_json_str',
  'after_first_post_generation_saturation', 'input_images', 'base_prompts', 'negative_prompts', 'frame_overlap',
  'segment_frames', 'upscale_factor', 'continue_from_video',
];

describe('orchestrator_details', () => {
  const opts = parseTravelOptions({ ...base, input_images: ['samples/image_1.png', 'samples/image_2.png', 'samples/image_3.png'], base_prompts: ['Transitioning from red', 'Moving to green'], segment_frames: [30], frame_overlap: [10], seed: 789, output_dir: './my_video_outputs', debug: true });
  const expansion = expandTravel(opts);
  const details = buildOrchestratorDetails({
    opts, expansion, runId: '20250603_221500_123456', orchestratorTaskId: 'sm_travel_orchestrator_20250603_4f1c9a0b7e2d',
    outputDir: '/o', logFolder: '/o/travel_orchestrator_log_20250603_221500_123456', imagePaths: ['/i/1.png', '/i/2.png', '/i/3.png'],
    continueVideoPath: null, vaceRefs: [],
  });
  it('carries every seed key in the seed order, then segment_mode and priority', () => {
    assert.deepEqual(Object.keys(details), [...SPEC_KEYS, 'segment_mode', 'priority']);
    assert.deepEqual([...SEED_ORCHESTRATOR_DETAIL_KEYS], SPEC_KEYS);
  });
  it('matches the spec 3.6 sample values', () => {
    assert.deepEqual(details.parsed_resolution_wh, [320, 240]);
    assert.equal(details.num_new_segments_to_generate, 2);
    assert.deepEqual(details.negative_prompts_expanded, ['', '']);
    assert.deepEqual(details.segment_frames_expanded, [30, 30]);
    assert.equal(details.seed_base, 789);
    assert.equal(details.crossfade_sharp_amt, 0.3);
    assert.equal(details.debug_mode_enabled, true);
    assert.equal(details.fade_in_params_json_str, '{"low_point": 0.0, "high_point": 1.0, "curve_type": "ease_in_out", "duration_factor": 0.0}');
    const args = details.original_task_args as Record<string, unknown>;
    assert.deepEqual(Object.keys(args), [...SPEC_ARG_KEYS, 'segment_mode', 'priority']);
    assert.deepEqual(args.input_images, ['samples/image_1.png', 'samples/image_2.png', 'samples/image_3.png']);
    assert.equal(args.output_dir, './my_video_outputs');
    assert.deepEqual(details.original_common_args, args);
    assert.deepEqual(Object.keys(travelTaskArgs(opts))[0], 'task');
  });
});

describe('planVaceRefs', () => {
  it('plans final anchors only by default, named as the seed', () => {
    const refs = planVaceRefs({ imagePaths: ['/a/1.png', '/a/2.jpg', '/a/3'], numSegments: 2, continuing: false, initialStrength: 0, finalStrength: 1, logFolder: '/log' });
    assert.deepEqual(refs.map((r) => [r.type, r.original_path, r.processed_path, r.segment_idx_for_naming]), [
      ['final', '/a/2.jpg', '/log/s0_final_anchor_strength_1.00.jpg', 0],
      ['final', '/a/3', '/log/s1_final_anchor_strength_1.00.png', 1],
    ]);
  });
  it('clamps strengths and uses image[i-1]/image[i] with a continued video', () => {
    const refs = planVaceRefs({ imagePaths: ['/a/1.png', '/a/2.png'], numSegments: 2, continuing: true, initialStrength: 0.5, finalStrength: 7, logFolder: '/log' });
    assert.deepEqual(refs.map((r) => [r.type, r.original_path, r.strength]), [
      ['final', '/a/1.png', 1],
      ['initial', '/a/1.png', 0.5],
      ['final', '/a/2.png', 1],
    ]);
    assert.equal(refs[1]!.processed_path, '/log/s1_initial_anchor_strength_0.50.png');
  });
});

describe('CLI argv normalisation', () => {
  const known = TRAVEL_FLAGS.map((f) => f.name).concat('resolution', 'seed', 'segment_frames');
  it('maps kebab-case and unique prefixes to the seed flags', () => {
    assert.deepEqual(normaliseArgv(['--input-images', 'a', '--base_p', 'x', '--seed=3', '--', '--not-a-flag'], known), [
      '--input_images', 'a', '--base_prompts', 'x', '--seed=3', '--', '--not-a-flag',
    ]);
  });
  it('lets the last occurrence of a repeated list flag win, as argparse does', () => {
    assert.deepEqual(lastOccurrenceWins(['--base_prompts', 'a', '--seed', '1', '--base_prompts', 'b', 'c', '--frame_overlap', '-1', '--', '--base_prompts'], ['base_prompts', 'frame_overlap']), [
      '--seed', '1', '--base_prompts', 'b', 'c', '--frame_overlap', '-1', '--', '--base_prompts',
    ]);
  });
  it('refuses an ambiguous prefix naming it', () => {
    assert.equal(field(() => normaliseArgv(['--segment_', '3'], known.concat('segment_mode'))), '--segment_');
  });
  it('converts numbers and names the flag of a non-number', () => {
    assert.deepEqual(convertFlags({ segment_frames: ['30', '40'] }, TRAVEL_FLAGS), { segment_frames: [30, 40] });
    assert.equal(field(() => convertFlags({ segment_frames: ['3.5'] }, TRAVEL_FLAGS)), '--segment_frames');
  });
});

describe('progress and probe classification', () => {
  it('averages task percents, Complete counting 100', () => {
    const p = runProgress([
      { status: 'Complete', progress: null },
      { status: 'In Progress', progress: { stage: 'gen', percent: 50 }, jobProgress: null },
      { status: 'Queued', progress: null },
      { status: 'In Progress', progress: null, jobProgress: { percent: 30 } },
    ]);
    assert.deepEqual(p, { complete: 1, failed: 0, total: 4, percent: 45 });
  });
  it('tells images from videos by ffprobe format', () => {
    assert.equal(classifyProbe({ streams: [{ codec_type: 'video', width: 2, height: 2 }], format: { format_name: 'png_pipe' } }).kind, 'image');
    assert.equal(classifyProbe({ streams: [{ codec_type: 'video', width: 64, height: 48 }], format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2' } }).kind, 'video');
    // what ffprobe says of a text file named .png: a guessed stream it could not size
    assert.equal(classifyProbe({ streams: [{ codec_type: 'video', width: 0, height: 0 }], format: { format_name: 'image2' } }).kind, null);
    assert.equal(classifyProbe({ streams: [{ codec_type: 'audio' }], format: { format_name: 'mp3' } }).kind, null);
  });
});
