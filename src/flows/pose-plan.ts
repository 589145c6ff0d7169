import path from 'node:path';
import { z } from 'zod';
import type { ChildTask } from '../consumers/handlers/types.ts';
import { ValidationError } from '../core/errors.ts';
import { ENGINES } from '../core/types.ts';
import { poseStepIds } from '../producers/ids.ts';

/**
 * Pure plan of a `different_pose` run (spec 03 §6.3, decision 4) as one flow. The seed's CLI ran
 * these steps itself, blocking on each row; here a parent runs once its children are done:
 *
 *   finalize (cpu)                      frame N−1 → final_posed_image_<run>.png, video → output dir
 *   └ final video (standard_wgp_task)   N frames, seed+1, guide, image_refs [user image]
 *     └ guide (different_pose_guide)    pose-interpolated guide, N frames at fps_helpers
 *       ├ user pose (generate_openpose) of the user image
 *       └ target pose (generate_openpose) of the target image
 *         └ target frame (different_pose_guide, stage target_frame): frame 0 of the T2I video → PNG
 *           └ T2I target (standard_wgp_task) 1 frame, seed, neutral gray guide
 *
 * The seed's RIFE step 4 was disabled and stays out. Every output path is fixed in the params, so
 * a step can also find its input when its child's value is gone (a re-run after Redis lost it).
 */

export const POSE_TARGET_FRAME_STAGE = 'target_frame';
export const POSE_GUIDE_STAGE = 'pose_guide';

/** The one id the producers' `poseStepIds` lacks: the small step that turns the T2I video into a PNG. */
export function poseTargetFrameId(runId: string): string {
  return `pose_t2i_frame_${runId}`;
}

export const poseDetailsSchema = z.looseObject({
  run_id: z.string().min(1).optional(),
  input_image_path_resolved: z.string().min(1),
  prompt: z.string().min(1),
  negative_prompt: z.string().default(''),
  parsed_resolution_wh: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  model_name: z.string().default('vace_14B'),
  seed_base: z.number().int().default(12345),
  output_video_frames: z.number().int().min(2, { error: 'must be at least 2 (a start and an end frame); the default is 30' }).default(30),
  fps_helpers: z.number().positive().default(25),
  use_causvid_lora: z.boolean().default(false),
  execution_engine: z.enum(ENGINES).default('onnx'),
  main_output_dir_for_run: z.string().min(1).optional(),
  debug_mode_enabled: z.boolean().default(false),
  skip_cleanup_enabled: z.boolean().default(false),
});

export type PoseDetails = z.output<typeof poseDetailsSchema> & { run_id: string; main_output_dir_for_run: string };

export function parsePoseDetails(raw: unknown, opts: { fallbackRunId: string; outputRoot: string }): PoseDetails {
  if (raw === undefined || raw === null) {
    throw new ValidationError('orchestrator_details', 'is missing from params; a different_pose_orchestrator row needs params = {"orchestrator_details": {...}} as steerable-motion writes it');
  }
  const parsed = poseDetailsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(['orchestrator_details', ...issue.path.map(String)].join('.'), issue.message);
  }
  const runId = parsed.data.run_id ?? opts.fallbackRunId;
  if (runId.includes(':')) throw new ValidationError('orchestrator_details.run_id', `${JSON.stringify(runId)} contains ':', which BullMQ forbids in job ids`);
  return { ...parsed.data, run_id: runId, main_output_dir_for_run: path.resolve(parsed.data.main_output_dir_for_run ?? opts.outputRoot) };
}

export interface PosePaths {
  workDir: string;
  userPosePng: string;
  targetGuideMp4: string;
  targetVideoMp4: string;
  targetImagePng: string;
  targetPosePng: string;
  guideMp4: string;
  finalVideoRaw: string;
  finalVideo: string;
  posedImage: string;
}

export function posePaths(d: PoseDetails): PosePaths {
  const run = d.run_id;
  const W = path.join(d.main_output_dir_for_run, `different_pose_run_${run}`);
  const ids = poseStepIds;
  return {
    workDir: W,
    userPosePng: path.join(W, `${ids.userPose(run)}_openpose_from_user.png`),
    targetGuideMp4: path.join(W, `${ids.targetImage(run)}_guide.mp4`),
    targetVideoMp4: path.join(W, `${ids.targetImage(run)}_video_raw.mp4`),
    targetImagePng: path.join(W, `${ids.targetImage(run)}_generated_from_prompt.png`),
    targetPosePng: path.join(W, `${ids.targetPose(run)}_openpose_from_t2i.png`),
    guideMp4: path.join(W, `${ids.guide(run)}_custom_guide.mp4`),
    finalVideoRaw: path.join(W, `${ids.finalVideo(run)}_video_raw.mp4`),
    finalVideo: path.join(d.main_output_dir_for_run, `different_pose_${run}.mp4`),
    posedImage: path.join(d.main_output_dir_for_run, `final_posed_image_${run}.png`),
  };
}

