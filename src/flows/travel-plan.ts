import path from 'node:path';
import type { ChildTask } from '../consumers/handlers/types.ts';
import type { TaskRow } from '../core/types.ts';
import { travelSegmentId, travelStitchId } from '../producers/ids.ts';
import type { OrchestratorDetails } from './travel-details.ts';

/**
 * Pure planning of a travel run: which segment and stitch tasks exist, their params, and the flow
 * tree they run in. The orchestrator calls it at run time (so a row an old client inserted plans
 * the same way) and again on any re-run, passing the canonical rows it found: rows already
 * Complete are not planned again, their outputs are handed to whoever needs them by reference.
 *
 * Tree shapes (a BullMQ parent runs after its children):
 * - chained:     stitch ← seg(n−1) ← … ← seg0   (seg k is a child of seg k+1: seg0 runs first and
 *                seg1 reads its output from its child's value)
 * - independent: stitch ← {seg0, …, seg(n−1)}    (siblings: as many GPUs as segments)
 */

/**
 * Keys copied verbatim from the details into every segment (spec 02 §2 "copied from details"),
 * except the two that list the whole run: `full_orchestrator_payload` (the details themselves)
 * and `input_image_paths_resolved` (N+1 paths). Copied into N segments they made a run's params
 * grow as N² — 98 MiB at 1,000 segments, written twice (table and Redis) while the orchestrator
 * waits. A segment without them loads them from its orchestrator row's
 * `params.orchestrator_details`, as spec 02 §3.1 specifies and the segment handler does; that row
 * keeps every key the client wrote.
 */
const SEGMENT_COPIED_KEYS = [
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
  'crossfade_sharp_amt',
  'upscale_factor',
  'upscale_model_name',
  'debug_mode_enabled',
  'skip_cleanup_enabled',
  'segment_mode',
] as const;

export interface PlannedTask {
  taskId: string;
  taskType: 'travel_segment' | 'travel_stitch';
  params: Record<string, unknown>;
  /** Direct flow parent: the next segment (chained), the stitch, or the orchestrator. */
  parentTaskId: string;
  /** Already Complete in the canonical table: not added again. */
  complete: boolean;
  outputLocation: string | null;
}

export interface TravelPlan {
  runId: string;
  orchestratorTaskId: string;
  segmentMode: OrchestratorDetails['segment_mode'];
  runDir: string;
  segments: PlannedTask[];
  stitch: PlannedTask;
  /** Trees to add under the orchestrator; empty when the stitch is already Complete. */
  tree: ChildTask[];
  /** Σ F_i (plus the continue video's frames when known). */
  expectedFinalFrames: number;
}

/** Task ids a run will use, so the caller can fetch exactly those canonical rows before planning. */
export function travelTaskIds(details: Pick<OrchestratorDetails, 'run_id' | 'num_new_segments_to_generate'>): string[] {
  const ids = Array.from({ length: details.num_new_segments_to_generate }, (_, i) => travelSegmentId(details.run_id, i));
  return [...ids, travelStitchId(details.run_id)];
}

/** Frames generated before segment i's own F_i: the overlap it shares with what precedes it (02 §5). */
export function overlapFromPrevious(details: Pick<OrchestratorDetails, 'frame_overlap_expanded' | 'continue_from_video_resolved_path'>, i: number): number {
  if (i === 0) return details.continue_from_video_resolved_path ? details.frame_overlap_expanded[0] : 0;
  return details.frame_overlap_expanded[i - 1];
}

/** Decision 2: the final video has exactly Σ F_i frames, plus the continue video's frames. */
export function expectedFinalFrames(details: Pick<OrchestratorDetails, 'segment_frames_expanded'>, continueVideoFrames = 0): number {
  return details.segment_frames_expanded.reduce((a, b) => a + b, 0) + continueVideoFrames;
}

/** Wan needs lengths of the form 4k+1: the smallest such length ≥ x (engines ask for it, then trim). */
export function wanFrameCount(x: number): number {
  if (!Number.isFinite(x) || x <= 1) return 1;
  return Math.ceil((x - 1) / 4) * 4 + 1;
}

/**
 * The VACE refs prepared for segment i. The seed filtered on a key its client never wrote, so no
 * ref was ever used (02 §3.6); the client names each file `s<i>_…`, which identifies the segment.
 */
function refsForSegment(details: OrchestratorDetails, i: number): unknown[] {
  return details.vace_image_refs_prepared.filter((ref) => {
    const explicit = (ref as Record<string, unknown>).segment_idx_for_naming;
    if (typeof explicit === 'number') return explicit === i;
    const file = typeof ref.processed_path === 'string' ? path.basename(ref.processed_path) : '';
    return file.startsWith(`s${i}_`);
  });
}

function originalArg(details: OrchestratorDetails, key: string): unknown {
  return details.original_task_args?.[key] ?? null;
}

