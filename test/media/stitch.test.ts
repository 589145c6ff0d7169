import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { access } from 'node:fs/promises';
import { probeVideo, readFrames, writeVideo } from '../../src/consumers/media/frames-io.ts';
import { stitchVideos } from '../../src/consumers/media/stitch.ts';
import { stitchedFrameCount } from '../../src/consumers/media/frame-math.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { gradientFrame, maxAbsDiff, noiseFrame, tempDir } from './helpers.ts';

async function segment(file: string, frames: Buffer[], W: number, H: number, lossless: boolean) {
  const w = writeVideo(file, { width: W, height: H, fps: 25, lossless });
  for (const f of frames) await w.write(f);
  await w.close();
}

/** Spec 02 §4.3 written out independently: double precision, direct 2D-separable Gaussian σ=3, 25 taps, reflect-101. */
function referenceCrossfade(a: Buffer, b: Buffer, k: number, c: number, s: number, W: number, H: number): number[] {
  const alpha = (1 - Math.cos((Math.PI * (k + 1)) / c)) / 2;
  const base = Array.from(a, (v, i) => v * (1 - alpha) + b[i] * alpha);
  const taps = Array.from({ length: 25 }, (_, i) => Math.exp(-((i - 12) ** 2) / 18));
  const norm = taps.reduce((x, y) => x + y, 0);
  const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const at = (arr: number[], x: number, y: number, ch: number) => arr[(y * W + x) * 3 + ch];
  const hor = base.map((_, i) => {
    const p = Math.floor(i / 3), ch = i % 3, x = p % W, y = Math.floor(p / W);
    return taps.reduce((acc, t, j) => acc + t * at(base, refl(x + j - 12, W), y, ch), 0) / norm;
  });
  const blur = base.map((_, i) => {
    const p = Math.floor(i / 3), ch = i % 3, x = p % W, y = Math.floor(p / W);
    return taps.reduce((acc, t, j) => acc + t * at(hor, x, refl(y + j - 12, H), ch), 0) / norm;
  });
  return base.map((v, i) => Math.trunc(Math.min(255, Math.max(0, v * (1 + s * alpha) - blur[i] * s * alpha))));
}

test('3 segments: exact frame count, cross-faded join matches the formula, overlap 0 is a hard cut', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 40, H = 30;
    const A = Array.from({ length: 12 }, (_, i) => noiseFrame(W, H, 100 + i));
    const B = Array.from({ length: 14 }, (_, i) => gradientFrame(W, H, i * 5));
    const C = Array.from({ length: 10 }, (_, i) => noiseFrame(W, H, 300 + i));
    const files = ['a.mkv', 'b.mkv', 'c.mkv'].map((f) => path.join(dir, f));
    await segment(files[0], A, W, H, true);
    await segment(files[1], B, W, H, true);
    await segment(files[2], C, W, H, true);
    const out = path.join(dir, 'out.mkv');
    const progress: number[] = [];
    const r = await stitchVideos({ inputs: files, overlaps: [4, 0], sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: out, lossless: true, onProgress: (d) => progress.push(d) });
    const expected = stitchedFrameCount([12, 14, 10], [4, 0]);
    assert.equal(expected, 32);
    assert.equal(r.frames, expected);
    assert.equal((await probeVideo(out)).frames, expected);
    assert.deepEqual(progress, [1, 2, 3]);

    const got = await readFrames(out);
    for (let i = 0; i < 8; i++) assert.ok(got[i].equals(A[i]), `A frame ${i} passes through`);
    for (let k = 0; k < 4; k++) {
      const ref = referenceCrossfade(A[8 + k], B[k], k, 4, 0.3, W, H);
      const d = maxAbsDiff(got[8 + k], ref);
      assert.ok(d <= 2, `blended frame ${k} within ±2 of the formula (max diff ${d})`);
    }
    // The sharpening matters on noise: a plain blend would be far off the formula.
    assert.ok(maxAbsDiff(got[10], referenceCrossfade(A[10], B[2], 2, 4, 0, W, H)) > 5, 'unsharp mask applied');
    for (let i = 4; i < 14; i++) assert.ok(got[8 + i].equals(B[i]), `B frame ${i} passes through`);
    for (let i = 0; i < 10; i++) assert.ok(got[22 + i].equals(C[i]), `hard cut: C frame ${i} follows B untouched`);
  } finally {
    await cleanup();
  }
});

