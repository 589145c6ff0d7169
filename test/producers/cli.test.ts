import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { resolveConfig } from '../../src/core/config.ts';
import { openStore } from '../../src/db/open-store.ts';
import type { TaskStore } from '../../src/db/task-store.ts';
import { cli, DEAD_REDIS_URL, dropPrefix, makeImage, makeVideo, REDIS_URL, removeDir, tempDir, testPrefix, until } from './helpers.ts';

const execFileP = promisify(execFile);

let dir: string;
let prefix: string;
let env: NodeJS.ProcessEnv;
const stores: TaskStore[] = [];
let cpu: Queue;

async function storeAt(file: string): Promise<TaskStore> {
  const s = await openStore(resolveConfig({ dbType: 'sqlite', dbFile: file }, {}));
  stores.push(s);
  return s;
}

function orchestratorId(out: string): string {
  const m = /Successfully enqueued '(\w+)' task \(ID: ([^)]+)\)\./.exec(out);
  assert.ok(m, `no success line in: ${out}`);
  return m[2]!;
}

before(async () => {
  dir = await tempDir();
  prefix = testPrefix();
  env = { DB_TYPE: 'sqlite', REDIS_URL, SMQ_QUEUE_PREFIX: prefix };
  cpu = new Queue('cpu', { connection: { url: REDIS_URL }, prefix });
  await Promise.all([
    makeImage(path.join(dir, 'anchor1.png'), 'red'),
    makeImage(path.join(dir, 'anchor2.png'), 'green'),
    makeImage(path.join(dir, 'anchor3.png'), 'blue'),
    makeImage(path.join(dir, 'samples/image_1.png'), 'red'),
    makeImage(path.join(dir, 'samples/image_2.png'), 'green'),
    makeImage(path.join(dir, 'samples/image_3.png'), 'blue'),
    makeImage(path.join(dir, 'input_character.png'), 'white', '512x512'),
    makeVideo(path.join(dir, 'clip.mp4')),
    writeFile(path.join(dir, 'not_an_image.png'), 'just text\n'),
  ]);
});

after(async () => {
  for (const s of stores) await s.close();
  await cpu.close();
  await dropPrefix(prefix);
  await removeDir(dir);
});

