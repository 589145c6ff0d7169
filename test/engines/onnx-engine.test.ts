import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EngineError, CancelledError } from '../../src/core/errors.ts';
import { ease } from '../../src/consumers/media/easing.ts';
import { probeVideo, readFrames, writeImage, writeVideo, imageToFrame } from '../../src/consumers/media/frames-io.ts';
import { createOnnxEngine } from '../../src/consumers/engines/onnx-engine.ts';
import { allModels } from '../../src/consumers/engines/onnx/model-defs.ts';
import { planFrames } from '../../src/consumers/engines/onnx/synth-plan.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const W = 48;
const H = 32;

function noiseFrame(seed: number): Buffer {
  const b = Buffer.alloc(W * H * 3);
  let s = seed * 7919 + 1;
  for (let i = 0; i < b.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    b[i] = s >> 16;
  }
  return b;
}

async function writeFrames(file: string, frames: Buffer[], fps = 25): Promise<void> {
  const w = writeVideo(file, { width: W, height: H, fps, lossless: true });
  for (const f of frames) await w.write(f);
  await w.close();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-onnx-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('committed models are exactly what the generator produces', async () => {
  for (const [file, bytes] of Object.entries(allModels())) {
    const committed = await readFile(path.join(REPO, 'models', file));
    assert.ok(Buffer.from(bytes).equals(committed), `${file} differs from a fresh generation: run npm run models`);
  }
  // The script itself writes the same bytes.
  await withDir(async (dir) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'scripts/gen-onnx-models.ts'), dir], { cwd: REPO, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const file of Object.keys(allModels())) {
      assert.ok((await readFile(path.join(dir, file))).equals(await readFile(path.join(REPO, 'models', file))), file);
    }
  });
});

test('planFrames: kept frames, eased in-betweens, held edges', () => {
  const plan = planFrames([false, true, false, false, false, true, false], (t) => ease(t, 'ease_in_out'));
  assert.deepEqual(plan[1], { keep: true, prev: 1, next: 1, weight: 0 });
  assert.deepEqual(plan[0], { keep: false, prev: 1, next: 1, weight: 0 });
  assert.deepEqual(plan[6], { keep: false, prev: 5, next: 5, weight: 0 });
  assert.equal(plan[3].prev, 1);
  assert.equal(plan[3].next, 5);
  assert.equal(plan[3].weight, ease(0.5, 'ease_in_out'));
  assert.equal(plan[2].weight, ease(0.25, 'ease_in_out'));
  assert.throws(() => planFrames([false, false], (t) => t), /no known frame/);
});

test('generateVideo keeps masked frames bit-for-bit and synthesizes the rest with eased weights', { timeout: 120_000 }, async () => {
  await withDir(async (dir) => {
    const T = 13;
    const keep = (i: number) => i <= 2 || i >= 10;
    const guide = Array.from({ length: T }, (_, i) => (keep(i) ? noiseFrame(i + 1) : Buffer.alloc(W * H * 3, 128)));
    const white = Buffer.alloc(W * H * 3, 255);
    const black = Buffer.alloc(W * H * 3, 0);
    await writeFrames(path.join(dir, 'guide.mp4'), guide);
    await writeFrames(path.join(dir, 'mask.mp4'), Array.from({ length: T }, (_, i) => (keep(i) ? black : white)));
    const engine = createOnnxEngine();
    try {
      const progress: number[] = [];
      const res = await engine.generateVideo({
        taskId: 't1', prompt: 'a cat', negativePrompt: '', width: W, height: H, frames: T, fps: 25, seed: 1, model: 'vace_14B',
        guideVideoPath: path.join(dir, 'guide.mp4'), maskVideoPath: path.join(dir, 'mask.mp4'),
        outputPath: path.join(dir, 'out.mp4'), signal: new AbortController().signal, onProgress: (p) => progress.push(p),
      });
      assert.equal(res.frames, T);
      assert.ok(res.notes.some((n) => /vace_14B is not available on the onnx engine/.test(n)), res.notes.join('; '));
      assert.equal(progress.at(-1), 100);
      assert.equal((await probeVideo(res.videoPath)).frames, T);
      const out = await readFrames(res.videoPath);
      assert.equal(out.length, T);
      for (let i = 0; i < T; i++) if (keep(i)) assert.ok(out[i].equals(guide[i]), `kept frame ${i} changed`);
      for (const i of [4, 5, 6, 8]) {
        const w = ease((i - 2) / 8, 'ease_in_out');
        let worst = 0;
        for (let j = 0; j < out[i].length; j++) {
          const expected = guide[2][j] * (1 - w) + guide[10][j] * w;
          worst = Math.max(worst, Math.abs(out[i][j] - expected));
        }
        assert.ok(worst <= 1, `frame ${i}: max deviation ${worst} from the eased blend (w=${w})`);
      }
      // The generated frames really move between the anchors (not a copy of either).
      assert.ok(!out[6].equals(guide[2]) && !out[6].equals(guide[10]));
    } finally {
      await engine.close();
    }
  });
});

