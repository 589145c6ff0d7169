import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MediaError, StoreError, ValidationError } from '../../core/errors.ts';
import { ENGINES, type EngineName } from '../../core/types.ts';
import { probeVideo } from '../media/frames-io.ts';
import { stitchVideosCopying } from '../media/stitch-copy.ts';
import { moveInto } from './standard-wgp.ts';
import type { HandlerContext, TaskHandler } from './types.ts';

/**
 * `travel_stitch` (spec 02 §4, intended): the segments in index order (after the continue video),
 * each overlap cross-faded once: by the stream-copy stitch when every input carries the stitch
 * recipe (travel_segment publishes it), otherwise by the streaming stitch, an optional upscale, and the final file
 * `travel_final_<run_id>.mp4` in the run's output dir (decision 3). The run's intermediates are
 * removed afterwards unless debug/skip_cleanup.
 */
const schema = z.looseObject({
  orchestrator_run_id: z.string().min(1),
  orchestrator_task_id_ref: z.string().optional(),
  num_total_segments_generated: z.number().int().min(1).optional(),
  segment_task_ids: z.array(z.string()).optional(),
  segment_outputs: z.record(z.string(), z.string()).default({}),
  current_run_base_output_dir: z.string().nullish(),
  frame_overlap_settings_expanded: z.array(z.number().int().min(0)),
  /** Overlap of each join in video order; derived from frame_overlap_settings_expanded when absent. */
  stitch_join_overlaps: z.array(z.number().int().min(0)).optional(),
  crossfade_sharp_amt: z.number().default(0.3),
  parsed_resolution_wh: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  fps_final_video: z.number().positive().default(25),
  upscale_factor: z.number().min(0).default(0),
  upscale_model_name: z.string().nullish(),
  seed_for_upscale: z.number().int().default(17345),
  execution_engine: z.enum(ENGINES).default('onnx'),
  debug_mode_enabled: z.boolean().default(false),
  skip_cleanup_enabled: z.boolean().default(false),
  initial_continued_video_path: z.string().nullish(),
  final_output_dir: z.string().nullish(),
  expected_final_frames: z.number().int().positive().optional(),
});
type Params = z.infer<typeof schema>;

/** Segment references in index order: the chain's values, the plan's known outputs, then the Complete rows. */
async function segmentRefs(p: Params, ctx: HandlerContext): Promise<string[]> {
  const n = p.segment_task_ids?.length ?? p.num_total_segments_generated;
  if (!n) throw new ValidationError('segment_task_ids', 'missing (and no num_total_segments_generated): the stitch cannot know how many segments to join');
  const known = new Map<number, string>();
  for (const [k, v] of Object.entries(p.segment_outputs)) if (v) known.set(Number(k), v);
  const children = await ctx.children();
  for (const [childId, value] of Object.entries(children)) {
    const i = p.segment_task_ids?.indexOf(childId) ?? -1;
    const idx = i >= 0 ? i : typeof value?.segment_index === 'number' ? (value.segment_index as number) : -1;
    if (idx >= 0 && typeof value?.output_location === 'string') known.set(idx, value.output_location);
    // A chained segment passes on the outputs of the segments below it.
    const chain = (value as { chain_outputs?: Record<string, string> } | undefined)?.chain_outputs ?? {};
    for (const [k, loc] of Object.entries(chain)) if (!known.has(Number(k))) known.set(Number(k), loc);
  }
  if (known.size < n) {
    for (const row of await ctx.store.completedTravelSegments(p.orchestrator_run_id)) {
      if (!known.has(row.segmentIndex) && row.outputLocation) known.set(row.segmentIndex, row.outputLocation);
    }
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !known.has(i));
  // Rows follow events asynchronously; a missing one is usually the reconciler catching up.
  if (missing.length) throw new StoreError(`run ${p.orchestrator_run_id}: outputs of segment(s) ${missing.join(', ')} are not known yet; stitching would leave a jump`);
  return Array.from({ length: n }, (_, i) => known.get(i)!);
}