describe('seed README examples are accepted as written', { timeout: 120_000 }, () => {
  // Copied flag for flag from shared/seed/headless-wan2gp-README.md (`python steerable_motion.py` → steerable-motion).
  const examples: Array<{ name: string; args: string[]; taskType: string }> = [
    {
      name: 'Example 1: travel_between_images',
      taskType: 'travel_orchestrator',
      args: ['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', 'anchor3.png', '--base_prompts', 'A majestic red landscape', 'A vibrant green forest', '--resolution', '640x480', '--segment_frames', '60', '--frame_overlap', '15', '--model_name', 'vace_14B', '--seed', '123', '--output_dir', './my_video_outputs', '--debug'],
    },
    {
      name: 'Example 2: different_pose',
      taskType: 'different_pose_orchestrator',
      args: ['different_pose', '--input_image', 'input_character.png', '--prompt', 'Character waving hello, cinematic lighting', '--resolution', '512x512', '--output_video_frames', '40', '--model_name', 'vace_14B', '--seed', '456', '--output_dir', './my_video_outputs', '--debug'],
    },
    {
      name: 'A: travel_between_images with sample images',
      taskType: 'travel_orchestrator',
      args: ['travel_between_images', '--input_images', 'samples/image_1.png', 'samples/image_2.png', 'samples/image_3.png', '--base_prompts', 'Transitioning from red', 'Moving to green', '--resolution', '320x240', '--segment_frames', '30', '--frame_overlap', '10', '--model_name', 'vace_14B', '--seed', '789', '--output_dir', './my_video_outputs', '--debug'],
    },
    {
      name: 'B: different_pose with a sample image',
      taskType: 'different_pose_orchestrator',
      args: ['different_pose', '--input_image', 'samples/image_1.png', '--prompt', 'A red square, now animated and waving', '--resolution', '320x240', '--output_video_frames', '30', '--model_name', 'vace_14B', '--seed', '101', '--output_dir', './my_video_outputs', '--debug'],
    },
  ];
  for (const ex of examples) {
    it(ex.name, async () => {
      const r = await cli(ex.args, { cwd: dir, env });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.err, '');
      const id = orchestratorId(r.out);
      assert.ok(r.out.includes(`Successfully enqueued '${ex.taskType}' task (ID: ${id}).`));
      const store = await storeAt(path.join(dir, 'tasks.db'));
      const row = await store.get(id);
      assert.ok(row, 'row written to tasks.db in the working directory (the seed default)');
      assert.equal(row.taskType, ex.taskType);
      assert.equal(row.status, 'Queued');
      assert.equal(row.queueName, 'cpu');
      assert.equal(row.parentTaskId, null);
      const job = await cpu.getJob(id);
      assert.ok(job, 'job in the cpu queue under the test prefix');
      assert.equal(job.name, ex.taskType);
      assert.equal(await job.getState(), 'waiting');
      assert.deepEqual(job.data.params, row.params);
      const details = (row.params as { orchestrator_details: Record<string, unknown> }).orchestrator_details;
      assert.equal(details.run_id, row.runId);
      assert.equal(details.main_output_dir_for_run, path.join(dir, 'my_video_outputs'));
    });
  }

  it('the travel payload carries every seed key and its files exist', async () => {
    const r = await cli(examples[2]!.args, { cwd: dir, env });
    assert.equal(r.code, 0, r.err);
    const store = await storeAt(path.join(dir, 'tasks.db'));
    const row = await store.get(orchestratorId(r.out));
    const d = (row!.params as { orchestrator_details: Record<string, unknown> }).orchestrator_details;
    const seedKeys = [
      'orchestrator_task_id', 'run_id', 'original_task_args', 'original_common_args', 'parsed_resolution_wh', 'main_output_dir_for_run',
      'orchestrator_log_folder', 'input_image_paths_resolved', 'continue_from_video_resolved_path', 'num_new_segments_to_generate',
      'base_prompts_expanded', 'negative_prompts_expanded', 'segment_frames_expanded', 'frame_overlap_expanded', 'vace_image_refs_prepared',
      'fade_in_params_json_str', 'fade_out_params_json_str', 'model_name', 'seed_base', 'execution_engine', 'use_causvid_lora',
      'cfg_star_switch', 'cfg_zero_step', 'params_json_str_override', 'fps_helpers', 'last_frame_duplication',
      'subsequent_starting_strength_adjustment', 'desaturate_subsequent_starting_frames', 'adjust_brightness_subsequent_starting_frames',
      'after_first_post_generation_saturation', 'crossfade_sharp_amt', 'upscale_factor', 'upscale_model_name', 'debug_mode_enabled',
      'skip_cleanup_enabled',
    ];
    assert.deepEqual(Object.keys(d).slice(0, seedKeys.length), seedKeys);
    assert.equal(d.segment_mode, 'chained');
    assert.equal(d.execution_engine, 'onnx');
    assert.equal(d.orchestrator_task_id, row!.taskId);
    assert.deepEqual(d.input_image_paths_resolved, [1, 2, 3].map((i) => path.join(dir, `samples/image_${i}.png`)));
    assert.deepEqual(d.segment_frames_expanded, [30, 30]);
    assert.deepEqual(d.frame_overlap_expanded, [10, 10]);
    const log = d.orchestrator_log_folder as string;
    assert.equal(log, path.join(dir, 'my_video_outputs', `travel_orchestrator_log_${d.run_id}`));
    const refs = d.vace_image_refs_prepared as Array<{ type: string; processed_path: string; strength: number }>;
    assert.deepEqual(refs.map((x) => path.basename(x.processed_path)), ['s0_final_anchor_strength_1.00.png', 's1_final_anchor_strength_1.00.png']);
    for (const ref of refs) assert.ok(existsSync(ref.processed_path), ref.processed_path);
    assert.match(await readFile(path.join(log, 'executed_command.txt'), 'utf8'), /travel_between_images --input_images samples\/image_1\.png/);
  });
});

