import { randomInt } from 'node:crypto';
import { mkdir, rename, copyFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EngineError, MediaError, ValidationError } from '../../core/errors.ts';
import { ENGINES } from '../../core/types.ts';
import { engineOf } from '../../flows/queues.ts';
import type { TaskHandler } from './types.ts';

/**
 * `standard_wgp_task`: one generation (spec 03 §2). The seed's raw wgp argument names keep working:
 * every param the handler does not read itself goes to the engine as `extra`.
 */

/** "WxH" → [W, H]; `field` names the param in the error. */
export function parseWxH(raw: string, field: string): [number, number] {
  const m = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(raw);
  const w = m ? Number(m[1]) : NaN;
  const h = m ? Number(m[2]) : NaN;
  if (!m || !(w > 0) || !(h > 0)) throw new ValidationError(field, `must be WIDTHxHEIGHT with positive integers (e.g. 832x480), got ${JSON.stringify(raw)}`);
  return [w, h];
}

/**
 * Where a task's output goes (spec 03 §2.6, 01 §5.5): `output_path` if given (relative = under the
 * output root), else `<root>/<output_sub_dir or task_id>/<file name>`. A path that climbs out of
 * the output root with `..` is refused: a task row must not be able to write anywhere on a worker.
 */
export function resolveOutputTarget(opts: { outputRoot: string; taskId: string; outputPath?: string | null; outputSubDir?: string | null; fileName: string }): string {
  const root = path.resolve(opts.outputRoot);
  const check = (raw: string, field: string, resolved: string) => {
    const climbs = raw.split(/[\\/]+/).includes('..');
    const inside = resolved === root || resolved.startsWith(root + path.sep);
    if (climbs && !inside) throw new ValidationError(field, `${JSON.stringify(raw)} climbs out of the output root ${root} with '..'; give a path inside it (or an absolute path without '..')`);
  };
  if (opts.outputPath) {
    const p = expandHome(opts.outputPath);
    const resolved = path.resolve(root, p);
    check(opts.outputPath, 'output_path', resolved);
    return resolved;
  }
  const sub = opts.outputSubDir ? expandHome(opts.outputSubDir) : opts.taskId;
  const dir = path.resolve(root, sub);
  if (opts.outputSubDir) check(opts.outputSubDir, 'output_sub_dir', dir);
  return path.join(dir, opts.fileName);
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(process.env.HOME ?? '', p.slice(1)) : p;
}

/** Moves a file into place (rename, or copy across devices), creating the directory. */
export async function moveInto(src: string, dest: string): Promise<void> {
  if (path.resolve(src) === path.resolve(dest)) return;
  await mkdir(path.dirname(dest), { recursive: true });
  try {
    await rename(src, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(src, dest);
    await rm(src, { force: true });
  }
}

/** A param that must name an existing file; a missing one fails without retries, naming the param. */
export async function requireFile(p: string, field: string): Promise<string> {
  const abs = path.resolve(expandHome(p));
  const info = await stat(abs).catch(() => null);
  if (!info?.isFile()) throw new ValidationError(field, `${abs} does not exist or is not a file`);
  return abs;
}

const pathList = z.union([z.string(), z.array(z.string())]).optional();

const schema = z.looseObject({
  task_id: z.string().optional(),
  prompt: z.string().default('Default prompt'),
  negative_prompt: z.string().default(''),
  model: z.string().default('t2v'),
  resolution: z.string().default('832x480'),
  frames: z.number().int().positive().optional(),
  video_length: z.number().int().positive().optional(),
  fps: z.number().positive().default(16),
  seed: z.number().int().default(-1),
  execution_engine: z.enum(ENGINES).optional(),
  video_guide_path: z.string().nullish(),
  video_mask_path: z.string().nullish(),
  image_refs_paths: pathList,
  output_path: z.string().nullish(),
  output_sub_dir: z.string().nullish(),
});
type Params = z.infer<typeof schema>;

const OWN_KEYS = new Set(['task_id', 'prompt', 'negative_prompt', 'model', 'resolution', 'frames', 'video_length', 'fps', 'seed', 'execution_engine', 'video_guide_path', 'video_mask_path', 'image_refs_paths', 'output_path', 'output_sub_dir']);

export const standardWgpHandler: TaskHandler<Params> = {
  taskType: 'standard_wgp_task',
  schema,
  timeoutMs: 60 * 60_000,
  isolation: 'process',
  async run(p, ctx) {
    const [width, height] = parseWxH(p.resolution, 'resolution');
    const target = resolveOutputTarget({ outputRoot: ctx.outputRoot, taskId: ctx.taskId, outputPath: p.output_path, outputSubDir: p.output_sub_dir, fileName: `${ctx.taskId}.mp4` });
    const guide = p.video_guide_path ? await requireFile(await ctx.outputs.resolve(p.video_guide_path, path.dirname(target)), 'video_guide_path') : null;
    const mask = p.video_mask_path ? await requireFile(await ctx.outputs.resolve(p.video_mask_path, path.dirname(target)), 'video_mask_path') : null;
    const refsRaw = p.image_refs_paths === undefined ? [] : Array.isArray(p.image_refs_paths) ? p.image_refs_paths : [p.image_refs_paths];
    const refs = await Promise.all(refsRaw.map((r, i) => requireFile(r.trim(), `image_refs_paths[${i}]`)));
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(p)) if (!OWN_KEYS.has(k)) extra[k] = v;
    const frames = p.frames ?? p.video_length ?? 81;
    await mkdir(path.dirname(target), { recursive: true });
    const engine = ctx.engines.get(engineOf(p));
    await ctx.progress({ stage: 'generate', percent: 0 });
    const out = await engine.generateVideo({
      taskId: ctx.taskId,
      prompt: p.prompt,
      negativePrompt: p.negative_prompt,
      width,
      height,
      frames,
      fps: p.fps,
      // -1 means "random" to wgp; pick it here so the log and the engine agree on the seed used.
      seed: p.seed < 0 ? randomInt(0, 2 ** 31 - 1) : p.seed,
      model: p.model,
      guideVideoPath: guide,
      maskVideoPath: mask,
      imageRefs: refs,
      extra,
      outputPath: target,
      signal: ctx.signal,
      onProgress: (percent) => void ctx.progress({ stage: 'generate', percent }),
    });
    for (const note of out.notes) ctx.log.info({ note }, 'engine note');
    if (out.frames !== frames) throw new EngineError(`engine returned ${out.frames} frames, ${frames} were asked for`);
    await moveInto(out.videoPath, target);
    if (!(await stat(target).catch(() => null))) throw new MediaError(`the engine reported ${out.videoPath} but no file is at ${target}`);
    await ctx.progress({ stage: 'done', percent: 100 });
    return { output_location: await ctx.outputs.publish(target, { taskId: ctx.taskId }), frames };
  },
};
