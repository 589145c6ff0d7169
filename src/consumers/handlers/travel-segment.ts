import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EngineError, MediaError, StoreError, ValidationError } from '../../core/errors.ts';
import { ENGINES } from '../../core/types.ts';
import { engineOf } from '../../flows/queues.ts';
import { buildGuideFrames, parseFadeParams } from '../media/guide.ts';
import { decodeFrames, imageToFrame, probeVideo, writeVideo } from '../media/frames-io.ts';
import { solidFrame } from '../media/frame-ops.ts';
import { adjustSaturation } from '../media/ops.ts';
import { encodeForStitch, segmentKeyframes } from '../media/stitch-encode.ts';
import { requireFile } from './standard-wgp.ts';
import type { HandlerContext, TaskHandler } from './types.ts';

/**
 * `travel_segment` (spec 02 §3, intended behaviour): build the segment's guide and mask from its
 * anchors (and, chained, the previous segment's last frames), generate exactly
 * `frames_to_generate` = F_i + P_i frames at `fps_helpers` on the task's engine, apply the
 * post-generation saturation to non-first segments, and hand the file on by reference.
 *
 * Independent mode: a segment never waits for its predecessor. Its first P_i frames hold its
 * start image (the image the previous segment ends on) and are kept as they are, so the stitch's
 * cross-fade eases the previous segment into that image instead of blending two motions.
 */

/** Settings the seed read from `full_orchestrator_payload`; the planner also copies them to the top level. */
const SETTING_KEYS = [
  'input_image_paths_resolved',
  'continue_from_video_resolved_path',
  'parsed_resolution_wh',
  'model_name',
  'execution_engine',
  'use_causvid_lora',
  'cfg_star_switch',
  'cfg_zero_step',
  'params_json_str_override',
  'fps_helpers',
  'last_frame_duplication',
  'fade_in_params_json_str',
  'fade_out_params_json_str',
  'subsequent_starting_strength_adjustment',
  'desaturate_subsequent_starting_frames',
  'adjust_brightness_subsequent_starting_frames',
  'after_first_post_generation_saturation',
  'debug_mode_enabled',
  'segment_mode',
  'run_id',
  'main_output_dir_for_run',
] as const;

const schema = z.looseObject({
  orchestrator_task_id_ref: z.string().min(1),
  orchestrator_run_id: z.string().min(1),
  segment_index: z.number().int().min(0),
  is_first_segment: z.boolean().optional(),
  full_orchestrator_payload: z.record(z.string(), z.unknown()).nullish(),
  base_prompt: z.string().default(''),
  negative_prompt: z.string().default(''),
  segment_frames_target: z.number().int().positive(),
  frame_overlap_from_previous: z.number().int().min(0).default(0),
  /** Frames the next segment shares with this one (the planner sends it; 0 or absent for the last). */
  frame_overlap_with_next: z.number().int().min(0).optional(),
  is_last_segment: z.boolean().optional(),
  frames_to_generate: z.number().int().positive().optional(),
  seed_to_use: z.number().int().optional(),
  current_run_base_output_dir: z.string().nullish(),
  path_to_previous_segment_output: z.string().nullish(),
  previous_segment_task_id: z.string().nullish(),
  vace_image_refs_for_segment: z.array(z.unknown()).default([]),
  comfyui_workflow_path_override: z.string().nullish(),
  comfyui_server_address_override: z.string().nullish(),
});
type Params = z.infer<typeof schema>;

/** The settings once merged from the top level, the payload, or the orchestrator's row. */
const settingsSchema = z.object({
  input_image_paths_resolved: z.array(z.string()).min(1),
  continue_from_video_resolved_path: z.string().nullish(),
  parsed_resolution_wh: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  model_name: z.string().default('vace_14B'),
  execution_engine: z.enum(ENGINES).default('onnx'),
  use_causvid_lora: z.boolean().default(false),
  cfg_star_switch: z.number().default(0),
  cfg_zero_step: z.number().default(-1),
  params_json_str_override: z.string().nullish(),
  fps_helpers: z.number().positive().default(25),
  last_frame_duplication: z.number().int().min(0).default(0),
  fade_in_params_json_str: z.string().nullish(),
  fade_out_params_json_str: z.string().nullish(),
  subsequent_starting_strength_adjustment: z.number().default(0),
  desaturate_subsequent_starting_frames: z.number().default(0),
  adjust_brightness_subsequent_starting_frames: z.number().default(0),
  after_first_post_generation_saturation: z.number().nullish(),
  debug_mode_enabled: z.boolean().default(false),
  segment_mode: z.enum(['chained', 'independent']).default('chained'),
  main_output_dir_for_run: z.string().nullish(),
});
type Settings = z.infer<typeof settingsSchema>;