test('generateVideo without a guide: exact frame counts from image refs or the seed gradient', { timeout: 120_000 }, async () => {
  await withDir(async (dir) => {
    const a = noiseFrame(3);
    await writeImage(path.join(dir, 'a.png'), a, W, H);
    await writeImage(path.join(dir, 'b.png'), noiseFrame(4), W, H);
    const engine = createOnnxEngine();
    try {
      const base = { taskId: 't', prompt: '', negativePrompt: '', width: W, height: H, fps: 16, seed: 7, model: 'onnx', signal: new AbortController().signal };
      for (const frames of [1, 6]) {
        const r = await engine.generateVideo({ ...base, frames, imageRefs: [path.join(dir, 'a.png'), path.join(dir, 'b.png')], outputPath: path.join(dir, `refs${frames}.mp4`) });
        assert.equal((await probeVideo(r.videoPath)).frames, frames);
        assert.ok((await readFrames(r.videoPath, { count: 1 }))[0].equals(a), 'first frame is the first ref');
        assert.ok(!r.notes.some((n) => /not available/.test(n)));
      }
      const g1 = await engine.generateVideo({ ...base, frames: 9, outputPath: path.join(dir, 'g1.mp4') });
      const g2 = await engine.generateVideo({ ...base, frames: 9, outputPath: path.join(dir, 'g2.mp4') });
      const g3 = await engine.generateVideo({ ...base, seed: 8, frames: 9, outputPath: path.join(dir, 'g3.mp4') });
      assert.equal((await probeVideo(g1.videoPath)).frames, 9);
      const [f1, f2, f3] = await Promise.all([g1, g2, g3].map((g) => readFrames(g.videoPath)));
      assert.ok(f1.every((f, i) => f.equals(f2[i])), 'same seed, same frames');
      assert.ok(!f1[0].equals(f3[0]), 'another seed, another start');
      // A guide shorter than the request: the extra frames are synthesized (held), count still exact.
      await writeFrames(path.join(dir, 'short.mp4'), [noiseFrame(1), noiseFrame(2), noiseFrame(3)]);
      const s = await engine.generateVideo({ ...base, frames: 8, guideVideoPath: path.join(dir, 'short.mp4'), outputPath: path.join(dir, 's.mp4') });
      const sf = await readFrames(s.videoPath);
      assert.equal(sf.length, 8);
      assert.ok(sf[7].equals(noiseFrame(3)), 'tail holds the last known frame');
    } finally {
      await engine.close();
    }
  });
});

