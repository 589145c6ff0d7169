import path from 'node:path';
import { z } from 'zod';
import { ValidationError } from '../core/errors.ts';
import { commonShape, parseOptions, smqShape } from './common-args.ts';
import { poseStepIds } from './ids.ts';
import { parseResolution } from './resolution.ts';

/**
 * `different_pose` options (spec 03 §6.1) and the orchestrator row's `orchestrator_details`. In the
 * seed the CLI process ran the whole pipeline; in smq it queues one `different_pose_orchestrator`
 * row and the flow runs on workers (spec decision 4), so everything the steps need is in this payload.
 */
export const poseOptionsSchema = z.strictObject({
  ...commonShape,
  input_image: z.string({ error: 'is required: give the path of the character image' }).min(1, { error: 'must not be empty' }),
  prompt: z.string({ error: 'is required: describe the target pose' }).min(1, { error: 'must not be empty: describe the target pose' }),
  ...smqShape,
});

export type PoseInput = z.input<typeof poseOptionsSchema>;
export type PoseOptions = z.output<typeof poseOptionsSchema>;

export function parsePoseOptions(input: unknown): PoseOptions {
  const opts = parseOptions(poseOptionsSchema, input);
  parseResolution(opts.resolution);
  // The seed returned 1 here; a guide needs a start and an end frame, so fewer than 2 is a bad argument.
  if (opts.output_video_frames < 2) {
    throw new ValidationError('--output_video_frames', `is ${opts.output_video_frames}; different_pose needs at least 2 frames (the default is 30)`);
  }
  return opts;
}

const POSE_ARG_ORDER = [
  'resolution', 'model_name', 'seed', 'db_path', 'output_dir', 'fps_helpers', 'output_video_frames',
  'poll_interval', 'poll_timeout', 'skip_cleanup', 'debug', 'use_causvid_lora', 'upscale_model_name',
  'last_frame_duplication', 'final_image_strength', 'initial_image_strength', 'fade_in_duration',
  'fade_out_duration', 'subsequent_starting_strength_adjustment', 'desaturate_subsequent_starting_frames',
  'adjust_brightness_subsequent_starting_frames', 'execution_engine', 'cfg_star_switch', 'cfg_zero_step',
  'params_json_str', 'after_first_post_generation_saturation', 'input_image', 'prompt', 'priority',
] as const satisfies readonly (keyof PoseOptions)[];

export function poseTaskArgs(opts: PoseOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { task: 'different_pose' };
  for (const k of POSE_ARG_ORDER) out[k] = opts[k];
  return out;
}

export interface PoseDetailsInput {
  opts: PoseOptions;
  runId: string;
  /** Absolute `--output_dir`. */
  outputDir: string;
  /** Absolute path of the user's image. */
  inputImagePath: string;
}

/** `<output_dir>/different_pose_run_<run_id>` (the seed's work dir W). */
export function poseWorkDir(outputDir: string, runId: string): string {
  return path.join(outputDir, `different_pose_run_${runId}`);
}

/** `<output_dir>/final_posed_image_<run_id>.png`, as the seed wrote it. */
export function finalPosedImagePath(outputDir: string, runId: string): string {
  return path.join(outputDir, `final_posed_image_${runId}.png`);
}

export function buildPoseDetails(i: PoseDetailsInput): Record<string, unknown> {
  const o = i.opts;
  const args = poseTaskArgs(o);
  return {
    orchestrator_task_id: i.runId,
    run_id: i.runId,
    original_task_args: args,
    original_common_args: { ...args },
    input_image_path_resolved: i.inputImagePath,
    prompt: o.prompt,
    // Pose steps forward the raw string (spec 01 §2.1); the parsed pair is there for new readers.
    resolution: o.resolution,
    parsed_resolution_wh: parseResolution(o.resolution),
    model_name: o.model_name,
    seed_base: o.seed,
    output_video_frames: o.output_video_frames,
    fps_helpers: o.fps_helpers,
    use_causvid_lora: o.use_causvid_lora,
    execution_engine: o.execution_engine,
    main_output_dir_for_run: i.outputDir,
    work_dir: poseWorkDir(i.outputDir, i.runId),
    final_posed_image_path: finalPosedImagePath(i.outputDir, i.runId),
    step_task_ids: {
      user_pose: poseStepIds.userPose(i.runId),
      target_image: poseStepIds.targetImage(i.runId),
      target_pose: poseStepIds.targetPose(i.runId),
      guide: poseStepIds.guide(i.runId),
      final_video: poseStepIds.finalVideo(i.runId),
      finalize: poseStepIds.finalize(i.runId),
    },
    debug_mode_enabled: o.debug,
    skip_cleanup_enabled: o.skip_cleanup,
    priority: o.priority,
  };
}