async function resolveSettings(p: Params, ctx: HandlerContext): Promise<Settings> {
  let payload = p.full_orchestrator_payload ?? null;
  const top = p as Record<string, unknown>;
  if (!payload && top.input_image_paths_resolved === undefined) {
    // A seed-style segment without its payload: the seed loaded it from the orchestrator's row.
    const row = await ctx.store.get(p.orchestrator_task_id_ref);
    payload = ((row?.params?.orchestrator_details as Record<string, unknown> | undefined) ?? null);
    if (!payload) throw new ValidationError('full_orchestrator_payload', `missing, and the orchestrator row ${p.orchestrator_task_id_ref} has no params.orchestrator_details to load it from`);
  }
  const merged: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) merged[key] = top[key] !== undefined && top[key] !== null ? top[key] : payload?.[key];
  const parsed = settingsSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(issue.path.map(String).join('.') || 'params', issue.message);
  }
  return parsed.data;
}

/** The previous segment's output (chained mode): given, else the child's value, else the Complete row. */
async function previousSegmentRef(p: Params, ctx: HandlerContext): Promise<string> {
  if (p.path_to_previous_segment_output) return p.path_to_previous_segment_output;
  const children = await ctx.children();
  const byId = p.previous_segment_task_id ? children[p.previous_segment_task_id]?.output_location : undefined;
  const any = Object.values(children).find((v) => typeof v?.output_location === 'string' && (v as { segment_index?: unknown }).segment_index === p.segment_index - 1);
  const fromChild = byId ?? (any?.output_location as string | undefined);
  if (fromChild) return fromChild;
  const done = await ctx.store.completedTravelSegments(p.orchestrator_run_id);
  const row = done.find((s) => s.segmentIndex === p.segment_index - 1);
  if (row?.outputLocation) return row.outputLocation;
  // The reconciler may not have recorded it yet: worth another attempt.
  throw new StoreError(`segment ${p.segment_index} of run ${p.orchestrator_run_id}: the output of segment ${p.segment_index - 1} is not known yet (no child value, no Complete row)`);
}

/**
 * Outputs of the segments below this one in a chain, passed upwards in each result so the stitch
 * (whose only chained child is the last segment) knows every output without waiting for rows.
 */
async function chainBelow(ctx: HandlerContext): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of Object.values(await ctx.children())) {
    Object.assign(out, (v as { chain_outputs?: Record<string, string> }).chain_outputs ?? {});
    if (typeof v.segment_index === 'number' && typeof v.output_location === 'string') out[String(v.segment_index)] = v.output_location;
  }
  return out;
}

/**
 * The file the segment hands on: encoded with the stitch recipe, with IDR frames where its overlaps
 * begin and end, so travel_stitch copies its untouched middle instead of re-encoding it
 * (stitch-copy.ts). The seed's post-generation saturation rides on the same encode. When that
 * encode is impossible (odd size) or fails, the generated file goes on as it is and the stitch
 * re-encodes it; a failed saturation keeps the generated colours, as the seed did.
 */
