import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnrecoverableError, type Job } from 'bullmq';
import type { JobData } from '../../src/core/types.ts';
import { travelOrchestratorHandler } from '../../src/consumers/handlers/travel-orchestrator.ts';
import { describeFailure, rootCauseOfFailure } from '../../src/flows/failure-cause.ts';
import { FlowHarness, waitFor } from './harness.ts';
import { seedDetails } from './fixtures.ts';

const KINDS = ['sqlite', 'postgres'] as const;
const RUN = '20250603_221500_123456';
const ORCH = 'sm_travel_orchestrator_20250603_4f1c9a0b7e2d';
const SEG0 = `travel_seg_${RUN}_00`;
const SEG1 = `travel_seg_${RUN}_01`;
const STITCH = `travel_stitch_${RUN}`;

/** Inserts the orchestrator row the seed's way (no run_id, no smq keys) and dispatches it as ingest would. */
async function enqueueSeedRow(h: FlowHarness, overrides: Record<string, unknown> = {}): Promise<void> {
  const params = { orchestrator_details: seedDetails(h.dir, RUN, overrides) };
  assert.equal(await h.store.insert({ taskId: ORCH, taskType: 'travel_orchestrator', params }), true);
  const row = (await h.store.get(ORCH))!;
  await h.dispatcher.dispatchRow(row);
}

async function state(h: FlowHarness, queue: string, id: string): Promise<string> {
  return (await h.dispatcher.queue(queue).getJob(id))?.getState() ?? 'missing';
}

async function parentOf(h: FlowHarness, queue: string, id: string): Promise<string | undefined> {
  return (await h.dispatcher.queue(queue).getJob(id))?.parent?.id;
}

async function rowIds(h: FlowHarness): Promise<string[]> {
  const ids = await h.store.getMany([ORCH, SEG0, SEG1, STITCH, `travel_seg_${RUN}_02`]);
  return ids.map((r) => r.taskId).sort();
}

