import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MediaError } from '../../core/errors.ts';
import { childOutput } from '../../flows/child-output.ts';
import { probeVideo, readFrames, writeImage } from '../media/frames-io.ts';
import type { TaskHandler } from './types.ts';

/**
 * `different_pose_finalize` (the seed's client step 7, now a worker step): frame N−1 of the final
 * video (clamped to its last frame) becomes `final_posed_image_<run>.png` in the output dir, the
 * video is copied beside it as `different_pose_<run>.mp4`, both are published (a Storage URL in
 * Supabase mode), and the run's work dir is removed unless debug/skip_cleanup.
 */
const paramsSchema = z.looseObject({
  final_video_task_id: z.string().min(1),
  final_video_path: z.string().min(1).optional(),
  output_video_frames: z.number().int().min(1),
  parsed_resolution_wh: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  final_video_output_path: z.string().min(1),
  posed_image_path: z.string().min(1),
  work_dir: z.string().min(1),
  debug_mode_enabled: z.boolean().default(false),
  skip_cleanup_enabled: z.boolean().default(false),
});
type Params = z.infer<typeof paramsSchema>;

export const differentPoseFinalizeHandler: TaskHandler<Params> = {
  taskType: 'different_pose_finalize',
  schema: paramsSchema,
  timeoutMs: 5 * 60_000,
  isolation: 'process',
  async run(p, ctx) {
    const [w, h] = p.parsed_resolution_wh;
    const video = await ctx.outputs.resolve(await childOutput(ctx, p.final_video_task_id, p.final_video_path), p.work_dir);
    const info = await probeVideo(video, ctx.signal);
    if (info.frames <= 0) throw new MediaError(`${video} has no frames: the final video step produced an empty file`);
    const wanted = p.output_video_frames - 1;
    const index = Math.min(wanted, info.frames - 1);
    if (index !== wanted) ctx.log.warn({ wanted, frames: info.frames }, 'final video is shorter than asked; using its last frame');
    const [frame] = await readFrames(video, { start: index, count: 1, width: w, height: h, signal: ctx.signal });
    if (!frame) throw new MediaError(`could not decode frame ${index} of ${video}`);
    await mkdir(path.dirname(p.posed_image_path), { recursive: true });
    await writeImage(p.posed_image_path, frame, w, h, ctx.signal);
    await mkdir(path.dirname(p.final_video_output_path), { recursive: true });
    if (path.resolve(video) !== path.resolve(p.final_video_output_path)) await copyFile(video, p.final_video_output_path);
    const output = await ctx.outputs.publish(p.final_video_output_path, { taskId: ctx.taskId, fileName: path.basename(p.final_video_output_path) });
    const posed = await ctx.outputs.publish(p.posed_image_path, { taskId: ctx.taskId, fileName: path.basename(p.posed_image_path) });
    if (!p.debug_mode_enabled && !p.skip_cleanup_enabled && !ctx.debug) await rm(p.work_dir, { recursive: true, force: true });
    return { output_location: output, posed_image: posed, frames: info.frames, posed_frame_index: index };
  },
};
