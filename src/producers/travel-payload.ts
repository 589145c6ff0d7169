import path from 'node:path';
import type { TravelExpansion, TravelOptions } from './travel-args.ts';

/**
 * Builds the travel orchestrator row's `params.orchestrator_details` (spec 01 §3.3, 02 §1): every key
 * the seed wrote, in the seed's order, then smq's own keys. Pure: paths come in already resolved.
 */

/** The seed's keys of `orchestrator_details`, in insertion order. */
export const SEED_ORCHESTRATOR_DETAIL_KEYS = [
  'orchestrator_task_id',
  'run_id',
  'original_task_args',
  'original_common_args',
  'parsed_resolution_wh',
  'main_output_dir_for_run',
  'orchestrator_log_folder',
  'input_image_paths_resolved',
  'continue_from_video_resolved_path',
  'num_new_segments_to_generate',
  'base_prompts_expanded',
  'negative_prompts_expanded',
  'segment_frames_expanded',
  'frame_overlap_expanded',
  'vace_image_refs_prepared',
  'fade_in_params_json_str',
  'fade_out_params_json_str',
  'model_name',
  'seed_base',
  'execution_engine',
  'use_causvid_lora',
  'cfg_star_switch',
  'cfg_zero_step',
  'params_json_str_override',
  'fps_helpers',
  'last_frame_duplication',
  'subsequent_starting_strength_adjustment',
  'desaturate_subsequent_starting_frames',
  'adjust_brightness_subsequent_starting_frames',
  'after_first_post_generation_saturation',
  'crossfade_sharp_amt',
  'upscale_factor',
  'upscale_model_name',
  'debug_mode_enabled',
  'skip_cleanup_enabled',
] as const;

/** smq's additions, after the seed's keys. */
export const SMQ_ORCHESTRATOR_DETAIL_KEYS = ['segment_mode', 'priority'] as const;

export const DEFAULT_CROSSFADE_SHARP_AMT = 0.3;

/** The seed's argparse namespace order for travel (spec 01 §3.6), then smq's keys. */
const TRAVEL_ARG_ORDER = [
  'resolution', 'model_name', 'seed', 'db_path', 'output_dir', 'fps_helpers', 'output_video_frames',
  'poll_interval', 'poll_timeout', 'skip_cleanup', 'debug', 'use_causvid_lora', 'upscale_model_name',
  'last_frame_duplication', 'final_image_strength', 'initial_image_strength', 'fade_in_duration',
  'fade_out_duration', 'subsequent_starting_strength_adjustment', 'desaturate_subsequent_starting_frames',
  'adjust_brightness_subsequent_starting_frames', 'execution_engine', 'cfg_star_switch', 'cfg_zero_step',
  'params_json_str', 'after_first_post_generation_saturation', 'input_images', 'base_prompts',
  'negative_prompts', 'frame_overlap', 'segment_frames', 'upscale_factor', 'continue_from_video',
  'segment_mode', 'priority',
] as const satisfies readonly (keyof TravelOptions)[];

/** `vars(args)` as the seed stored it: `task` first, then every option. */
export function travelTaskArgs(opts: TravelOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { task: 'travel_between_images' };
  for (const k of TRAVEL_ARG_ORDER) out[k] = opts[k];
  return out;
}

export interface VaceRefPlan {
  type: 'initial' | 'final';
  original_path: string;
  strength: number;
  processed_path: string;
  /** The seed's worker filtered refs by this key but its client never wrote it (spec 01 §3.4); smq writes it. */
  segment_idx_for_naming: number;
}

export function clampStrength(s: number): number {
  return Math.min(1, Math.max(0, s));
}

/** A strength this close to 1 means "use the image as is": a plain copy, no processing. */
export function isFullStrength(s: number): boolean {
  return Math.abs(s - 1) < 1e-6;
}

/**
 * VACE reference images per segment (spec 01 §3.4). Initial anchor: image[i] (image[i−1] with a
 * continued video; none for segment 0 then); final anchor: image[i+1] (image[i] with a continued
 * video). Refs with strength 0 are skipped. Files are named `s<i>_<type>_anchor_strength_<s.2f><ext>`.
 */