export const travelStitchHandler: TaskHandler<Params> = {
  taskType: 'travel_stitch',
  schema,
  timeoutMs: 60 * 60_000,
  isolation: 'process',
  async run(p, ctx) {
    const runId = p.orchestrator_run_id;
    const [W, H] = p.parsed_resolution_wh;
    let runDir = path.resolve(ctx.outputRoot, p.current_run_base_output_dir ?? path.join(ctx.outputRoot, `travel_run_${runId}`));
    if (!path.basename(runDir).endsWith(runId)) runDir = path.join(runDir, `travel_run_${runId}`);
    const workDir = path.join(runDir, `stitch_final_output_${ctx.taskId.slice(0, 8)}`);
    await mkdir(workDir, { recursive: true });

    const refs = await segmentRefs(p, ctx);
    const inputs: string[] = [];
    if (p.initial_continued_video_path) inputs.push(await ctx.outputs.resolve(p.initial_continued_video_path, workDir));
    for (const ref of refs) inputs.push(await ctx.outputs.resolve(ref, workDir));
    const joins = inputs.length - 1;
    const overlaps = p.stitch_join_overlaps ?? (p.initial_continued_video_path ? p.frame_overlap_settings_expanded : p.frame_overlap_settings_expanded.slice(0, joins));
    if (overlaps.length !== joins) {
      throw new ValidationError('stitch_join_overlaps', `has ${overlaps.length} values for ${joins} joins between ${inputs.length} videos`);
    }

    await ctx.progress({ stage: 'stitch', percent: 5 });
    const rawPath = path.join(workDir, `stitched_raw_${runId}.mp4`);
    const { frames, mode } = await stitchVideosCopying({
      inputs,
      overlaps,
      sharpAmt: p.crossfade_sharp_amt,
      width: W,
      height: H,
      fps: p.fps_final_video,
      outputPath: rawPath,
      signal: ctx.signal,
      log: ctx.log,
      onProgress: (done, total) => void ctx.progress({ stage: 'stitch', percent: 5 + (done / total) * 75 }),
    });
    ctx.log.info({ mode, frames, inputs: inputs.length }, 'stitched');
    if (p.expected_final_frames !== undefined && !p.initial_continued_video_path && frames !== p.expected_final_frames) {
      throw new MediaError(`stitched ${frames} frames for run ${runId}, the plan says Σ segment_frames = ${p.expected_final_frames}`);
    }

    let chosen = rawPath;
    let upscaled = false;
    const f = p.upscale_factor;
    if (f > 1 && p.upscale_model_name) {
      await ctx.progress({ stage: 'upscale', percent: 82 });
      const upPath = path.join(workDir, `stitched_upscaled_${f.toFixed(1)}x_${runId}.mp4`);
      try {
        const engine = ctx.engines.get(p.execution_engine as EngineName);
        if (!engine.upscaleVideo) throw new MediaError(`engine ${engine.name} cannot upscale`);
        await engine.upscaleVideo({ inputPath: rawPath, outputPath: upPath, factor: f, model: p.upscale_model_name, seed: p.seed_for_upscale, signal: ctx.signal });
        chosen = upPath;
        upscaled = true;
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        // The intended seed behaviour: a failed upscale still delivers the plain video.
        ctx.log.warn({ err: (err as Error).message }, 'upscale failed; delivering the video without it');
      }
    }

    const finalDir = path.resolve(ctx.outputRoot, p.final_output_dir ?? ctx.outputRoot);
    const finalName = upscaled ? `travel_final_upscaled_${f.toFixed(1)}x_${runId}.mp4` : `travel_final_${runId}.mp4`;
    const finalPath = path.join(finalDir, finalName);
    // Same name on a retry: one final video per run, never `_1` copies.
    await moveInto(chosen, finalPath);
    const info = await probeVideo(finalPath, ctx.signal);
    await ctx.progress({ stage: 'publish', percent: 95 });
    const location = await ctx.outputs.publish(finalPath, { taskId: ctx.taskId });

    if (!p.debug_mode_enabled && !p.skip_cleanup_enabled) {
      await rm(runDir, { recursive: true, force: true }).catch((err) => ctx.log.warn({ err: (err as Error).message, runDir }, 'cleanup failed'));
    }
    await ctx.progress({ stage: 'done', percent: 100 });
    return { output_location: location, frames: info.frames, fps: p.fps_final_video };
  },
};