describe('validation: exit 2 and the message names the bad flag', { timeout: 120_000 }, () => {
  const travel = (...extra: string[]) => ['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', 'anchor3.png', '--base_prompts', 'p', '--resolution', '320x240', '--db_path', 'invalid.db', ...extra];
  const cases: Array<{ rule: string; args: string[]; flag: string; text?: RegExp }> = [
    { rule: 'fewer than two images without --continue_from_video', args: ['travel_between_images', '--input_images', 'anchor1.png', '--base_prompts', 'p', '--resolution', '320x240', '--db_path', 'invalid.db'], flag: '--input_images', text: /At least two input images/ },
    { rule: '--base_prompts neither 1 nor N', args: travel('--base_prompts', 'a', 'b', 'c'), flag: '--base_prompts', text: /got 3 values for 2 segments/ },
    { rule: '--negative_prompts neither 1 nor N', args: travel('--negative_prompts', 'a', 'b', 'c'), flag: '--negative_prompts', text: /got 3 values for 2 segments/ },
    { rule: '--segment_frames neither 1 nor N', args: travel('--segment_frames', '30', '30', '30'), flag: '--segment_frames', text: /got 3 values for 2 segments/ },
    { rule: '--frame_overlap neither 1 nor N', args: travel('--frame_overlap', '1', '2', '3'), flag: '--frame_overlap', text: /got 3 values for 2 segments/ },
    { rule: 'segment_frames > 0', args: travel('--segment_frames', '0', '--frame_overlap', '0'), flag: '--segment_frames', text: /must be > 0/ },
    { rule: 'frame_overlap >= 0', args: travel('--frame_overlap', '-1'), flag: '--frame_overlap', text: />= 0/ },
    { rule: 'segment_frames > frame_overlap names both anchors', args: travel('--segment_frames', '30', '10', '--frame_overlap', '10'), flag: '--segment_frames', text: /from anchor2\.png to anchor3\.png.*--frame_overlap 10/ },
    { rule: 'segment_frames > frame_overlap names the continued video', args: ['travel_between_images', '--input_images', 'anchor1.png', '--continue_from_video', 'clip.mp4', '--base_prompts', 'p', '--resolution', '320x240', '--segment_frames', '5', '--frame_overlap', '8', '--db_path', 'invalid.db'], flag: '--segment_frames', text: /from the continued video to anchor1\.png/ },
    { rule: 'resolution must be WxH', args: travel('--resolution', '320X240'), flag: '--resolution', text: /WIDTHxHEIGHT/ },
    { rule: '--resolution is required', args: ['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', '--base_prompts', 'p', '--db_path', 'invalid.db'], flag: '--resolution' },
    { rule: 'an input image must exist', args: travel('--input_images', 'anchor1.png', 'missing.png'), flag: '--input_images', text: /missing\.png does not exist/ },
    { rule: 'an input image must be an image', args: travel('--input_images', 'anchor1.png', 'not_an_image.png'), flag: '--input_images', text: /not an image/ },
    { rule: 'a video is not an anchor image', args: travel('--input_images', 'anchor1.png', 'clip.mp4'), flag: '--input_images', text: /is a video/ },
    { rule: '--continue_from_video must exist', args: travel('--continue_from_video', 'nope.mp4'), flag: '--continue_from_video', text: /does not exist/ },
    { rule: '--continue_from_video must be a video', args: travel('--continue_from_video', 'anchor1.png'), flag: '--continue_from_video', text: /is an image/ },
    { rule: '--execution_engine is onnx|wgp|comfyui', args: travel('--execution_engine', 'tensorrt'), flag: '--execution_engine', text: /onnx, wgp, comfyui/ },
    { rule: 'integers are integers', args: travel('--seed', 'abc'), flag: '--seed', text: /not an integer/ },
    { rule: '--segment_mode is chained|independent', args: travel('--segment_mode', 'parallel'), flag: '--segment_mode' },
    { rule: 'different_pose needs 2+ frames', args: ['different_pose', '--input_image', 'anchor1.png', '--prompt', 'p', '--resolution', '64x64', '--output_video_frames', '1', '--db_path', 'invalid.db'], flag: '--output_video_frames' },
    { rule: 'different_pose input must exist', args: ['different_pose', '--input_image', 'gone.png', '--prompt', 'p', '--resolution', '64x64', '--db_path', 'invalid.db'], flag: '--input_image', text: /does not exist/ },
    { rule: 'unknown flags are refused', args: travel('--frobnicate', '1'), flag: '--frobnicate' },
  ];
  for (const c of cases) {
    it(c.rule, async () => {
      const r = await cli(c.args, { cwd: dir, env });
      assert.equal(r.code, 2, `exit code for ${c.rule}: out=${r.out} err=${r.err}`);
      assert.ok(r.err.includes(c.flag), `stderr names ${c.flag}: ${r.err}`);
      if (c.text) assert.match(r.err, c.text);
      assert.doesNotMatch(r.out, /Successfully enqueued/);
    });
  }
  it('queued nothing for any of them', async () => {
    const file = path.join(dir, 'invalid.db');
    if (!existsSync(file)) return; // pure validation failures never even open the database
    const store = await storeAt(file);
    assert.equal((await store.list({})).length, 0);
  });
});