export function planTravel(input: {
  orchestratorTaskId: string;
  details: OrchestratorDetails;
  /** Canonical rows of this run's tasks, by task id (missing ids simply were never created). */
  existing: Map<string, TaskRow> | TaskRow[];
}): TravelPlan {
  const { details, orchestratorTaskId } = input;
  const existing = Array.isArray(input.existing) ? new Map(input.existing.map((r) => [r.taskId, r])) : input.existing;
  const n = details.num_new_segments_to_generate;
  const runId = details.run_id;
  const runDir = path.join(details.main_output_dir_for_run, `travel_run_${runId}`);
  const mode = details.segment_mode;
  const stitchId = travelStitchId(runId);
  const segIds = Array.from({ length: n }, (_, i) => travelSegmentId(runId, i));
  const doneOutput = (id: string): string | null => {
    const row = existing.get(id);
    return row && row.status === 'Complete' ? (row.outputLocation ?? '') : null;
  };

  const segments: PlannedTask[] = segIds.map((taskId, i) => {
    const p = overlapFromPrevious(details, i);
    const params: Record<string, unknown> = {
      task_id: taskId,
      segment_task_id: taskId,
      orchestrator_task_id_ref: orchestratorTaskId,
      orchestrator_run_id: runId,
      segment_index: i,
      is_first_segment: i === 0,
      is_last_segment: i === n - 1,
      base_prompt: details.base_prompts_expanded[i],
      negative_prompt: details.negative_prompts_expanded[i],
      segment_frames_target: details.segment_frames_expanded[i],
      frame_overlap_with_next: details.frame_overlap_expanded[i],
      frame_overlap_from_previous: p,
      frames_to_generate: details.segment_frames_expanded[i] + p,
      vace_image_refs_for_segment: refsForSegment(details, i),
      seed_to_use: details.seed_base + i,
      current_run_base_output_dir: runDir,
      comfyui_workflow_path_override: originalArg(details, 'comfyui_workflow_path_for_travel'),
      comfyui_server_address_override: originalArg(details, 'comfyui_server_address_for_travel'),
    };
    for (const key of SEGMENT_COPIED_KEYS) params[key] = details[key];
    if (mode === 'chained' && i > 0) {
      // The segment reads its previous segment from its child's value; when that segment was
      // already Complete (a re-plan) it is not a child any more, so pass its output instead.
      params.previous_segment_task_id = segIds[i - 1];
      const prev = doneOutput(segIds[i - 1]);
      if (prev !== null) params.path_to_previous_segment_output = prev;
    }
    const out = doneOutput(taskId);
    const parentTaskId = mode === 'chained' && i < n - 1 ? segIds[i + 1] : stitchId;
    return { taskId, taskType: 'travel_segment', params, parentTaskId, complete: out !== null, outputLocation: out };
  });

  const segmentOutputs: Record<string, string> = {};
  segments.forEach((s, i) => {
    if (s.complete) segmentOutputs[String(i)] = s.outputLocation ?? '';
  });
  const stitchOut = doneOutput(stitchId);
  const stitch: PlannedTask = {
    taskId: stitchId,
    taskType: 'travel_stitch',
    parentTaskId: orchestratorTaskId,
    complete: stitchOut !== null,
    outputLocation: stitchOut,
    params: {
      task_id: stitchId,
      stitch_task_id: stitchId,
      orchestrator_task_id_ref: orchestratorTaskId,
      orchestrator_run_id: runId,
      num_total_segments_generated: n,
      current_run_base_output_dir: runDir,
      frame_overlap_settings_expanded: details.frame_overlap_expanded,
      // The overlap of each join, in video order (continue video first when there is one): the
      // overlap the later segment generated. The seed took O_j positionally, which misaligns
      // non-uniform overlaps after a continue video (02 §4.3); this list is what was generated.
      stitch_join_overlaps: segments.map((_, i) => overlapFromPrevious(details, i)).slice(details.continue_from_video_resolved_path ? 0 : 1),
      crossfade_sharp_amt: details.crossfade_sharp_amt,
      parsed_resolution_wh: details.parsed_resolution_wh,
      fps_final_video: details.fps_helpers,
      upscale_factor: details.upscale_factor,
      upscale_model_name: details.upscale_model_name,
      seed_for_upscale: details.seed_base + 5000,
      execution_engine: details.execution_engine,
      debug_mode_enabled: details.debug_mode_enabled,
      skip_cleanup_enabled: details.skip_cleanup_enabled,
      initial_continued_video_path: details.continue_from_video_resolved_path,
      segment_task_ids: segIds,
      segment_outputs: segmentOutputs,
      segment_mode: mode,
      final_output_dir: details.main_output_dir_for_run,
      expected_final_frames: expectedFinalFrames(details),
    },
  };

  return {
    runId,
    orchestratorTaskId,
    segmentMode: mode,
    runDir,
    segments,
    stitch,
    tree: stitch.complete ? [] : [buildStitchTree(stitch, segments, mode)],
    expectedFinalFrames: expectedFinalFrames(details),
  };
}

function node(t: PlannedTask, children: ChildTask[]): ChildTask {
  return children.length > 0 ? { taskId: t.taskId, taskType: t.taskType, params: t.params, children } : { taskId: t.taskId, taskType: t.taskType, params: t.params };
}

function buildStitchTree(stitch: PlannedTask, segments: PlannedTask[], mode: OrchestratorDetails['segment_mode']): ChildTask {
  if (mode === 'independent') return node(stitch, segments.filter((s) => !s.complete).map((s) => node(s, [])));
  // Chained: walk from the last segment down. A pending segment's child is the pending segment
  // before it; a pending segment whose successor is Complete (or that is the last) hangs under
  // the stitch, which must wait for every segment it stitches.
  const stitchChildren: ChildTask[] = [];
  let below: ChildTask | null = null;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s.complete) {
      if (below) stitchChildren.push(below);
      below = null;
      continue;
    }
    below = node(s, below ? [below] : []);
  }
  if (below) stitchChildren.push(below);
  // Record the parents of the tree actually built (a re-plan may hang a segment under the stitch).
  const byId = new Map(segments.map((s) => [s.taskId, s]));
  const mark = (n: ChildTask, parent: string) => {
    const seg = byId.get(n.taskId);
    if (seg) seg.parentTaskId = parent;
    for (const c of n.children ?? []) mark(c, n.taskId);
  };
  for (const c of stitchChildren) mark(c, stitch.taskId);
  return node(stitch, stitchChildren);
}