async function publishableVideo(
  generated: string,
  o: { segDir: string; idx: number; W: number; H: number; frames: number; overlapPrev: number; overlapNext: number; saturation: number | null },
  ctx: HandlerContext,
): Promise<string> {
  const { saturation: sat, idx } = o;
  const satPath = sat !== null ? path.join(o.segDir, `s${idx}_final_sat_${sat.toFixed(2)}.mp4`) : null;
  const fallback = async (why: string): Promise<string> => {
    ctx.log.warn({ why }, 'segment not encoded for the stream-copy stitch; the stitch will re-encode it');
    if (sat === null) return generated;
    try {
      await adjustSaturation(generated, satPath!, sat, ctx.signal);
      return satPath!;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      ctx.log.warn({ err: (err as Error).message }, 'saturation failed; keeping the generated file (as the seed did)');
      return generated;
    }
  };
  if (o.W % 2 !== 0 || o.H % 2 !== 0) return fallback(`${o.W}x${o.H} is odd; yuv420p needs even sizes`);
  if (o.overlapPrev + o.overlapNext > o.frames) return fallback(`overlaps ${o.overlapPrev} + ${o.overlapNext} exceed the segment's ${o.frames} frames`);
  const keyframes = segmentKeyframes(o.frames, o.overlapPrev, o.overlapNext);
  const out = satPath ?? path.join(o.segDir, `s${idx}_final.mp4`);
  try {
    await encodeForStitch(generated, out, { keyframes, saturation: sat, signal: ctx.signal });
    return out;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    if (sat === null) return fallback((err as Error).message);
    ctx.log.warn({ err: (err as Error).message }, 'saturation failed; keeping the generated colours (as the seed did)');
  }
  const plain = path.join(o.segDir, `s${idx}_final.mp4`);
  try {
    await encodeForStitch(generated, plain, { keyframes, signal: ctx.signal });
    return plain;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.log.warn({ why: (err as Error).message }, 'segment not encoded for the stream-copy stitch; the stitch will re-encode it');
    return generated;
  }
}

