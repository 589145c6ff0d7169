import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../../core/errors.ts';
import { moveInto, parseWxH, requireFile, resolveOutputTarget } from './standard-wgp.ts';
import type { TaskHandler } from './types.ts';

/**
 * `comfyui_workflow` (spec 03 §5, the intended protocol the seed only stubbed): runs an API-format
 * workflow on ComfyUI through the `comfyui` engine, and places the video like a generation.
 */
const schema = z.looseObject({
  comfyui_workflow_path: z.string().min(1),
  comfyui_server_address: z.string().url().default('http://127.0.0.1:8188'),
  comfyui_inputs: z.record(z.string(), z.unknown()).default({}),
  output_path: z.string().nullish(),
  output_sub_dir: z.string().nullish(),
  /** The engine re-encodes ComfyUI's video to this size; the seed's generation default when absent. */
  resolution: z.string().default('832x480'),
  frames: z.number().int().positive().optional(),
  fps: z.number().positive().default(25),
  seed: z.number().int().default(0),
  prompt: z.string().default(''),
  negative_prompt: z.string().default(''),
});
type Params = z.infer<typeof schema>;

export const comfyuiWorkflowHandler: TaskHandler<Params> = {
  taskType: 'comfyui_workflow',
  schema,
  timeoutMs: 60 * 60_000,
  isolation: 'process',
  async run(p, ctx) {
    const workflow = await requireFile(p.comfyui_workflow_path, 'comfyui_workflow_path');
    const [width, height] = parseWxH(p.resolution, 'resolution');
    const target = resolveOutputTarget({ outputRoot: ctx.outputRoot, taskId: ctx.taskId, outputPath: p.output_path, outputSubDir: p.output_sub_dir, fileName: `${ctx.taskId}_comfy_output.mp4` });
    await mkdir(path.dirname(target), { recursive: true });
    const engine = ctx.engines.get('comfyui');
    await ctx.progress({ stage: 'comfyui', percent: 0 });
    const out = await engine.generateVideo({
      taskId: ctx.taskId,
      prompt: p.prompt,
      negativePrompt: p.negative_prompt,
      width,
      height,
      // Without `frames`, every frame the workflow made; the engine keeps at most this many.
      frames: p.frames ?? Number.MAX_SAFE_INTEGER,
      fps: p.fps,
      seed: p.seed,
      model: 'comfyui',
      extra: { comfyui_workflow_path: workflow, comfyui_server_address: p.comfyui_server_address, comfyui_inputs: p.comfyui_inputs },
      outputPath: target,
      signal: ctx.signal,
      onProgress: (percent) => void ctx.progress({ stage: 'comfyui', percent }),
    });
    for (const note of out.notes) ctx.log.info({ note }, 'engine note');
    if (out.frames <= 0) throw new EngineError('ComfyUI returned a video without frames');
    await moveInto(out.videoPath, target);
    await ctx.progress({ stage: 'done', percent: 100 });
    return { output_location: await ctx.outputs.publish(target, { taskId: ctx.taskId }), frames: out.frames };
  },
};
