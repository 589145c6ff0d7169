import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MediaError } from '../../core/errors.ts';
import { childOutput } from '../../flows/child-output.ts';
import { POSE_GUIDE_STAGE, POSE_TARGET_FRAME_STAGE } from '../../flows/pose-plan.ts';
import { imageToFrame, readFrames, writeImage, writeVideo } from '../media/frames-io.ts';
import type { TaskHandler } from './types.ts';

/**
 * `different_pose_guide`: the two media steps the seed's client did between worker rows.
 *
 * - stage `target_frame`: frame 0 of the T2I video → PNG (what the seed saved as
 *   `_generated_from_prompt.png`), so the next `generate_openpose` gets an image.
 * - stage `pose_guide`: the guide video of `frames` frames at `fps_helpers`: frame 0 is the user's
 *   own image; frames 1…N−1 cross-dissolve from the user's pose image to the target's, the last
 *   frame being exactly the target pose. The seed re-detected keypoints with MediaPipe and drew
 *   interpolated skeletons; smq has no MediaPipe, so it blends the two pose/structure images the
 *   `generate_openpose` steps produced (the seed threw those away).
 *
 * Written losslessly: the engine reads it back as control frames.
 */
const wh = z.tuple([z.number().int().positive(), z.number().int().positive()]);

const targetFrameSchema = z.looseObject({
  stage: z.literal(POSE_TARGET_FRAME_STAGE),
  source_task_id: z.string().min(1),
  source_video_path: z.string().min(1).optional(),
  output_path: z.string().min(1),
  parsed_resolution_wh: wh,
});
const poseGuideSchema = z.looseObject({
  stage: z.literal(POSE_GUIDE_STAGE),
  user_image_path: z.string().min(1),
  user_pose_task_id: z.string().min(1),
  user_pose_path: z.string().min(1).optional(),
  target_pose_task_id: z.string().min(1),
  target_pose_path: z.string().min(1).optional(),
  frames: z.number().int().min(2, { error: 'must be at least 2 (start and end frame)' }),
  fps_helpers: z.number().positive(),
  parsed_resolution_wh: wh,
  output_path: z.string().min(1),
});
const paramsSchema = z.discriminatedUnion('stage', [targetFrameSchema, poseGuideSchema]);
type Params = z.infer<typeof paramsSchema>;

/** (1−t)·a + t·b per byte, rounded. */
export function crossDissolve(a: Buffer, b: Buffer, t: number): Buffer {
  if (a.length !== b.length) throw new MediaError(`cannot blend frames of ${a.length} and ${b.length} bytes`);
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.round(a[i] + (b[i] - a[i]) * t);
  return out;
}

export const differentPoseGuideHandler: TaskHandler<Params> = {
  taskType: 'different_pose_guide',
  schema: paramsSchema,
  timeoutMs: 10 * 60_000,
  isolation: 'process',
  async run(p, ctx) {
    const workDir = path.dirname(p.output_path);
    await mkdir(workDir, { recursive: true });
    const [w, h] = p.parsed_resolution_wh;
    if (p.stage === POSE_TARGET_FRAME_STAGE) {
      const video = await ctx.outputs.resolve(await childOutput(ctx, p.source_task_id, p.source_video_path), workDir);
      const [frame] = await readFrames(video, { width: w, height: h, count: 1, signal: ctx.signal });
      if (!frame) throw new MediaError(`${video} has no frames: the target-image step produced an empty video`);
      await writeImage(p.output_path, frame, w, h, ctx.signal);
      return { output_location: p.output_path };
    }
    const userPose = await ctx.outputs.resolve(await childOutput(ctx, p.user_pose_task_id, p.user_pose_path), workDir);
    const targetPose = await ctx.outputs.resolve(await childOutput(ctx, p.target_pose_task_id, p.target_pose_path), workDir);
    const [user, a, b] = await Promise.all([
      imageToFrame(p.user_image_path, w, h, ctx.signal),
      imageToFrame(userPose, w, h, ctx.signal),
      imageToFrame(targetPose, w, h, ctx.signal),
    ]);
    const writer = writeVideo(p.output_path, { width: w, height: h, fps: p.fps_helpers, lossless: true, signal: ctx.signal });
    try {
      await writer.write(user);
      for (let j = 1; j < p.frames; j++) {
        await writer.write(j === p.frames - 1 ? b : crossDissolve(a, b, j / (p.frames - 1)));
        if (j % 8 === 0) await ctx.progress({ stage: 'guide', percent: Math.round((100 * j) / p.frames) });
      }
      await writer.close();
    } catch (e) {
      writer.abort();
      throw e;
    }
    return { output_location: p.output_path, frames: p.frames };
  },
};
