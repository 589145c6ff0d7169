import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { imageToFrame, probeVideo, readFrames, writeVideo } from '../../src/consumers/media/frames-io.ts';
import { adjustSaturation, concatVideos, extractFrame, scaleVideo } from '../../src/consumers/media/ops.ts';
import { solidFrame } from '../../src/consumers/media/frame-ops.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { tempDir } from './helpers.ts';

async function video(file: string, frames: Buffer[], W: number, H: number, lossless = false) {
  const w = writeVideo(file, { width: W, height: H, fps: 25, lossless });
  for (const f of frames) await w.write(f);
  await w.close();
}

test('saturation, scale, frame extraction and concat keep every frame', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 32, H = 24;
    const red = path.join(dir, 'red.mp4');
    const blue = path.join(dir, 'blue.mp4');
    await video(red, Array.from({ length: 9 }, () => solidFrame(W, H, 220, 30, 30)), W, H);
    await video(blue, Array.from({ length: 6 }, () => solidFrame(W, H, 30, 30, 220)), W, H);

    const gray = path.join(dir, 'gray.mp4');
    await adjustSaturation(red, gray, 0);
    assert.equal((await probeVideo(gray)).frames, 9);
    const [g] = await readFrames(gray, { count: 1 });
    assert.ok(Math.abs(g[0] - g[1]) <= 3 && Math.abs(g[1] - g[2]) <= 3, `saturation 0 is gray, got ${[g[0], g[1], g[2]]}`);

    const big = path.join(dir, 'big.mp4');
    await scaleVideo(red, big, 64, 48);
    const info = await probeVideo(big);
    assert.deepEqual([info.frames, info.width, info.height], [9, 64, 48]);

    const both = path.join(dir, 'both.mp4');
    await concatVideos([red, blue], both);
    assert.equal((await probeVideo(both)).frames, 15);

    const png = path.join(dir, 'last.png');
    assert.equal(await extractFrame(both, 999, png), 14, 'index clamped to the last frame');
    const f = await imageToFrame(png, W, H);
    assert.ok(f[2] > 180 && f[0] < 70, `the last frame is blue, got ${[f[0], f[1], f[2]]}`);
    assert.equal(await extractFrame(both, 2, png), 2);
    const f2 = await imageToFrame(png, W, H);
    assert.ok(f2[0] > 180 && f2[2] < 70, `frame 2 is red, got ${[f2[0], f2[1], f2[2]]}`);

    await assert.rejects(adjustSaturation(red, gray, -1), (e: unknown) => e instanceof ValidationError && e.field === 'saturation');
    await assert.rejects(scaleVideo(red, big, 63, 48), (e: unknown) => e instanceof ValidationError && e.field === 'width');
    await assert.rejects(concatVideos([], both), (e: unknown) => e instanceof ValidationError && e.field === 'inputs');
  } finally {
    await cleanup();
  }
});

test('an abort kills a running op', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 320, H = 240;
    const src = path.join(dir, 'src.mp4');
    await video(src, Array.from({ length: 120 }, (_, i) => solidFrame(W, H, i, 255 - i, 60)), W, H);
    const ac = new AbortController();
    const p = scaleVideo(src, path.join(dir, 'huge.mp4'), 3840, 2160, ac.signal);
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    await assert.rejects(p, (e: unknown) => (e as Error).name === 'CancelledError');
    assert.ok(Date.now() - t0 < 10_000);
  } finally {
    await cleanup();
  }
});
