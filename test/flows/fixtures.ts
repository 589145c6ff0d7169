import type { TaskRow } from '../../src/core/types.ts';

const FADE = '{"low_point": 0.0, "high_point": 1.0, "curve_type": "ease_in_out", "duration_factor": 0.0}';

/** The seed's README sample payload (spec 01 §3.6), with paths under `root`: only seed keys. */
export function seedDetails(root: string, runId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    orchestrator_task_id: `sm_travel_orchestrator_${runId.slice(0, 8)}_4f1c9a0b7e2d`,
    run_id: runId,
    original_task_args: { task: 'travel_between_images', resolution: '320x240', seed: 789, debug: true },
    original_common_args: { task: 'travel_between_images', resolution: '320x240', seed: 789, debug: true },
    parsed_resolution_wh: [320, 240],
    main_output_dir_for_run: `${root}/my_video_outputs`,
    orchestrator_log_folder: `${root}/my_video_outputs/travel_orchestrator_log_${runId}`,
    input_image_paths_resolved: [`${root}/samples/image_1.png`, `${root}/samples/image_2.png`, `${root}/samples/image_3.png`],
    continue_from_video_resolved_path: null,
    num_new_segments_to_generate: 2,
    base_prompts_expanded: ['Transitioning from red', 'Moving to green'],
    negative_prompts_expanded: ['', ''],
    segment_frames_expanded: [30, 30],
    frame_overlap_expanded: [10, 10],
    vace_image_refs_prepared: [
      { type: 'final', original_path: `${root}/samples/image_2.png`, strength: 1.0, processed_path: `${root}/log/s0_final_anchor_strength_1.00.png` },
      { type: 'final', original_path: `${root}/samples/image_3.png`, strength: 1.0, processed_path: `${root}/log/s1_final_anchor_strength_1.00.png` },
    ],
    fade_in_params_json_str: FADE,
    fade_out_params_json_str: FADE,
    model_name: 'vace_14B',
    seed_base: 789,
    execution_engine: 'wgp',
    use_causvid_lora: false,
    cfg_star_switch: 0,
    cfg_zero_step: -1,
    params_json_str_override: null,
    fps_helpers: 25,
    last_frame_duplication: 0,
    subsequent_starting_strength_adjustment: 0.0,
    desaturate_subsequent_starting_frames: 0.0,
    adjust_brightness_subsequent_starting_frames: 0.0,
    after_first_post_generation_saturation: null,
    crossfade_sharp_amt: 0.3,
    upscale_factor: 0.0,
    upscale_model_name: 'ltxv_13B',
    debug_mode_enabled: true,
    skip_cleanup_enabled: false,
    ...overrides,
  };
}

export function fakeRow(taskId: string, status: TaskRow['status'], outputLocation: string | null = null): TaskRow {
  const now = new Date().toISOString();
  return {
    taskId,
    taskType: taskId.startsWith('travel_stitch') ? 'travel_stitch' : 'travel_segment',
    params: {},
    paramsError: null,
    status,
    workerId: null,
    outputLocation,
    createdAt: now,
    updatedAt: now,
    attempts: 0,
    errorMessage: null,
    progress: null,
    runId: null,
    parentTaskId: null,
    queueName: null,
    startedAt: null,
    finishedAt: null,
  };
}
