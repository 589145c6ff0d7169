import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../../core/errors.ts';
import { ENGINES } from '../../core/types.ts';
import { engineOf } from '../../flows/queues.ts';
import { requireFile, resolveOutputTarget } from './standard-wgp.ts';
import type { TaskHandler } from './types.ts';

/**
 * `generate_openpose` (spec 03 §3): the pose/structure image of one picture, through the engine's
 * `extractStructure` (smq's edge extractor by default, a user's DWPose ONNX via `model_path`).
 * Unlike the seed, the result is published (uploaded in Supabase mode) like every other output.
 */
const schema = z.looseObject({
  input_image_path: z.string().min(1),
  output_path: z.string().nullish(),
  /** Accepted and ignored, as the seed did (`core_pose_processor`). */
  model: z.string().optional(),
  model_path: z.string().nullish(),
  execution_engine: z.enum(ENGINES).optional(),
});
type Params = z.infer<typeof schema>;

export const generateOpenposeHandler: TaskHandler<Params> = {
  taskType: 'generate_openpose',
  schema,
  timeoutMs: 10 * 60_000,
  isolation: 'process',
  async run(p, ctx) {
    const target = resolveOutputTarget({ outputRoot: ctx.outputRoot, taskId: ctx.taskId, outputPath: p.output_path, fileName: `${ctx.taskId}_openpose.png` });
    await mkdir(path.dirname(target), { recursive: true });
    const input = await requireFile(await ctx.outputs.resolve(p.input_image_path, path.dirname(target)), 'input_image_path');
    const engine = ctx.engines.get(engineOf(p));
    if (!engine.extractStructure) throw new EngineError(`engine ${engine.name} cannot extract pose/structure; run generate_openpose on onnx`);
    await ctx.progress({ stage: 'pose', percent: 10 });
    const out = await engine.extractStructure({ imagePath: input, outputPath: target, modelPath: p.model_path ?? null, signal: ctx.signal });
    await ctx.progress({ stage: 'done', percent: 100 });
    return { output_location: await ctx.outputs.publish(out.imagePath, { taskId: ctx.taskId }) };
  },
};
