import path from 'node:path';
import { z } from 'zod';
import { ValidationError } from '../core/errors.ts';
import { ENGINES } from '../core/types.ts';

/**
 * The `orchestrator_details` object of a `travel_orchestrator` row (spec 01 §3.3, 02 §1), validated.
 *
 * An old client's row carries only the seed's keys, so every key smq added (`segment_mode`) and
 * every key the seed's worker fell back on has a default here. Unknown keys are kept: old readers
 * of `params` must still find what they wrote, and segments load the run's settings they do not
 * carry (the image list) from the orchestrator row's details.
 */

export const SEGMENT_MODES = ['chained', 'independent'] as const;
export type SegmentMode = (typeof SEGMENT_MODES)[number];

const DEFAULT_FADE = '{"low_point": 0.0, "high_point": 1.0, "curve_type": "ease_in_out", "duration_factor": 0.0}';

const stringList = z.array(z.string());
const intList = z.array(z.number().int());

export const orchestratorDetailsSchema = z
  .looseObject({
    run_id: z.string().min(1).optional(),
    orchestrator_task_id: z.string().optional(),
    num_new_segments_to_generate: z.number().int(),
    input_image_paths_resolved: stringList,
    continue_from_video_resolved_path: z.string().min(1).nullable().default(null),
    parsed_resolution_wh: z.tuple([z.number().int().positive(), z.number().int().positive()]),
    main_output_dir_for_run: z.string().min(1).nullable().optional(),
    orchestrator_log_folder: z.string().nullable().optional(),
    base_prompts_expanded: stringList,
    negative_prompts_expanded: stringList.default(['']),
    segment_frames_expanded: intList.default([81]),
    frame_overlap_expanded: intList.default([16]),
    vace_image_refs_prepared: z.array(z.looseObject({ processed_path: z.string().nullable().optional() })).default([]),
    fade_in_params_json_str: z.string().default(DEFAULT_FADE),
    fade_out_params_json_str: z.string().default(DEFAULT_FADE),
    model_name: z.string().default('vace_14B'),
    seed_base: z.number().int().default(12345),
    // Decision 7: a row without the key (a seed row included) runs on onnx.
    execution_engine: z.enum(ENGINES).default('onnx'),
    use_causvid_lora: z.boolean().default(false),
    cfg_star_switch: z.number().default(0),
    cfg_zero_step: z.number().default(-1),
    params_json_str_override: z.string().nullable().default(null),
    fps_helpers: z.number().positive().default(25),
    last_frame_duplication: z.number().int().min(0).default(0),
    subsequent_starting_strength_adjustment: z.number().default(0),
    desaturate_subsequent_starting_frames: z.number().default(0),
    adjust_brightness_subsequent_starting_frames: z.number().default(0),
    after_first_post_generation_saturation: z.number().nullable().default(null),
    crossfade_sharp_amt: z.number().default(0.3),
    upscale_factor: z.number().default(0),
    upscale_model_name: z.string().default('ltxv_13B'),
    debug_mode_enabled: z.boolean().default(false),
    skip_cleanup_enabled: z.boolean().default(false),
    original_task_args: z.record(z.string(), z.unknown()).nullable().optional(),
    segment_mode: z.enum(SEGMENT_MODES).default('chained'),
  })
  .superRefine((d, ctx) => {
    const n = d.num_new_segments_to_generate;
    if (n <= 0) {
      ctx.addIssue({ code: 'custom', path: ['num_new_segments_to_generate'], message: `is ${n}; a travel needs at least one segment (two images, or one image with continue_from_video)` });
      return;
    }
    const wantImages = d.continue_from_video_resolved_path ? n : n + 1;
    if (d.input_image_paths_resolved.length < wantImages) {
      ctx.addIssue({
        code: 'custom',
        path: ['input_image_paths_resolved'],
        message: `has ${d.input_image_paths_resolved.length} images but ${n} segments need ${wantImages}; pass one image per segment boundary`,
      });
    }
    for (const key of ['base_prompts_expanded', 'negative_prompts_expanded', 'segment_frames_expanded', 'frame_overlap_expanded'] as const) {
      const len = d[key].length;
      if (len !== 1 && len !== n) ctx.addIssue({ code: 'custom', path: [key], message: `has ${len} values but there are ${n} segments; give 1 value or ${n}` });
    }
    d.segment_frames_expanded.forEach((f, i) => {
      if (f <= 0) ctx.addIssue({ code: 'custom', path: ['segment_frames_expanded', i], message: `is ${f}; segment frames must be > 0` });
    });
    d.frame_overlap_expanded.forEach((o, i) => {
      if (o < 0) ctx.addIssue({ code: 'custom', path: ['frame_overlap_expanded', i], message: `is ${o}; overlaps must be >= 0` });
    });
  });

export type OrchestratorDetailsInput = z.input<typeof orchestratorDetailsSchema>;
type Parsed = z.output<typeof orchestratorDetailsSchema>;

/** Details after validation, with every list expanded to exactly n entries. */
export type OrchestratorDetails = Parsed & {
  run_id: string;
  main_output_dir_for_run: string;
};

/** Params of a `travel_orchestrator` row: the seed's shape. */
export const travelOrchestratorParamsSchema = z.looseObject({
  orchestrator_details: orchestratorDetailsSchema,
});

function firstIssue(error: z.ZodError, prefix: string): ValidationError {
  const issue = error.issues[0];
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  return new ValidationError(field || prefix, issue.message);
}

function expand<T>(list: T[], n: number): T[] {
  return list.length === n ? [...list] : Array.from({ length: n }, () => list[0]);
}

/**
 * Validates raw `orchestrator_details` and fills defaults. `fallbackRunId` is the orchestrator's
 * row id (the seed's fallback when run_id is absent); `outputRoot` is the worker's
 * --main-output-dir, used when the client gave no output dir.
 */
export function parseOrchestratorDetails(raw: unknown, opts: { fallbackRunId: string; outputRoot: string }): OrchestratorDetails {
  if (raw === undefined || raw === null) {
    throw new ValidationError('orchestrator_details', 'is missing from params; a travel_orchestrator row needs params = {"orchestrator_details": {...}} as steerable-motion writes it');
  }
  const parsed = orchestratorDetailsSchema.safeParse(raw);
  if (!parsed.success) throw firstIssue(parsed.error, 'orchestrator_details');
  const d = parsed.data;
  const n = d.num_new_segments_to_generate;
  const runId = d.run_id ?? opts.fallbackRunId;
  if (runId.includes(':')) throw new ValidationError('orchestrator_details.run_id', `${JSON.stringify(runId)} contains ':', which BullMQ forbids in job ids`);
  return {
    ...d,
    run_id: runId,
    main_output_dir_for_run: path.resolve(d.main_output_dir_for_run ?? opts.outputRoot),
    base_prompts_expanded: expand(d.base_prompts_expanded, n),
    negative_prompts_expanded: expand(d.negative_prompts_expanded, n),
    segment_frames_expanded: expand(d.segment_frames_expanded, n),
    frame_overlap_expanded: expand(d.frame_overlap_expanded, n),
  };
}
