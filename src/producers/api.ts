import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { commitAndDispatch, priorityOpts } from './commit-and-dispatch.ts';
import { withDeps, type ProducerDeps } from './deps.ts';
import { newRunId, poseRunId, poseStepIds, travelOrchestratorId, travelSegmentId, travelStitchId } from './ids.ts';
import { bringContinueVideo, prepareVaceRefs } from './input-files.ts';
import { checkInputFile, checkInputFiles } from './media-check.ts';
import { buildPoseDetails, parsePoseOptions, type PoseInput } from './pose-args.ts';
import { prepareTask, type TaskField } from './task-spec.ts';
import { expandTravel, parseTravelOptions, type TravelInput } from './travel-args.ts';
import { buildOrchestratorDetails, logFolderFor, planVaceRefs } from './travel-payload.ts';

/**
 * The typed library API the `steerable-motion` CLI is a thin shell over. Each call validates and
 * checks its input files before anything is written, inserts the canonical row(s), then dispatches;
 * it returns at once (it never waits for the work).
 */

export type { ProducerDeps } from './deps.ts';
export { openProducerDeps } from './deps.ts';
export type { TravelInput, TravelOptions } from './travel-args.ts';
export type { PoseInput, PoseOptions } from './pose-args.ts';

export interface EnqueueResult {
  runId: string;
  /** The root row's task id (the orchestrator for travel and different_pose). */
  orchestratorTaskId: string;
  /** Every task id of the run: the root first, then the children the flow will create (deterministic ids). */
  taskIds: string[];
  /** False when Redis did not answer: the rows are `Queued` and the reconciler dispatches them later. */
  dispatched: boolean;
}

export interface TravelEnqueueResult extends EnqueueResult {
  segmentTaskIds: string[];
  stitchTaskId: string;
  logFolder: string;
  numSegments: number;
}

export interface EnqueueContext {
  /** Directory relative paths are resolved against (default: process.cwd()). */
  cwd?: string;
}

export async function enqueueTravel(input: TravelInput, deps?: ProducerDeps, ctx: EnqueueContext = {}): Promise<TravelEnqueueResult> {
  const cwd = ctx.cwd ?? process.cwd();
  const opts = parseTravelOptions(input);
  const expansion = expandTravel(opts);
  const imagePaths = await checkInputFiles(opts.input_images, 'image', '--input_images', cwd);

  const runId = newRunId();
  const orchestratorTaskId = travelOrchestratorId(runId);
  const outputDir = path.resolve(cwd, opts.output_dir);
  const logFolder = logFolderFor(outputDir, runId);
  await mkdir(logFolder, { recursive: true });
  let committed = false;
  try {
    const continueVideoPath = opts.continue_from_video ? await bringContinueVideo(opts.continue_from_video, logFolder, { cwd }) : null;
    const vaceRefs = planVaceRefs({
      imagePaths,
      numSegments: expansion.numSegments,
      continuing: continueVideoPath !== null,
      initialStrength: opts.initial_image_strength,
      finalStrength: opts.final_image_strength,
      logFolder,
    });
    await prepareVaceRefs(vaceRefs);
    const details = buildOrchestratorDetails({ opts, expansion, runId, orchestratorTaskId, outputDir, logFolder, imagePaths, continueVideoPath, vaceRefs });
    const segmentTaskIds = Array.from({ length: expansion.numSegments }, (_, i) => travelSegmentId(runId, i));
    const stitchTaskId = travelStitchId(runId);
    const dispatched = await withDeps(deps, (d) =>
      commitAndDispatch(
        { taskId: orchestratorTaskId, taskType: 'travel_orchestrator', params: { orchestrator_details: details }, runId, parentTaskId: null },
        d,
        priorityOpts(opts.priority),
        // From here on the row exists, so the log folder belongs to the run even if dispatch fails.
        () => (committed = true),
      ),
    );
    return {
      runId,
      orchestratorTaskId,
      taskIds: [orchestratorTaskId, ...segmentTaskIds, stitchTaskId],
      dispatched,
      segmentTaskIds,
      stitchTaskId,
      logFolder,
      numSegments: expansion.numSegments,
    };
  } catch (err) {
    // The seed left a log folder behind for every failed enqueue; nothing refers to it unless a row was written.
    if (!committed) await rm(logFolder, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

export async function enqueueDifferentPose(input: PoseInput, deps?: ProducerDeps, ctx: EnqueueContext = {}): Promise<EnqueueResult> {
  const cwd = ctx.cwd ?? process.cwd();
  const opts = parsePoseOptions(input);
  const inputImagePath = await checkInputFile(opts.input_image, 'image', '--input_image', cwd);
  const runId = poseRunId();
  const outputDir = path.resolve(cwd, opts.output_dir);
  await mkdir(outputDir, { recursive: true });
  const details = buildPoseDetails({ opts, runId, outputDir, inputImagePath });
  const dispatched = await withDeps(deps, (d) =>
    commitAndDispatch(
      { taskId: runId, taskType: 'different_pose_orchestrator', params: { orchestrator_details: details }, runId, parentTaskId: null },
      d,
      priorityOpts(opts.priority),
    ),
  );
  const steps = [poseStepIds.userPose, poseStepIds.targetImage, poseStepIds.targetPose, poseStepIds.guide, poseStepIds.finalVideo, poseStepIds.finalize];
  return { runId, orchestratorTaskId: runId, taskIds: [runId, ...steps.map((f) => f(runId))], dispatched };
}

export interface EnqueueTaskOptions {
  /** Default: `params.task_id` if it is a string, else `sm_task_<12hex>`. */
  taskId?: string;
  runId?: string | null;
  priority?: number | null;
}

/** The single path names fields as `smq enqueue` and the table do. */
const SINGLE_FIELDS: Record<TaskField, string> = {
  taskType: 'task_type',
  params: 'params',
  taskId: 'task_id',
  runId: 'run_id',
  priority: 'priority',
  'params.execution_engine': 'params.execution_engine',
};

/** Queues one task of a known type with the given params (the generic path: `smq enqueue`). */
export async function enqueueTask(taskType: string, params: unknown, deps?: ProducerDeps, opts: EnqueueTaskOptions = {}): Promise<EnqueueResult> {
  const { row, jobOpts } = prepareTask({ taskType, params, taskId: opts.taskId, runId: opts.runId, priority: opts.priority }, (f) => SINGLE_FIELDS[f]);
  const dispatched = await withDeps(deps, (d) => commitAndDispatch(row, d, jobOpts));
  return { runId: row.runId ?? row.taskId, orchestratorTaskId: row.taskId, taskIds: [row.taskId], dispatched };
}

export { enqueueTasks, ADD_BULK_CHUNK, type BulkTask, type BulkEnqueueResult } from './enqueue-bulk.ts';