describe('Redis down, JSON, continue_from_video, strengths, --wait', { timeout: 120_000 }, () => {
  it('writes Queued rows with queue_name NULL and exits 0 when Redis does not answer', async () => {
    const r = await cli(['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', '--base_prompts', 'p', '--resolution', '320x240', '--db_path', 'down.db'], {
      cwd: dir,
      env: { ...env, REDIS_URL: DEAD_REDIS_URL },
    });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /will be dispatched once Redis \(REDIS_URL\) is back/);
    const store = await storeAt(path.join(dir, 'down.db'));
    const row = await store.get(orchestratorId(r.out));
    assert.equal(row!.status, 'Queued');
    assert.equal(row!.queueName, null);
    assert.equal(await cpu.getJob(row!.taskId), undefined);
  });

  it('--json prints one JSON object with the run and task ids', async () => {
    const r = await cli(['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', 'anchor3.png', '--base_prompts', 'p', '--resolution', '320x240', '--segment_mode', 'independent', '--priority', '5', '--db_path', 'json.db', '--json'], { cwd: dir, env });
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 1);
    const o = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(o.ok, true);
    assert.equal(o.dispatched, true);
    const runId = o.run_id as string;
    assert.deepEqual(o.task_ids, [o.orchestrator_task_id, `travel_seg_${runId}_00`, `travel_seg_${runId}_01`, `travel_stitch_${runId}`]);
    const job = await cpu.getJob(o.orchestrator_task_id as string);
    assert.equal(job!.opts.priority, 5);
    assert.equal((job!.data.params.orchestrator_details as Record<string, unknown>).segment_mode, 'independent');
  });

  it('copies a local --continue_from_video and downloads an http one into the log folder', async () => {
    const local = await cli(['travel_between_images', '--input_images', 'anchor1.png', '--continue_from_video', 'clip.mp4', '--base_prompts', 'p', '--resolution', '320x240', '--segment_frames', '20', '--frame_overlap', '4', '--db_path', 'cont.db', '--json'], { cwd: dir, env });
    assert.equal(local.code, 0, local.err);
    const store = await storeAt(path.join(dir, 'cont.db'));
    const o = JSON.parse(local.out) as { orchestrator_task_id: string; log_folder: string };
    const d = ((await store.get(o.orchestrator_task_id))!.params as { orchestrator_details: Record<string, unknown> }).orchestrator_details;
    assert.equal(d.continue_from_video_resolved_path, path.join(o.log_folder, 'continued_video_input.mp4'));
    assert.deepEqual(await readFile(d.continue_from_video_resolved_path as string), await readFile(path.join(dir, 'clip.mp4')));
    assert.equal(d.num_new_segments_to_generate, 1);

    const body = await readFile(path.join(dir, 'clip.mp4'));
    const server = http.createServer((req, res) => {
      if (req.url === '/v/take.webm') {
        res.writeHead(200, { 'content-type': 'video/mp4' });
        res.end(body);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const remote = await cli(['travel_between_images', '--input_images', 'anchor1.png', '--continue_from_video', `http://127.0.0.1:${port}/v/take.webm`, '--base_prompts', 'p', '--resolution', '320x240', '--segment_frames', '20', '--frame_overlap', '4', '--db_path', 'cont.db', '--json'], { cwd: dir, env });
      assert.equal(remote.code, 0, remote.err);
      const ro = JSON.parse(remote.out) as { orchestrator_task_id: string; log_folder: string };
      const rd = ((await store.get(ro.orchestrator_task_id))!.params as { orchestrator_details: Record<string, unknown> }).orchestrator_details;
      assert.equal(rd.continue_from_video_resolved_path, path.join(ro.log_folder, 'continued_video_input.webm'));
      assert.equal((await readFile(rd.continue_from_video_resolved_path as string)).length, body.length);
      const missing = await cli(['travel_between_images', '--input_images', 'anchor1.png', '--continue_from_video', `http://127.0.0.1:${port}/nothing.mp4`, '--base_prompts', 'p', '--resolution', '320x240', '--db_path', 'cont.db'], { cwd: dir, env });
      assert.equal(missing.code, 1);
      assert.match(missing.err, /Could not load or download video from http:\/\/127\.0\.0\.1:\d+\/nothing\.mp4.*HTTP 404/);
    } finally {
      server.close();
    }
  });

  it('blends a weaker anchor towards gray and copies a full-strength one', async () => {
    const r = await cli(['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', '--base_prompts', 'p', '--resolution', '320x240', '--initial_image_strength', '0.5', '--db_path', 'str.db', '--json'], { cwd: dir, env });
    assert.equal(r.code, 0, r.err);
    const o = JSON.parse(r.out) as { log_folder: string };
    assert.deepEqual((await readdir(o.log_folder)).sort(), ['s0_final_anchor_strength_1.00.png', 's0_initial_anchor_strength_0.50.png']);
    const { stdout } = await execFileP('ffmpeg', ['-v', 'error', '-i', path.join(o.log_folder, 's0_initial_anchor_strength_0.50.png'), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 1 << 24 });
    const [red, green, blue] = [stdout[0]!, stdout[1]!, stdout[2]!];
    // red (255,0,0) half-way to mid-gray is about (191,64,64)
    assert.ok(Math.abs(red - 191) <= 3 && Math.abs(green - 64) <= 3 && Math.abs(blue - 64) <= 3, `got ${red},${green},${blue}`);
  });

  it('--wait follows the run until the root row is terminal and prints the final video', async (t) => {
    const dbFile = path.join(dir, 'wait.db');
    const store = await storeAt(dbFile);
    // Aborted in `finally` so a failed assertion never leaves a wait polling and the test process alive.
    const ac = new AbortController();
    t.after(() => ac.abort());
    const waiting = cli(['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', '--base_prompts', 'p', '--resolution', '320x240', '--db_path', 'wait.db', '--wait'], { cwd: dir, env, signal: ac.signal });
    const root = await until(async () => (await store.list({ taskType: 'travel_orchestrator' }))[0], 'the orchestrator row', 60_000);
    // Stand in for the workers and reconciler: a segment row appears and finishes, then the run.
    await store.insert({ taskId: `travel_seg_${root.runId}_00`, taskType: 'travel_segment', params: {}, runId: root.runId, parentTaskId: root.taskId, queueName: 'gpu-onnx' });
    await store.transition({ taskId: `travel_seg_${root.runId}_00`, status: 'In Progress', progress: { stage: 'generate', percent: 40 } });
    await store.transition({ taskId: `travel_seg_${root.runId}_00`, status: 'Complete', outputLocation: '/x/seg0.mp4' });
    await store.transition({ taskId: root.taskId, status: 'Complete', outputLocation: '/x/travel_final.mp4' });
    const r = await waiting;
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\[travel_seg_00\s*\] Complete 100%/);
    assert.match(r.out, /Final video: \/x\/travel_final\.mp4/);
  });

  it('--wait exits 1 with the reason when the run fails, and 130 with a resume hint on Ctrl-C', async (t) => {
    const dbFile = path.join(dir, 'wait2.db');
    const store = await storeAt(dbFile);
    const guard = new AbortController();
    t.after(() => guard.abort());
    const failing = cli(['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', '--base_prompts', 'p', '--resolution', '320x240', '--db_path', 'wait2.db', '--wait'], { cwd: dir, env, signal: guard.signal });
    const root = await until(async () => (await store.list({ taskType: 'travel_orchestrator' }))[0], 'the orchestrator row', 60_000);
    await store.transition({ taskId: root.taskId, status: 'Failed', errorMessage: 'segment 0 failed: out of memory' });
    const f = await failing;
    assert.equal(f.code, 1);
    assert.match(f.err, /Failed: segment 0 failed: out of memory/);

    const ac = new AbortController();
    const stopped = cli(['travel_between_images', '--input_images', 'anchor1.png', 'anchor2.png', '--base_prompts', 'p', '--resolution', '320x240', '--db_path', 'wait2.db', '--wait'], { cwd: dir, env, signal: ac.signal });
    t.after(() => ac.abort());
    await until(async () => (await store.list({ taskType: 'travel_orchestrator' })).length === 2, 'the second orchestrator row', 60_000);
    ac.abort();
    const s = await stopped;
    assert.equal(s.code, 130);
    assert.match(s.out, /the run continues\. Resume with: smq status \d{8}_\d{6}_\d{6}/);
    const second = (await store.list({ taskType: 'travel_orchestrator' })).find((x) => x.taskId !== root.taskId)!;
    assert.equal(second.status, 'Queued', 'stopping the wait does not cancel the run');
  });
});

describe('the installed binary', { timeout: 60_000 }, () => {
  it('exits 2 on bad arguments and 0 when queued', async () => {
    const bin = path.resolve('bin/steerable-motion.js');
    const bad = await execFileP(process.execPath, [bin, 'travel_between_images', '--input_images', 'anchor1.png', '--base_prompts', 'p', '--resolution', '320x240'], { cwd: dir, env: { ...process.env, ...env } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--input_images/);
    const good = await execFileP(process.execPath, [bin, 'travel_between_images', '--input-images', 'anchor1.png', 'anchor2.png', '--base-prompts', 'p', '--resolution', '320x240', '--db_path', 'bin.db'], { cwd: dir, env: { ...process.env, ...env } });
    assert.match(good.stdout, /Successfully enqueued 'travel_orchestrator' task/);
  });
});