export interface PosePlan {
  runId: string;
  paths: PosePaths;
  finalizeId: string;
  tree: ChildTask[];
  /** Every task id of the run, leaves first. */
  taskIds: string[];
}

export function planDifferentPose(orchestratorTaskId: string, d: PoseDetails): PosePlan {
  const run = d.run_id;
  const p = posePaths(d);
  const [w, h] = d.parsed_resolution_wh;
  const resolution = `${w}x${h}`;
  const common = { orchestrator_task_id_ref: orchestratorTaskId, orchestrator_run_id: run, execution_engine: d.execution_engine };
  const id = {
    userPose: poseStepIds.userPose(run),
    target: poseStepIds.targetImage(run),
    targetFrame: poseTargetFrameId(run),
    targetPose: poseStepIds.targetPose(run),
    guide: poseStepIds.guide(run),
    finalVideo: poseStepIds.finalVideo(run),
    finalize: poseStepIds.finalize(run),
  };
  const causvid = d.use_causvid_lora ? { use_causvid_lora: true } : {};

  const t2i: ChildTask = {
    taskId: id.target,
    taskType: 'standard_wgp_task',
    params: {
      ...common,
      task_id: id.target,
      prompt: d.prompt,
      negative_prompt: d.negative_prompt,
      model: d.model_name,
      resolution,
      frames: 1,
      seed: d.seed_base,
      fps: d.fps_helpers,
      video_guide_path: p.targetGuideMp4,
      output_path: p.targetVideoMp4,
      ...causvid,
    },
  };
  const targetFrame: ChildTask = {
    taskId: id.targetFrame,
    taskType: 'different_pose_guide',
    params: { ...common, task_id: id.targetFrame, stage: POSE_TARGET_FRAME_STAGE, source_task_id: id.target, source_video_path: p.targetVideoMp4, output_path: p.targetImagePng, parsed_resolution_wh: [w, h] },
    children: [t2i],
  };
  const targetPose: ChildTask = {
    taskId: id.targetPose,
    taskType: 'generate_openpose',
    params: { ...common, task_id: id.targetPose, model: 'core_pose_processor', input_image_path: p.targetImagePng, output_path: p.targetPosePng },
    children: [targetFrame],
  };
  const userPose: ChildTask = {
    taskId: id.userPose,
    taskType: 'generate_openpose',
    params: { ...common, task_id: id.userPose, model: 'core_pose_processor', input_image_path: d.input_image_path_resolved, output_path: p.userPosePng },
  };
  const guide: ChildTask = {
    taskId: id.guide,
    taskType: 'different_pose_guide',
    params: {
      ...common,
      task_id: id.guide,
      stage: POSE_GUIDE_STAGE,
      user_image_path: d.input_image_path_resolved,
      user_pose_task_id: id.userPose,
      user_pose_path: p.userPosePng,
      target_pose_task_id: id.targetPose,
      target_pose_path: p.targetPosePng,
      frames: d.output_video_frames,
      fps_helpers: d.fps_helpers,
      parsed_resolution_wh: [w, h],
      output_path: p.guideMp4,
    },
    children: [userPose, targetPose],
  };
  const finalVideo: ChildTask = {
    taskId: id.finalVideo,
    taskType: 'standard_wgp_task',
    params: {
      ...common,
      task_id: id.finalVideo,
      prompt: d.prompt,
      negative_prompt: d.negative_prompt,
      model: d.model_name,
      resolution,
      frames: d.output_video_frames,
      seed: d.seed_base + 1,
      fps: d.fps_helpers,
      video_guide_path: p.guideMp4,
      image_refs_paths: [d.input_image_path_resolved],
      output_path: p.finalVideoRaw,
      ...causvid,
    },
    children: [guide],
  };
  const finalize: ChildTask = {
    taskId: id.finalize,
    taskType: 'different_pose_finalize',
    params: {
      ...common,
      task_id: id.finalize,
      final_video_task_id: id.finalVideo,
      final_video_path: p.finalVideoRaw,
      output_video_frames: d.output_video_frames,
      parsed_resolution_wh: [w, h],
      output_dir: d.main_output_dir_for_run,
      final_video_output_path: p.finalVideo,
      posed_image_path: p.posedImage,
      work_dir: p.workDir,
      debug_mode_enabled: d.debug_mode_enabled,
      skip_cleanup_enabled: d.skip_cleanup_enabled,
    },
    children: [finalVideo],
  };
  return {
    runId: run,
    paths: p,
    finalizeId: id.finalize,
    tree: [finalize],
    taskIds: [id.userPose, id.target, id.targetFrame, id.targetPose, id.guide, id.finalVideo, id.finalize],
  };
}
