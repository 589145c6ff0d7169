import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../../core/errors.ts';
import { ENGINES } from '../../core/types.ts';
import { engineOf } from '../../flows/queues.ts';
import { parseWxH, requireFile, resolveOutputTarget } from './standard-wgp.ts';
import type { TaskHandler } from './types.ts';

/**
 * `rife_interpolate_images` (spec 03 §4, intended): a video from image 1 to image 2 of exactly
 * `frames` frames (the seed made 9 and padded with held copies), at `fps` (default 25).
 */
const schema = z.looseObject({
  input_image_path1: z.string().min(1),
  input_image_path2: z.string().min(1),
  output_path: z.string().nullish(),
  frames: z.number().int().min(2),
  resolution: z.string(),
  fps: z.number().positive().default(25),
  model_path: z.string().nullish(),
  model_context_for_rife: z.string().optional(),
  execution_engine: z.enum(ENGINES).optional(),
});
type Params = z.infer<typeof schema>;

export const rifeInterpolateHandler: TaskHandler<Params> = {
  taskType: 'rife_interpolate_images',
  schema,
  timeoutMs: 15 * 60_000,
  isolation: 'process',
  async run(p, ctx) {
    const [width, height] = parseWxH(p.resolution, 'resolution');
    const target = resolveOutputTarget({ outputRoot: ctx.outputRoot, taskId: ctx.taskId, outputPath: p.output_path, fileName: `${ctx.taskId}_rife.mp4` });
    await mkdir(path.dirname(target), { recursive: true });
    const a = await requireFile(await ctx.outputs.resolve(p.input_image_path1, path.dirname(target)), 'input_image_path1');
    const b = await requireFile(await ctx.outputs.resolve(p.input_image_path2, path.dirname(target)), 'input_image_path2');
    const engine = ctx.engines.get(engineOf(p));
    if (!engine.interpolate) throw new EngineError(`engine ${engine.name} cannot interpolate; run rife_interpolate_images on onnx`);
    await ctx.progress({ stage: 'interpolate', percent: 10 });
    const out = await engine.interpolate({ imagePath1: a, imagePath2: b, frames: p.frames, width, height, fps: p.fps, outputPath: target, modelPath: p.model_path ?? null, signal: ctx.signal });
    if (out.frames !== p.frames) throw new EngineError(`engine ${engine.name} interpolated ${out.frames} frames; ${p.frames} were asked for`);
    await ctx.progress({ stage: 'done', percent: 100 });
    return { output_location: await ctx.outputs.publish(out.videoPath, { taskId: ctx.taskId }), frames: out.frames };
  },
};
