import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CancelledError, EngineError, SmqError } from '../../src/core/errors.ts';
import { probeVideo, readFrames } from '../../src/consumers/media/frames-io.ts';
import { createComfyuiEngine } from '../../src/consumers/engines/comfyui-engine.ts';
import { applyInputs, findVideoOutput, parseWorkflow } from '../../src/consumers/engines/comfyui/workflow.ts';
import type { GenerateVideoRequest } from '../../src/consumers/engines/engine.ts';
import { startComfyStandin, type ComfyStandin } from '../support/comfyui-standin.ts';

function workflow() {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'wan.safetensors' }, _meta: { title: 'Load Checkpoint' } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'placeholder', clip: ['4', 1] }, _meta: { title: 'prompt' } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: '', clip: ['4', 1] }, _meta: { title: 'negative_prompt' } },
    '10': { class_type: 'LoadImage', inputs: { image: 'default.png' }, _meta: { title: 'start_image_path' } },
    '12': { class_type: 'EmptyHunyuanLatentVideo', inputs: { width: 64, height: 48, length: 33 }, _meta: { title: 'latent' } },
    '3': { class_type: 'KSampler', inputs: { seed: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['12', 0] }, _meta: { title: 'seed' } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] }, _meta: { title: 'decode' } },
    '9': { class_type: 'CreateVideo', inputs: { images: ['8', 0], fps: 16 }, _meta: { title: 'video' } },
    '20': { class_type: 'SaveVideo', inputs: { video: ['9', 0], filename_prefix: 'video/smq' }, _meta: { title: 'save' } },
  };
}

async function setup(runMs = 300): Promise<{ dir: string; comfy: ComfyStandin; wfPath: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-comfy-'));
  await mkdir(path.join(dir, 'comfy-in'));
  const comfy = await startComfyStandin({ outputDir: path.join(dir, 'comfy-out'), inputDir: path.join(dir, 'comfy-in'), runMs });
  await writeFile(path.join(dir, 'comfy-in', 'fox.png'), 'png');
  await writeFile(path.join(dir, 'comfy-in', 'default.png'), 'png');
  const wfPath = path.join(dir, 'wf.json');
  await writeFile(wfPath, JSON.stringify(workflow()));
  return { dir, comfy, wfPath };
}

function request(dir: string, extra: Record<string, unknown>, over: Partial<GenerateVideoRequest> = {}): GenerateVideoRequest {
  return {
    taskId: 'c1', prompt: '', negativePrompt: '', width: 64, height: 48, frames: 30, fps: 25, seed: 1, model: 'x',
    outputPath: path.join(dir, 'out.mp4'), signal: new AbortController().signal, extra, ...over,
  };
}

test('workflow helpers: inputs by title, video output detection', () => {
  const wf = parseWorkflow(workflow(), 'wf');
  const { workflow: set, unmatched } = applyInputs(wf, { prompt: 'a fox', seed: 42, start_image_path: 'fox.png', latent: { length: 17 }, end_image_path: 'x.png' });
  assert.equal(set['6'].inputs.text, 'a fox');
  assert.equal(set['3'].inputs.seed, 42);
  assert.equal(set['10'].inputs.image, 'fox.png');
  assert.equal(set['12'].inputs.length, 17);
  assert.deepEqual(unmatched, ['end_image_path']);
  assert.equal(wf['6'].inputs.text, 'placeholder', 'the loaded workflow is not mutated');
  assert.throws(() => applyInputs(wf, { decode: 'x' }), /node 8 \(VAEDecode\) has no single input/);
  assert.throws(() => parseWorkflow({ nodes: [], links: [] }, 'ui.json'), /UI workflow.*API Format/);
  assert.deepEqual(findVideoOutput({ '9': { images: [{ filename: 'a.png', subfolder: '', type: 'output' }] }, '20': { images: [{ filename: 'v.mp4', subfolder: 'video', type: 'output' }], animated: [true] } }), { filename: 'v.mp4', subfolder: 'video', type: 'output', nodeId: '20' });
  assert.deepEqual(findVideoOutput({ '5': { gifs: [{ filename: 'g.webm', subfolder: '', type: 'temp' }] }, '6': { videos: [{ filename: 'o.mp4', subfolder: '', type: 'output' }] } })?.filename, 'o.mp4');
  assert.equal(findVideoOutput({ '9': { images: [{ filename: 'a.png', subfolder: '', type: 'output' }] } }), null);
});