export function planVaceRefs(args: {
  imagePaths: readonly string[];
  numSegments: number;
  continuing: boolean;
  initialStrength: number;
  finalStrength: number;
  logFolder: string;
}): VaceRefPlan[] {
  const init = clampStrength(args.initialStrength);
  const fin = clampStrength(args.finalStrength);
  const out: VaceRefPlan[] = [];
  const used = new Set<string>();
  const add = (i: number, type: 'initial' | 'final', original: string, strength: number) => {
    const ext = path.extname(original) || '.png';
    const base = `s${i}_${type}_anchor_strength_${strength.toFixed(2)}`;
    let name = `${base}${ext}`;
    // The seed added a unique suffix on collision; within one fresh log folder only a repeated plan can collide.
    for (let k = 1; used.has(name); k++) name = `${base}_${k}${ext}`;
    used.add(name);
    out.push({ type, original_path: original, strength, processed_path: path.join(args.logFolder, name), segment_idx_for_naming: i });
  };
  for (let i = 0; i < args.numSegments; i++) {
    const initial = args.continuing ? (i === 0 ? undefined : args.imagePaths[i - 1]) : args.imagePaths[i];
    const final = args.continuing ? args.imagePaths[i] : args.imagePaths[i + 1];
    if (initial !== undefined && init > 0) add(i, 'initial', initial, init);
    if (final !== undefined && fin > 0) add(i, 'final', final, fin);
  }
  return out;
}

export interface OrchestratorDetailsInput {
  opts: TravelOptions;
  expansion: TravelExpansion;
  runId: string;
  orchestratorTaskId: string;
  /** Absolute `--output_dir`. */
  outputDir: string;
  /** Absolute `<output_dir>/travel_orchestrator_log_<run_id>`. */
  logFolder: string;
  /** Absolute image paths. */
  imagePaths: string[];
  continueVideoPath: string | null;
  vaceRefs: VaceRefPlan[];
}

export function logFolderFor(outputDir: string, runId: string): string {
  return path.join(outputDir, `travel_orchestrator_log_${runId}`);
}

export function buildOrchestratorDetails(i: OrchestratorDetailsInput): Record<string, unknown> {
  const o = i.opts;
  const e = i.expansion;
  const args = travelTaskArgs(o);
  const details: Record<string, unknown> = {
    orchestrator_task_id: i.orchestratorTaskId,
    run_id: i.runId,
    original_task_args: args,
    // The seed stored the same namespace twice; a copy keeps readers that mutate one from touching the other.
    original_common_args: { ...args },
    parsed_resolution_wh: [...e.resolution],
    main_output_dir_for_run: i.outputDir,
    orchestrator_log_folder: i.logFolder,
    input_image_paths_resolved: [...i.imagePaths],
    continue_from_video_resolved_path: i.continueVideoPath,
    num_new_segments_to_generate: e.numSegments,
    base_prompts_expanded: e.base_prompts_expanded,
    negative_prompts_expanded: e.negative_prompts_expanded,
    segment_frames_expanded: e.segment_frames_expanded,
    frame_overlap_expanded: e.frame_overlap_expanded,
    vace_image_refs_prepared: i.vaceRefs.map((r) => ({ ...r })),
    fade_in_params_json_str: o.fade_in_duration,
    fade_out_params_json_str: o.fade_out_duration,
    model_name: o.model_name,
    seed_base: o.seed,
    execution_engine: o.execution_engine,
    use_causvid_lora: o.use_causvid_lora,
    cfg_star_switch: o.cfg_star_switch,
    cfg_zero_step: o.cfg_zero_step,
    params_json_str_override: o.params_json_str,
    fps_helpers: o.fps_helpers,
    last_frame_duplication: o.last_frame_duplication,
    subsequent_starting_strength_adjustment: o.subsequent_starting_strength_adjustment,
    desaturate_subsequent_starting_frames: o.desaturate_subsequent_starting_frames,
    adjust_brightness_subsequent_starting_frames: o.adjust_brightness_subsequent_starting_frames,
    after_first_post_generation_saturation: o.after_first_post_generation_saturation,
    crossfade_sharp_amt: DEFAULT_CROSSFADE_SHARP_AMT,
    upscale_factor: o.upscale_factor,
    upscale_model_name: o.upscale_model_name,
    debug_mode_enabled: o.debug,
    skip_cleanup_enabled: o.skip_cleanup,
    segment_mode: o.segment_mode,
    priority: o.priority,
  };
  return details;
}