test('default output is a playable yuv420p mp4 with Σ lengths − Σ overlaps frames; too-short segments fail clearly', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 64, H = 36;
    const lengths = [20, 17, 25];
    const files: string[] = [];
    for (const [i, n] of lengths.entries()) {
      const f = path.join(dir, `s${i}.mp4`);
      await segment(f, Array.from({ length: n }, (_, j) => gradientFrame(W, H, i * 40 + j)), W, H, false);
      files.push(f);
    }
    const out = path.join(dir, 'final.mp4');
    const r = await stitchVideos({ inputs: files, overlaps: [6, 8], sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: out });
    const info = await probeVideo(out);
    assert.equal(info.frames, 20 + 17 + 25 - 14);
    assert.equal(r.frames, info.frames);
    assert.equal(info.codec, 'h264');
    assert.equal(info.fps, 25);

    await assert.rejects(
      stitchVideos({ inputs: files, overlaps: [10, 10], sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: path.join(dir, 'bad.mp4') }),
      (e: unknown) => e instanceof ValidationError && e.field === 'inputs[1]' && /17 frames/.test(e.message),
    );
    const ac = new AbortController();
    const aborted = path.join(dir, 'aborted.mp4');
    await assert.rejects(
      stitchVideos({ inputs: files, overlaps: [6, 8], sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: aborted, signal: ac.signal, onProgress: (d) => d === 1 && ac.abort() }),
      (e: unknown) => (e as Error).name === 'CancelledError',
    );
    await assert.rejects(access(aborted), 'an aborted stitch leaves no partial file');
    await assert.rejects(
      stitchVideos({ inputs: files, overlaps: [1], sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: path.join(dir, 'bad2.mp4') }),
      (e: unknown) => e instanceof ValidationError && e.field === 'overlaps',
    );
  } finally {
    await cleanup();
  }
});

/** Peak RSS of this process while `fn` runs, sampled every 5 ms. */
async function peakRss(fn: () => Promise<unknown>): Promise<number> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss);
}

test('memory stays flat in the number of segments (5 vs 20)', { timeout: 300_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 320, H = 240, N = 30, O = 4;
    const files: string[] = [];
    for (let i = 0; i < 20; i++) {
      const f = path.join(dir, `m${i}.mp4`);
      await segment(f, Array.from({ length: N }, (_, j) => gradientFrame(W, H, i * 7 + j)), W, H, false);
      files.push(f);
    }
    const run = (n: number) => () =>
      stitchVideos({ inputs: files.slice(0, n), overlaps: Array(n - 1).fill(O), sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: path.join(dir, `out${n}.mp4`) });
    const before = process.memoryUsage().rss;
    const peak5 = await peakRss(run(5));
    const peak20 = await peakRss(run(20));
    assert.equal((await probeVideo(path.join(dir, 'out20.mp4'))).frames, 20 * N - 19 * O);
    // Holding every decoded frame would add 15 segments × 30 frames × 230 KB ≈ 104 MB.
    const growthMB = (peak20 - peak5) / 2 ** 20;
    assert.ok(growthMB < 40, `peak RSS grew ${growthMB.toFixed(1)} MB from 5 to 20 segments (before ${(before / 2 ** 20).toFixed(0)} MB, peak5 ${(peak5 / 2 ** 20).toFixed(0)} MB)`);
  } finally {
    await cleanup();
  }
});