test('generate through the stand-in: inputs set, history polled, video fetched and trimmed', { timeout: 120_000 }, async () => {
  const { dir, comfy, wfPath } = await setup(400);
  const engine = createComfyuiEngine({ url: comfy.url, pollMs: 50 });
  try {
    const res = await engine.generateVideo(request(dir, { comfyui_workflow_path: wfPath, comfyui_inputs: { prompt: 'a fox', seed: 42, start_image_path: 'fox.png', end_image_path: 'none.png' } }));
    const sent = comfy.prompts.at(-1)!;
    assert.equal(sent['6'].inputs.text, 'a fox');
    assert.equal(sent['3'].inputs.seed, 42);
    assert.equal(sent['10'].inputs.image, 'fox.png');
    assert.ok(comfy.historyPolls >= 2, `history polled ${comfy.historyPolls} times`);
    assert.equal(res.frames, 30);
    const info = await probeVideo(res.videoPath);
    assert.deepEqual([info.frames, info.fps, info.width, info.height], [30, 25, 64, 48]);
    const frames = await readFrames(res.videoPath);
    frames.forEach((f, i) => assert.ok(Math.abs(f[0] - ((8 * i) % 256)) <= 2, `frame ${i}`));
    assert.ok(res.notes.some((n) => /end_image_path/.test(n)));
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.comfy-')), []);

    // With ComfyUI's output folder shared, the file is copied from there (no /view needed).
    const viewsBefore = comfy.views;
    assert.ok(viewsBefore >= 1, 'the first run fetched its video through /view');
    const shared = createComfyuiEngine({ url: comfy.url, pollMs: 50, outputPath: comfy.outputDir });
    const r2 = await shared.generateVideo(request(dir, { comfyui_workflow: workflow(), comfyui_inputs: { latent: { length: 9 } } }, { frames: 12, outputPath: path.join(dir, 'o2.mp4') }));
    assert.equal((await probeVideo(r2.videoPath)).frames, 9);
    assert.ok(r2.notes.some((n) => /produced 9 frames, fewer than the 12/.test(n)));
    assert.equal(comfy.views, viewsBefore, 'the shared output folder was used instead of /view');
  } finally {
    await comfy.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('validation errors, execution errors, unreachable server', { timeout: 60_000 }, async () => {
  const { dir, comfy, wfPath } = await setup(100);
  const engine = createComfyuiEngine({ url: comfy.url, pollMs: 50 });
  try {
    await assert.rejects(engine.generateVideo(request(dir, { comfyui_workflow_path: wfPath, comfyui_inputs: { start_image_path: 'missing.png' } })), (e: Error) => {
      assert.ok(e instanceof EngineError);
      assert.match(e.message, /rejected the workflow: Prompt outputs failed validation.*node 10 \(LoadImage\).*Invalid image file: missing\.png/);
      return true;
    });
    const noSave = workflow() as Record<string, unknown>;
    delete noSave['20'];
    await assert.rejects(engine.generateVideo(request(dir, { comfyui_workflow: noSave })), /Prompt has no outputs \[prompt_no_outputs\]/);
    await assert.rejects(engine.generateVideo(request(dir, { comfyui_workflow_path: wfPath, comfyui_inputs: { prompt: '__fail__' } })), (e: Error) => {
      assert.ok(e instanceof EngineError);
      assert.match(e.message, /failed: node 6 \(CLIPTextEncode\): RuntimeError: stand-in failure requested/);
      return true;
    });
    await assert.rejects(engine.generateVideo(request(dir, { comfyui_workflow_path: path.join(dir, 'nope.json') })), /nope\.json cannot be read/);
    await assert.rejects(engine.generateVideo(request(dir, {})), /needs comfyui_workflow_path/);
    const down = createComfyuiEngine({ url: 'http://127.0.0.1:1', pollMs: 50 });
    await assert.rejects(down.generateVideo(request(dir, { comfyui_workflow_path: wfPath })), (e: Error) => e instanceof EngineError && /not reachable/.test(e.message) && e.retryable);
  } finally {
    await comfy.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('timeout and abort interrupt the prompt', { timeout: 60_000 }, async () => {
  const { dir, comfy, wfPath } = await setup(100);
  try {
    const timed = createComfyuiEngine({ url: comfy.url, pollMs: 50, timeoutMs: 400 });
    await assert.rejects(timed.generateVideo(request(dir, { comfyui_workflow_path: wfPath, comfyui_inputs: { prompt: '__slow__' } })), (e: Error) => e instanceof SmqError && e.code === 'TIMEOUT');
    assert.equal(comfy.interrupts.length, 1);
    const engine = createComfyuiEngine({ url: comfy.url, pollMs: 50 });
    const ac = new AbortController();
    const run = engine.generateVideo(request(dir, { comfyui_workflow_path: wfPath, comfyui_inputs: { prompt: '__slow__' } }, { signal: ac.signal }));
    const polls = comfy.historyPolls;
    const end = Date.now() + 20_000;
    while (comfy.historyPolls <= polls && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await assert.rejects(run, CancelledError);
    assert.equal(comfy.interrupts.length, 2);
  } finally {
    await comfy.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('stand-in /view follows ComfyUI path rules', async () => {
  const { dir, comfy } = await setup();
  try {
    const get = (q: string) => fetch(`${comfy.url}/view?${q}`).then((r) => r.status);
    assert.equal(await get('filename=../x.mp4'), 400);
    assert.equal(await get('filename=%2Fetc%2Fpasswd'), 400);
    assert.equal(await get('filename=x.mp4&subfolder=../..'), 403);
    assert.equal(await get('filename=missing.mp4'), 404);
    assert.equal(await get('filename=fox.png&type=input'), 200);
  } finally {
    await comfy.close();
    await rm(dir, { recursive: true, force: true });
  }
});
