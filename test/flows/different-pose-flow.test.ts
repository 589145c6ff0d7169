import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from 'bullmq';
import type { JobData } from '../../src/core/types.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { differentPoseOrchestratorHandler } from '../../src/consumers/handlers/different-pose-orchestrator.ts';
import { differentPoseGuideHandler } from '../../src/consumers/handlers/different-pose-guide.ts';
import { differentPoseFinalizeHandler } from '../../src/consumers/handlers/different-pose-finalize.ts';
import { imageToFrame, probeVideo, readFrames, writeImage, writeVideo } from '../../src/consumers/media/frames-io.ts';
import { parsePoseDetails, planDifferentPose, poseTargetFrameId } from '../../src/flows/pose-plan.ts';
import { FlowHarness, waitFor } from './harness.ts';

const RUN = 'sm_pose_rife_0123456789ab';
const W = 64;
const H = 48;

function rawDetails(outDir: string, image: string, extra: Record<string, unknown> = {}) {
  return {
    run_id: RUN,
    input_image_path_resolved: image,
    prompt: 'arms raised',
    resolution: `${W}x${H}`,
    parsed_resolution_wh: [W, H],
    seed_base: 42,
    output_video_frames: 9,
    fps_helpers: 25,
    execution_engine: 'onnx',
    main_output_dir_for_run: outDir,
    ...extra,
  };
}

const shape = (n: { taskId: string; children?: unknown[] }): unknown[] => [n.taskId, ...((n.children ?? []) as { taskId: string }[]).map(shape)];

test('different_pose plan: step tree, ids, seeds and fixed paths', () => {
  const d = parsePoseDetails(rawDetails('/out', '/in/me.png'), { fallbackRunId: RUN, outputRoot: '/w' });
  const plan = planDifferentPose(RUN, d);
  assert.deepEqual(plan.tree.map(shape), [
    [`pose_finalize_${RUN}`, [`pose_finalvid_custom_${RUN}`, [`pose_custom_guide_${RUN}`, [`pose_op_user_${RUN}`], [`pose_op_t2i_${RUN}`, [poseTargetFrameId(RUN), [`pose_t2i_target_${RUN}`]]]]]],
  ]);
  const final = plan.tree[0].children![0];
  assert.equal(final.params.seed, 43);
  assert.equal(final.params.frames, 9);
  assert.deepEqual(final.params.image_refs_paths, ['/in/me.png']);
  const t2i = final.children![0].children![1].children![0].children![0];
  assert.equal(t2i.params.frames, 1);
  assert.equal(t2i.params.seed, 42);
  assert.equal(plan.paths.posedImage, `/out/final_posed_image_${RUN}.png`);
  assert.equal(plan.paths.workDir, `/out/different_pose_run_${RUN}`);
  assert.throws(
    () => parsePoseDetails(rawDetails('/out', '/in/me.png', { output_video_frames: 1 }), { fallbackRunId: RUN, outputRoot: '/w' }),
    (e: unknown) => e instanceof ValidationError && e.field === 'orchestrator_details.output_video_frames',
  );
});