test('upscale doubles the size; structure finds a rectangle; interpolate honours frames', { timeout: 120_000 }, async () => {
  await withDir(async (dir) => {
    const engine = createOnnxEngine();
    const signal = new AbortController().signal;
    try {
      await writeFrames(path.join(dir, 'in.mp4'), [noiseFrame(1), noiseFrame(2), noiseFrame(3), noiseFrame(4), noiseFrame(5)]);
      const up = await engine.upscaleVideo!({ inputPath: path.join(dir, 'in.mp4'), outputPath: path.join(dir, 'up.mp4'), factor: 2, model: 'RealESRGAN_x2', seed: 0, signal });
      const info = await probeVideo(up.videoPath);
      assert.deepEqual([info.width, info.height, info.frames, up.frames], [W * 2, H * 2, 5, 5]);

      // Structure: a white rectangle (x 10..29, y 8..21) on black.
      const img = Buffer.alloc(W * H * 3);
      for (let y = 8; y <= 21; y++) for (let x = 10; x <= 29; x++) img.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
      await writeImage(path.join(dir, 'rect.png'), img, W, H);
      const st = await engine.extractStructure!({ imagePath: path.join(dir, 'rect.png'), outputPath: path.join(dir, 'edges.png'), signal });
      const edges = await imageToFrame(st.imagePath, W, H);
      const at = (x: number, y: number) => edges[(y * W + x) * 3];
      for (const [x, y] of [[10, 15], [29, 15], [20, 8], [20, 21], [9, 15], [30, 15]]) assert.equal(at(x, y), 255, `edge expected at ${x},${y}`);
      for (const [x, y] of [[20, 15], [2, 2], [40, 28], [15, 12]]) assert.equal(at(x, y), 0, `no edge expected at ${x},${y}`);

      await writeImage(path.join(dir, 'i1.png'), noiseFrame(8), W, H);
      await writeImage(path.join(dir, 'i2.png'), noiseFrame(9), W, H);
      for (const frames of [2, 11]) {
        const r = await engine.interpolate!({ imagePath1: path.join(dir, 'i1.png'), imagePath2: path.join(dir, 'i2.png'), frames, width: W, height: H, fps: 25, outputPath: path.join(dir, `rife${frames}.mp4`), signal });
        const p = await probeVideo(r.videoPath);
        assert.equal(p.frames, frames);
        assert.equal(p.fps, 25);
      }
    } finally {
      await engine.close();
    }
  });
});

test('missing or malformed model files are clear EngineErrors; abort is honoured', { timeout: 60_000 }, async () => {
  await withDir(async (dir) => {
    await writeImage(path.join(dir, 'x.png'), noiseFrame(1), W, H);
    await writeFile(path.join(dir, 'bad.onnx'), 'this is not a protobuf model');
    const engine = createOnnxEngine({ modelsDir: path.join(dir, 'no-models') });
    const signal = new AbortController().signal;
    try {
      await assert.rejects(
        engine.extractStructure!({ imagePath: path.join(dir, 'x.png'), outputPath: path.join(dir, 'o.png'), modelPath: path.join(dir, 'bad.onnx'), signal }),
        (e: Error) => e instanceof EngineError && e.message.includes(path.join(dir, 'bad.onnx')) && /could not be loaded as an ONNX model/.test(e.message),
      );
      await assert.rejects(
        engine.generateVideo({ taskId: 't', prompt: '', negativePrompt: '', width: W, height: H, frames: 3, fps: 25, seed: 1, model: 'onnx', outputPath: path.join(dir, 'o.mp4'), signal }),
        (e: Error) => e instanceof EngineError && e.message.includes(path.join(dir, 'no-models', 'frame_synth.onnx')) && /does not exist/.test(e.message),
      );
      // A valid ONNX model with the wrong inputs is named as such.
      await assert.rejects(
        engine.interpolate!({ imagePath1: path.join(dir, 'x.png'), imagePath2: path.join(dir, 'x.png'), frames: 3, width: W, height: H, fps: 25, outputPath: path.join(dir, 'r.mp4'), modelPath: path.join(REPO, 'models', 'upscale.onnx'), signal }),
        (e: Error) => e instanceof EngineError && /smq feeds \[img0, img1, timestep\]/.test(e.message),
      );
      // Asking for a GPU where the CUDA provider is not installed: CPU and a note, not a crash.
      const gpu = createOnnxEngine({ gpu: 0 });
      try {
        const r = await gpu.generateVideo({ taskId: 't', prompt: '', negativePrompt: '', width: W, height: H, frames: 2, fps: 25, seed: 1, model: 'onnx', outputPath: path.join(dir, 'gpu.mp4'), signal });
        assert.equal((await probeVideo(r.videoPath)).frames, 2);
        assert.ok(r.notes.some((n) => /CUDA execution provider unavailable for GPU 0.*running on CPU/.test(n)), r.notes.join('; '));
      } finally {
        await gpu.close();
      }
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        createOnnxEngine().generateVideo({ taskId: 't', prompt: '', negativePrompt: '', width: W, height: H, frames: 3, fps: 25, seed: 1, model: 'onnx', outputPath: path.join(dir, 'a.mp4'), signal: ac.signal }),
        CancelledError,
      );
    } finally {
      await engine.close();
    }
  });
});
