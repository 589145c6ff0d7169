import { access, mkdir } from 'node:fs/promises';
import { z } from 'zod';
import type { JobResult } from '../../core/types.ts';
import { writeVideo } from '../media/frames-io.ts';
import { parsePoseDetails, planDifferentPose, type PoseDetails, type PosePlan } from '../../flows/pose-plan.ts';
import type { HandlerContext, TaskHandler } from './types.ts';

/**
 * `different_pose_orchestrator`: the seed's client-side pipeline (03 §6.3) as a flow run by workers
 * (decision 4). step undefined → neutral guide for the T2I step, plan, add children, wait;
 * step 'finalize' → the finalize step's value is the run's result. A re-run plans again; finished
 * steps are skipped by their Complete rows (FlowControl prunes them).
 */
const paramsSchema = z.looseObject({ orchestrator_details: z.unknown().optional() });
type Params = z.infer<typeof paramsSchema>;

const FINALIZE_STEP = 'finalize';

export const differentPoseOrchestratorHandler: TaskHandler<Params> = {
  taskType: 'different_pose_orchestrator',
  schema: paramsSchema,
  timeoutMs: 120_000,
  isolation: 'inline',
  async run(params, ctx) {
    const details = parsePoseDetails(params.orchestrator_details, { fallbackRunId: ctx.taskId, outputRoot: ctx.outputRoot });
    const plan = planDifferentPose(ctx.taskId, details);
    if (ctx.flow.step === FINALIZE_STEP) {
      const done = await finalResult(plan, details, ctx);
      if (done) return done;
      ctx.log.warn({ taskId: ctx.taskId }, 'finalize found no result; planning the run again');
    }
    const early = await finalResult(plan, details, ctx);
    if (early) return early;
    await mkdir(plan.paths.workDir, { recursive: true });
    await writeNeutralGuide(plan, details, ctx.signal);
    await ctx.progress({ stage: 'planned', percent: 0, detail: `${plan.taskIds.length} steps` });
    await ctx.flow.addChildren(plan.tree);
    await ctx.flow.waitForChildren(FINALIZE_STEP);
    const done = await finalResult(plan, details, ctx);
    if (!done) throw new Error(`different_pose run ${details.run_id}: ${plan.finalizeId} finished without an output_location`);
    return done;
  },
};

/**
 * The seed's T2I step was guided by a flat gray (128) video: VACE reads it as "no control", so the
 * prompt alone shapes the image. One frame at the target size, lossless, written once per run.
 */
async function writeNeutralGuide(plan: PosePlan, d: PoseDetails, signal: AbortSignal): Promise<void> {
  const file = plan.paths.targetGuideMp4;
  if (await access(file).then(() => true, () => false)) return;
  const [w, h] = d.parsed_resolution_wh;
  const writer = writeVideo(file, { width: w, height: h, fps: d.fps_helpers, lossless: true, signal });
  await writer.write(Buffer.alloc(w * h * 3, 128));
  await writer.close();
}

async function finalResult(plan: PosePlan, d: PoseDetails, ctx: HandlerContext): Promise<JobResult | null> {
  const value = (await ctx.children())[plan.finalizeId];
  if (value && typeof value.output_location === 'string' && value.output_location !== '') {
    return { output_location: value.output_location, posed_image: value.posed_image ?? plan.paths.posedImage, run_id: d.run_id };
  }
  const row = await ctx.store.get(plan.finalizeId);
  if (row?.status === 'Complete' && row.outputLocation) return { output_location: row.outputLocation, posed_image: plan.paths.posedImage, run_id: d.run_id };
  return null;
}