test('[sqlite] different_pose runs as a flow: guide, final video, posed image, cleanup', { timeout: 90_000 }, async () => {
  const h = await FlowHarness.create('sqlite');
  try {
    const outDir = path.join(h.dir, 'out');
    await mkdir(outDir, { recursive: true });
    const image = path.join(h.dir, 'me.png');
    const red = Buffer.alloc(W * H * 3);
    for (let i = 0; i < red.length; i += 3) red[i] = 200;
    await writeImage(image, red, W, H);

    // Stand-ins for the GPU steps (other areas' handlers): a generation writes `frames` frames
    // whose value is the frame index * 20; a pose step writes a flat image (user 30, target 220).
    const gpu = async (job: Job) => {
      const p = (job.data as JobData).params;
      await mkdir(path.dirname(String(p.output_path)), { recursive: true });
      if ((job.data as JobData).taskType === 'generate_openpose') {
        await access(String(p.input_image_path));
        const level = String(p.output_path).includes('from_user') ? 30 : 220;
        await writeImage(String(p.output_path), Buffer.alloc(W * H * 3, level), W, H);
        return { output_location: String(p.output_path) };
      }
      if (p.video_guide_path) await access(String(p.video_guide_path));
      const writer = writeVideo(String(p.output_path), { width: W, height: H, fps: 25, lossless: true });
      for (let i = 0; i < Number(p.frames); i++) await writer.write(Buffer.alloc(W * H * 3, i * 20));
      await writer.close();
      return { output_location: String(p.output_path) };
    };
    const params = { orchestrator_details: rawDetails(outDir, image) };
    await h.store.insert({ taskId: RUN, taskType: 'different_pose_orchestrator', params, runId: RUN });
    await h.dispatcher.dispatchRow((await h.store.get(RUN))!);
    h.startWorker('cpu', [differentPoseOrchestratorHandler, differentPoseGuideHandler, differentPoseFinalizeHandler]);
    h.startWorker('gpu-onnx', [], gpu);

    const row = await waitFor('run Complete', async () => {
      const r = await h.store.get(RUN);
      if (r?.status === 'Failed') throw new Error(`run failed: ${r.errorMessage}`);
      return r?.status === 'Complete' ? r : null;
    }, 60_000);
    const finalVideo = path.join(outDir, `different_pose_${RUN}.mp4`);
    assert.equal(row.outputLocation, finalVideo);
    assert.equal((await probeVideo(finalVideo)).frames, 9);
    const posed = await imageToFrame(path.join(outDir, `final_posed_image_${RUN}.png`), W, H);
    assert.equal(posed[0], 160, 'posed image is frame N−1 = 8 (value 8*20)');
    await assert.rejects(access(path.join(outDir, `different_pose_run_${RUN}`)), 'work dir removed');
    const rows = await h.store.listByRun(RUN);
    assert.equal(rows.length, 8, 'orchestrator + 7 steps');
    assert.ok(rows.every((r) => r.status === 'Complete'));
    const guideRow = rows.find((r) => r.taskId === `pose_custom_guide_${RUN}`)!;
    assert.equal(guideRow.parentTaskId, `pose_finalvid_custom_${RUN}`);
    const job = (await h.dispatcher.queue('cpu').getJob(RUN))!;
    assert.equal(job.returnvalue.posed_image, path.join(outDir, `final_posed_image_${RUN}.png`));
  } finally {
    await h.close();
  }
});

test('[sqlite] the pose guide: user image first, cross-dissolve, target pose last', { timeout: 60_000 }, async () => {
  const h = await FlowHarness.create('sqlite');
  try {
    const user = path.join(h.dir, 'user.png');
    const a = path.join(h.dir, 'a.png');
    const b = path.join(h.dir, 'b.png');
    await writeImage(user, Buffer.alloc(W * H * 3, 77), W, H);
    await writeImage(a, Buffer.alloc(W * H * 3, 0), W, H);
    await writeImage(b, Buffer.alloc(W * H * 3, 200), W, H);
    const out = path.join(h.dir, 'guide.mp4');
    const ctx = {
      children: async () => ({ up: { output_location: a } }),
      store: h.store,
      outputs: { resolve: async (r: string) => r, publish: async (p: string) => p },
      signal: new AbortController().signal,
      progress: async () => {},
      log: h.log,
      taskId: 'guide_t',
    };
    const params = differentPoseGuideHandler.schema.parse({
      stage: 'pose_guide', user_image_path: user, user_pose_task_id: 'up', target_pose_task_id: 'tp', target_pose_path: b,
      frames: 5, fps_helpers: 25, parsed_resolution_wh: [W, H], output_path: out,
    });
    await differentPoseGuideHandler.run(params, ctx as never);
    const frames = await readFrames(out);
    assert.deepEqual(frames.map((f) => f[0]), [77, 50, 100, 150, 200]);
  } finally {
    await h.close();
  }
});
