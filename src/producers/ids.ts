import { randomBytes, randomInt } from 'node:crypto';
import { ValidationError } from '../core/errors.ts';

/**
 * Every id smq producers and flows mint, in the seed's formats (spec 01 §3.1) so old tooling that
 * parses them keeps working. Child ids are derived deterministically from the run id (not random as
 * in the seed) because the job id is the task id: planning the same run twice must land on the
 * same ids and so create nothing twice.
 *
 * BullMQ rejects custom job ids containing ':' or made only of digits; none of these can be.
 */

/** 12 lowercase hex characters, the seed's `uuid4().hex[:12]`. */
export function hex12(): string {
  return randomBytes(6).toString('hex');
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * Run id `YYYYMMDD_HHMMSS_ffffff` in local time, as the seed's `%Y%m%d_%H%M%S_%f`. JavaScript
 * clocks stop at milliseconds, so the last three digits are random: two runs started in the same
 * millisecond (a script looping over the CLI) then still get different ids most of the time.
 */
export function newRunId(now: Date = new Date(), subMs: number = randomInt(0, 1000)): string {
  const date = `${now.getFullYear()}${pad(now.getMonth() + 1, 2)}${pad(now.getDate(), 2)}`;
  const time = `${pad(now.getHours(), 2)}${pad(now.getMinutes(), 2)}${pad(now.getSeconds(), 2)}`;
  const micros = now.getMilliseconds() * 1000 + (subMs % 1000);
  return `${date}_${time}_${pad(micros, 6)}`;
}

export const RUN_ID_PATTERN = /^\d{8}_\d{6}_\d{6}$/;

/** `sm_travel_orchestrator_<run_id[:8]>_<12hex>`: the `[:8]` is just the date, as in the seed. */
export function travelOrchestratorId(runId: string): string {
  return `sm_travel_orchestrator_${runId.slice(0, 8)}_${hex12()}`;
}

/** `travel_seg_<run_id>_<NN>`: deterministic (the seed appended 12 random hex). */
export function travelSegmentId(runId: string, index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new ValidationError('segment_index', `must be a non-negative integer, got ${index}`);
  return `travel_seg_${runId}_${pad(index, 2)}`;
}

/** `travel_stitch_<run_id>`. */
export function travelStitchId(runId: string): string {
  return `travel_stitch_${runId}`;
}

/** `upscale_stitch_<run_id>`, for the stitch's optional upscale step. */
export function travelUpscaleId(runId: string): string {
  return `upscale_stitch_${runId}`;
}

/** different_pose run id `sm_pose_rife_<12hex>`; the run's orchestrator row uses it as its task id too. */
export function poseRunId(): string {
  return `sm_pose_rife_${hex12()}`;
}

/** Step ids of a different_pose run (spec 01 §3.1 prefixes, suffixed with the run id instead of random hex). */
export const poseStepIds = {
  /** Step 1: `generate_openpose` of the user's image. */
  userPose: (runId: string) => `pose_op_user_${runId}`,
  /** Step 2: `standard_wgp_task` generating the target image from the prompt. */
  targetImage: (runId: string) => `pose_t2i_target_${runId}`,
  /** Step 3: `generate_openpose` of the target image. */
  targetPose: (runId: string) => `pose_op_t2i_${runId}`,
  /** Step 5: `different_pose_guide` (the seed used this prefix only as a file name). */
  guide: (runId: string) => `pose_custom_guide_${runId}`,
  /** Step 6: `standard_wgp_task` final guided video. */
  finalVideo: (runId: string) => `pose_finalvid_custom_${runId}`,
  /** Step 7: `different_pose_finalize` (new in smq: the seed did this in the client). */
  finalize: (runId: string) => `pose_finalize_${runId}`,
} as const;

/** Generic task id `sm_task_<12hex>` (the seed's `generate_unique_task_id`). */
export function genericTaskId(): string {
  return `sm_task_${hex12()}`;
}

/** Refuses ids BullMQ would reject as job ids, naming the field and the fix. */
export function assertJobId(id: string, field = 'task_id'): string {
  if (typeof id !== 'string' || id.trim() === '') throw new ValidationError(field, 'must be a non-empty string');
  if (id.includes(':')) throw new ValidationError(field, `${JSON.stringify(id)} contains ':', which BullMQ forbids in job ids; use '_' or '-' instead`);
  if (/^\d+$/.test(id)) throw new ValidationError(field, `${JSON.stringify(id)} is all digits, which BullMQ reserves for its own ids; add a letter prefix such as "task_"`);
  if (id.length > 255) throw new ValidationError(field, `is ${id.length} characters long; keep it to 255 or fewer`);
  return id;
}