for (const kind of KINDS) {
  test(`[${kind}] a seed-style orchestrator row is planned into the chained tree; planning twice changes nothing`, { timeout: 60_000 }, async () => {
    const h = await FlowHarness.create(kind);
    try {
      await enqueueSeedRow(h);
      h.startWorker('cpu', [travelOrchestratorHandler]);
      await waitFor('orchestrator waiting for children', async () => (await state(h, 'cpu', ORCH)) === 'waiting-children');

      assert.deepEqual(await rowIds(h), [ORCH, SEG0, SEG1, STITCH].sort());
      const seg0 = (await h.store.get(SEG0))!;
      assert.equal(seg0.parentTaskId, SEG1);
      assert.equal(seg0.runId, RUN);
      assert.equal(seg0.queueName, 'gpu-wgp'); // the seed row asked for wgp
      assert.equal((await h.store.get(STITCH))!.parentTaskId, ORCH);
      assert.equal(seg0.params!.orchestrator_task_id_ref, ORCH);

      // Tree in Redis: seg0 → seg1 → stitch → orchestrator.
      assert.equal(await parentOf(h, 'gpu-wgp', SEG0), SEG1);
      assert.equal(await parentOf(h, 'gpu-wgp', SEG1), STITCH);
      assert.equal(await parentOf(h, 'cpu', STITCH), ORCH);
      assert.equal(await state(h, 'gpu-wgp', SEG0), 'waiting');
      assert.equal(await state(h, 'gpu-wgp', SEG1), 'waiting-children');
      const deps = await (await h.dispatcher.queue('cpu').getJob(ORCH))!.getDependencies();
      assert.deepEqual(deps.unprocessed, [`${h.prefix}:cpu:${STITCH}`]);
      const jobsBefore = { cpu: await h.jobIds('cpu'), gpu: await h.jobIds('gpu-wgp') };
      assert.deepEqual(jobsBefore, { cpu: [ORCH, STITCH].sort(), gpu: [SEG0, SEG1] });

      // Plan again: the orchestrator job is re-created (as after a lost job) and re-plans.
      await h.stopWorkers();
      await (await h.dispatcher.queue('cpu').getJob(ORCH))!.remove({ removeChildren: false });
      await h.dispatcher.dispatchRow((await h.store.get(ORCH))!);
      h.startWorker('cpu', [travelOrchestratorHandler]);
      await waitFor('re-planned orchestrator waiting', async () => (await state(h, 'cpu', ORCH)) === 'waiting-children');
      assert.deepEqual(await rowIds(h), [ORCH, SEG0, SEG1, STITCH].sort());
      assert.deepEqual({ cpu: await h.jobIds('cpu'), gpu: await h.jobIds('gpu-wgp') }, jobsBefore);
      assert.equal(await parentOf(h, 'cpu', STITCH), ORCH);
      const deps2 = await (await h.dispatcher.queue('cpu').getJob(ORCH))!.getDependencies();
      assert.deepEqual(deps2.unprocessed, [`${h.prefix}:cpu:${STITCH}`]);
    } finally {
      await h.close();
    }
  });

  test(`[${kind}] independent mode: segments are siblings under the stitch`, { timeout: 60_000 }, async () => {
    const h = await FlowHarness.create(kind);
    try {
      await enqueueSeedRow(h, { segment_mode: 'independent', execution_engine: 'onnx' });
      h.startWorker('cpu', [travelOrchestratorHandler]);
      await waitFor('orchestrator waiting for children', async () => (await state(h, 'cpu', ORCH)) === 'waiting-children');
      assert.deepEqual(await rowIds(h), [ORCH, SEG0, SEG1, STITCH].sort());
      assert.equal(await parentOf(h, 'gpu-onnx', SEG0), STITCH);
      assert.equal(await parentOf(h, 'gpu-onnx', SEG1), STITCH);
      assert.equal(await state(h, 'gpu-onnx', SEG1), 'waiting');
      const deps = await (await h.dispatcher.queue('cpu').getJob(STITCH))!.getDependencies();
      assert.deepEqual([...(deps.unprocessed ?? [])].sort(), [`${h.prefix}:gpu-onnx:${SEG0}`, `${h.prefix}:gpu-onnx:${SEG1}`]);
      assert.equal((await h.store.get(SEG1))!.parentTaskId, STITCH);
      assert.deepEqual(await h.jobIds('gpu-onnx'), [SEG0, SEG1]);
    } finally {
      await h.close();
    }
  });

  test(`[${kind}] after Redis lost everything, re-planning skips Complete segments and the run finishes`, { timeout: 90_000 }, async () => {
    const h = await FlowHarness.create(kind);
    try {
      await enqueueSeedRow(h);
      const ran: string[] = [];
      // seg0 completes; seg1 is never taken until Redis is "lost".
      const seg = async (job: Job) => {
        ran.push(job.id!);
        const data = job.data as JobData;
        return { output_location: `${h.dir}/seg${String(data.params.segment_index)}.mp4` };
      };
      h.startWorker('cpu', [travelOrchestratorHandler]);
      await waitFor('plan', async () => (await state(h, 'cpu', ORCH)) === 'waiting-children');
      const gpu = h.startWorker('gpu-wgp', [], async (job) => {
        if (job.id === SEG1) throw new Error('not yet');
        return seg(job);
      });
      await waitFor('seg0 Complete', async () => (await h.store.get(SEG0))?.status === 'Complete');
      await gpu.close(true);
      await h.stopWorkers();

      await h.flushPrefix();
      // The reconciler re-dispatches the run's open root row.
      await h.dispatcher.dispatchRow((await h.store.get(ORCH))!);
      h.startWorker('cpu', [travelOrchestratorHandler], async (job) => ({ output_location: `${h.dir}/travel_final_${RUN}.mp4`, stitched: (job.data as JobData).params.segment_outputs }));
      await waitFor('re-plan', async () => (await state(h, 'cpu', ORCH)) === 'waiting-children');
      assert.deepEqual(await h.jobIds('gpu-wgp'), [SEG1], 'seg0 is Complete and must not be added again');
      const seg1Job = (await h.dispatcher.queue('gpu-wgp').getJob(SEG1))!;
      assert.equal((seg1Job.data as JobData).params.path_to_previous_segment_output, `${h.dir}/seg0.mp4`);
      assert.equal(seg1Job.parent?.id, STITCH);
      assert.deepEqual(await rowIds(h), [ORCH, SEG0, SEG1, STITCH].sort());

      h.startWorker('gpu-wgp', [], seg);
      const orch = await waitFor('run Complete', async () => {
        const r = await h.store.get(ORCH);
        return r?.status === 'Complete' ? r : null;
      });
      assert.equal(orch.outputLocation, `${h.dir}/travel_final_${RUN}.mp4`);
      assert.deepEqual(ran, [SEG0, SEG1]);
      const job = (await h.dispatcher.queue('cpu').getJob(ORCH))!;
      assert.deepEqual(job.returnvalue, { output_location: `${h.dir}/travel_final_${RUN}.mp4`, run_id: RUN, segments: 2 });
    } finally {
      await h.close();
    }
  });

  test(`[${kind}] a failed segment fails the run, the reason is findable, and a retry finishes it`, { timeout: 90_000 }, async () => {
    const h = await FlowHarness.create(kind);
    try {
      await enqueueSeedRow(h);
      let broken = true;
      const seg = async (job: Job) => {
        if (job.id === SEG1 && broken) throw new UnrecoverableError('CUDA out of memory (on purpose)');
        return { output_location: `${h.dir}/${job.id}.mp4` };
      };
      h.startWorker('cpu', [travelOrchestratorHandler], async () => ({ output_location: `${h.dir}/final.mp4` }));
      h.startWorker('gpu-wgp', [], seg);
      const failed = await waitFor('orchestrator failed', async () => {
        const j = await h.dispatcher.queue('cpu').getJob(ORCH);
        return j && (await j.getState()) === 'failed' ? j : null;
      });
      assert.match(failed.failedReason, new RegExp(`child .*${STITCH} failed`));
      const cause = await rootCauseOfFailure(h.dispatcher, { taskId: ORCH, queueName: 'cpu', failedReason: failed.failedReason });
      assert.equal(cause.taskId, SEG1);
      assert.equal(cause.reason, 'CUDA out of memory (on purpose)');
      assert.deepEqual(cause.via, [ORCH, STITCH]);
      assert.equal(describeFailure(cause), `${SEG1} failed: CUDA out of memory (on purpose) (via ${STITCH})`);
      await waitFor('rows Failed', async () => (await h.store.get(ORCH))?.status === 'Failed' && (await h.store.get(SEG1))?.status === 'Failed');
      assert.equal((await h.store.get(SEG0))!.status, 'Complete');

      // Retry: a fresh orchestrator job re-plans; seg0 is not redone, seg1 and the stitch run again.
      broken = false;
      await failed.remove({ removeChildren: false });
      await h.store.requeue(ORCH, 'cpu');
      await h.dispatcher.dispatchRow((await h.store.get(ORCH))!);
      await waitFor('run Complete after retry', async () => (await h.store.get(ORCH))?.status === 'Complete', 30_000);
      assert.equal((await h.store.get(ORCH))!.outputLocation, `${h.dir}/final.mp4`);
      assert.equal((await h.store.get(SEG1))!.status, 'Complete');
      assert.equal((await h.store.get(SEG0))!.attempts, 0, 'seg0 was not requeued');
    } finally {
      await h.close();
    }
  });
}