export const travelSegmentHandler: TaskHandler<Params> = {
  taskType: 'travel_segment',
  schema,
  // The seed waited 30 minutes for a segment's generation.
  timeoutMs: 30 * 60_000,
  isolation: 'process',
  async run(p, ctx) {
    const s = await resolveSettings(p, ctx);
    const [W, H] = s.parsed_resolution_wh;
    const idx = p.segment_index;
    const images = s.input_image_paths_resolved;
    const cont = s.continue_from_video_resolved_path ?? null;
    const P = p.frame_overlap_from_previous;
    const T = p.frames_to_generate ?? p.segment_frames_target + P;
    if (T !== p.segment_frames_target + P) {
      throw new ValidationError('frames_to_generate', `is ${T} but segment_frames_target + frame_overlap_from_previous = ${p.segment_frames_target + P}; the planner must send F_i + P_i`);
    }
    const endImageIdx = cont ? idx : idx + 1;
    if (endImageIdx >= images.length) {
      throw new ValidationError('input_image_paths_resolved', `segment ${idx} needs image ${endImageIdx} but only ${images.length} images were given`);
    }

    const runDir = path.resolve(ctx.outputRoot, p.current_run_base_output_dir ?? path.join(s.main_output_dir_for_run ?? ctx.outputRoot, `travel_run_${p.orchestrator_run_id}`));
    const segDir = path.join(runDir, `segment_${String(idx).padStart(2, '0')}_${ctx.taskId.slice(0, 8)}`);
    await mkdir(segDir, { recursive: true });

    await ctx.progress({ stage: 'guide', percent: 2 });
    const endAnchor = await imageToFrame(await requireFile(images[endImageIdx], `input_image_paths_resolved[${endImageIdx}]`), W, H, ctx.signal);
    let startAnchor: Buffer | null = null;
    let previousFrames: Buffer[] = [];
    const continues = idx > 0 || cont !== null;
    if (!continues) {
      startAnchor = await imageToFrame(await requireFile(images[0], 'input_image_paths_resolved[0]'), W, H, ctx.signal);
    } else if (P === 0) {
      // No shared frames: the segment starts on the image the previous one ended on.
      startAnchor = await imageToFrame(await requireFile(images[cont ? idx - 1 : idx], 'input_image_paths_resolved'), W, H, ctx.signal);
    } else if (s.segment_mode === 'independent' && idx > 0) {
      const hold = await imageToFrame(await requireFile(images[cont ? idx - 1 : idx], `input_image_paths_resolved[${cont ? idx - 1 : idx}]`), W, H, ctx.signal);
      previousFrames = new Array<Buffer>(P).fill(hold);
    } else {
      const ref = idx === 0 ? cont! : await previousSegmentRef(p, ctx);
      const local = await ctx.outputs.resolve(ref, segDir);
      const info = await probeVideo(local, ctx.signal);
      if (info.frames <= 0) throw new MediaError(`previous video ${local} has no readable frames`);
      for await (const f of decodeFrames(local, { width: W, height: H, last: Math.min(P, info.frames), signal: ctx.signal })) previousFrames.push(f);
    }
    const guide = buildGuideFrames({
      width: W,
      height: H,
      totalFrames: T,
      startAnchor,
      endAnchor,
      previousFrames,
      fadeIn: parseFadeParams(s.fade_in_params_json_str),
      fadeOut: parseFadeParams(s.fade_out_params_json_str),
      strengthAdjustment: continues ? s.subsequent_starting_strength_adjustment : 0,
      desaturate: continues ? s.desaturate_subsequent_starting_frames : 0,
      brightness: continues ? s.adjust_brightness_subsequent_starting_frames : 0,
      lastFrameDuplication: s.last_frame_duplication,
    });
    // Lossless, so the frames the mask keeps reach the engine bit for bit.
    const guidePath = path.join(segDir, `s${idx}_guide_vid.mp4`);
    const maskPath = path.join(segDir, `s${idx}_mask_vid.mp4`);
    const white = solidFrame(W, H, 255, 255, 255);
    const black = solidFrame(W, H, 0, 0, 0);
    const gw = writeVideo(guidePath, { width: W, height: H, fps: s.fps_helpers, lossless: true, signal: ctx.signal });
    const mw = writeVideo(maskPath, { width: W, height: H, fps: s.fps_helpers, lossless: true, signal: ctx.signal });
    try {
      for (let i = 0; i < T; i++) {
        await gw.write(guide.frames[i]);
        await mw.write(guide.generateMask[i] ? white : black);
      }
      await Promise.all([gw.close(), mw.close()]);
    } catch (err) {
      gw.abort();
      mw.abort();
      throw err;
    }
    guide.frames.length = 0;

    await ctx.progress({ stage: 'generate', percent: 10 });
    const engineName = engineOf({ execution_engine: s.execution_engine });
    const engine = ctx.engines.get(engineName);
    const rawPath = path.join(segDir, `s${idx}_generated.mp4`);
    const out = await engine.generateVideo({
      taskId: ctx.taskId,
      prompt: p.base_prompt,
      negativePrompt: p.negative_prompt,
      width: W,
      height: H,
      frames: T,
      fps: s.fps_helpers,
      seed: p.seed_to_use ?? idx,
      model: s.model_name,
      guideVideoPath: guidePath,
      maskVideoPath: maskPath,
      imageRefs: [],
      extra: {
        use_causvid_lora: s.use_causvid_lora,
        cfg_star_switch: s.cfg_star_switch,
        cfg_zero_step: s.cfg_zero_step,
        params_json_str_override: s.params_json_str_override ?? null,
        vace_image_refs: p.vace_image_refs_for_segment,
        comfyui_workflow_path: p.comfyui_workflow_path_override ?? null,
        comfyui_server_address: p.comfyui_server_address_override ?? null,
      },
      outputPath: rawPath,
      signal: ctx.signal,
      onProgress: (pct) => void ctx.progress({ stage: 'generate', percent: 10 + pct * 0.8 }),
    });
    for (const note of out.notes) ctx.log.info({ note }, 'engine note');
    if (out.frames !== T) throw new EngineError(`engine ${engineName} returned ${out.frames} frames for segment ${idx}; ${T} (F_i + P_i) were asked for`);

    const sat = continues ? (s.after_first_post_generation_saturation ?? null) : null;
    await ctx.progress({ stage: sat !== null ? 'saturation' : 'encode', percent: 92 });
    const overlapNext = p.is_last_segment ? 0 : (p.frame_overlap_with_next ?? 0);
    const finalPath = await publishableVideo(out.videoPath, { segDir, idx, W, H, frames: T, overlapPrev: P, overlapNext, saturation: sat }, ctx);
    await ctx.progress({ stage: 'done', percent: 100 });
    const location = await ctx.outputs.publish(finalPath, { taskId: ctx.taskId });
    return { output_location: location, segment_index: idx, frames: T, chain_outputs: { ...(await chainBelow(ctx)), [idx]: location } };
  },
};
