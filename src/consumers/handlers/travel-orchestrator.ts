import { z } from 'zod';
import { ValidationError } from '../../core/errors.ts';
import type { JobResult, TaskRow } from '../../core/types.ts';
import { parseOrchestratorDetails, type OrchestratorDetails } from '../../flows/travel-details.ts';
import { planTravel, travelTaskIds, type TravelPlan } from '../../flows/travel-plan.ts';
import type { HandlerContext, TaskHandler } from './types.ts';

/**
 * `travel_orchestrator`: plans the run at run time and waits for it.
 *
 * step undefined → plan from `orchestrator_details` and the run's canonical rows, add the stitch
 *                  (and the segments under it) as this job's children, wait → step 'finalize'.
 * step 'finalize' → the stitch's value (or its row) is the run's result.
 *
 * Re-running is planning again: after a retry, or after the reconciler re-dispatched the row
 * because Redis lost everything, Complete rows are skipped and their outputs picked up, so only
 * what did not finish runs. A 'finalize' round that finds no stitch output (a job retried after a
 * failure keeps its step) plans again instead of failing.
 *
 * The schema only checks the outer shape; the details are validated in `run` with the row id as
 * the run-id fallback, so errors name `orchestrator_details.<key>`.
 */
const paramsSchema = z.looseObject({ orchestrator_details: z.unknown().optional() });
type Params = z.infer<typeof paramsSchema>;

export const FINALIZE_STEP = 'finalize';

export const travelOrchestratorHandler: TaskHandler<Params> = {
  taskType: 'travel_orchestrator',
  schema: paramsSchema,
  // Planning is a few queries; the long wait happens in waiting-children, which holds no timer.
  timeoutMs: 120_000,
  isolation: 'inline',
  async run(params, ctx) {
    const details = parseOrchestratorDetails(params.orchestrator_details, { fallbackRunId: ctx.taskId, outputRoot: ctx.outputRoot });
    if (ctx.flow.step === FINALIZE_STEP) {
      const done = await finalResult(details, ctx);
      if (done) return done;
      ctx.log.warn({ taskId: ctx.taskId }, 'finalize found no stitch output; planning the run again');
    }
    const plan = await planFromRows(details, ctx);
    if (plan.stitch.complete) return resultOf(details, plan.stitch.outputLocation);
    await ctx.progress({ stage: 'planned', percent: 0, detail: `${plan.segments.length} segments, ${plan.segmentMode}` });
    await ctx.flow.addChildren(plan.tree);
    await ctx.flow.waitForChildren(FINALIZE_STEP);
    // Nothing was pending: every child had already finished.
    const done = await finalResult(details, ctx);
    if (!done) throw new Error(`travel run ${details.run_id}: the stitch ${plan.stitch.taskId} finished without an output_location`);
    return done;
  },
};

export async function planFromRows(details: OrchestratorDetails, ctx: Pick<HandlerContext, 'store' | 'taskId'>): Promise<TravelPlan> {
  const rows: TaskRow[] = await ctx.store.getMany(travelTaskIds(details));
  return planTravel({ orchestratorTaskId: ctx.taskId, details, existing: rows });
}

async function finalResult(details: OrchestratorDetails, ctx: HandlerContext): Promise<JobResult | null> {
  const stitchId = travelTaskIds(details).at(-1)!;
  const fromChild = (await ctx.children())[stitchId]?.output_location;
  if (typeof fromChild === 'string' && fromChild !== '') return resultOf(details, fromChild);
  // The value is gone if the job was re-created (Redis lost, or a fresh orchestrator job on retry).
  const row = await ctx.store.get(stitchId);
  if (row?.status === 'Complete' && row.outputLocation) return resultOf(details, row.outputLocation);
  return null;
}

function resultOf(details: OrchestratorDetails, location: string | null): JobResult {
  if (!location) throw new ValidationError('output_location', `the stitch of run ${details.run_id} is Complete without an output; retry the stitch`);
  return { output_location: location, run_id: details.run_id, segments: details.num_new_segments_to_generate };
}
