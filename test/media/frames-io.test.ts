import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import ffmpeg from 'fluent-ffmpeg';
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { decodeFrames, imageToFrame, probeVideo, readFrames, writeImage, writeVideo } from '../../src/consumers/media/frames-io.ts';
import { CancelledError, MediaError, ValidationError } from '../../src/core/errors.ts';
const execFileP = promisify(execFile);
import { gradientFrame, noiseFrame, tempDir } from './helpers.ts';

async function writeAll(file: string, frames: Buffer[], opts: { width: number; height: number; fps: number; lossless?: boolean; keyframes?: number[] }) {
  const w = writeVideo(file, opts);
  for (const f of frames) await w.write(f);
  await w.close();
}

test('lossless writeVideo → readFrames is a bit-exact rgb24 round trip, counted exactly by ffprobe', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 24, H = 14;
    const frames = Array.from({ length: 13 }, (_, i) => noiseFrame(W, H, i + 1));
    const file = path.join(dir, 'rt.mkv');
    await writeAll(file, frames, { width: W, height: H, fps: 16, lossless: true });
    const info = await probeVideo(file);
    assert.equal(info.frames, 13);
    assert.equal(info.width, W);
    assert.equal(info.height, H);
    assert.equal(info.fps, 16);
    assert.equal(info.codec, 'h264');
    const back = await readFrames(file);
    assert.equal(back.length, 13);
    back.forEach((f, i) => assert.ok(f.equals(frames[i]), `frame ${i} differs`));

    const tail = await readFrames(file, { last: 4 });
    assert.equal(tail.length, 4);
    tail.forEach((f, i) => assert.ok(f.equals(frames[9 + i]), `last-4 frame ${i}`));
    const mid = await readFrames(file, { start: 5, count: 3 });
    assert.equal(mid.length, 3);
    mid.forEach((f, i) => assert.ok(f.equals(frames[5 + i]), `start-5 frame ${i}`));
    const scaled = await readFrames(file, { width: 12, height: 7, count: 2 });
    assert.equal(scaled.length, 2);
    assert.equal(scaled[0].length, 12 * 7 * 3);
  } finally {
    await cleanup();
  }
});

test('lossy writeVideo gives a playable yuv420p h264 mp4 with every frame and forced keyframes', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 32, H = 16;
    const file = path.join(dir, 'lossy.mp4');
    await writeAll(file, Array.from({ length: 30 }, (_, i) => gradientFrame(W, H, i * 3)), { width: W, height: H, fps: 25, keyframes: [0, 7, 19] });
    const info = await probeVideo(file);
    assert.equal(info.frames, 30);
    assert.equal(info.fps, 25);
    const { stdout } = await execFileP('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=key_frame', '-of', 'csv=p=0', file]);
    // Side data prints as extra blank lines; keep one line per frame.
    const keyIdx = stdout.trim().split('\n').filter((l) => l.trim() !== '').flatMap((l, i) => (l.trim().startsWith('1') ? [i] : []));
    for (const k of [0, 7, 19]) assert.ok(keyIdx.includes(k), `frame ${k} is a keyframe (keyframes: ${keyIdx.join(',')})`);
    const streams = await new Promise<ffmpeg.FfprobeData>((resolve, reject) => ffmpeg.ffprobe(file, (e, d) => (e ? reject(e) : resolve(d))));
    const v = streams.streams.find((s) => s.codec_type === 'video')!;
    assert.equal(v.pix_fmt, 'yuv420p');
  } finally {
    await cleanup();
  }
});

test('imageToFrame drops alpha (no compositing) and stretches to W×H', { timeout: 30_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const png = path.join(dir, 'alpha.png');
    await new Promise<void>((resolve, reject) => {
      // A 4×2 RGBA image at 20% opacity: compositing would pull the colour towards a background.
      const rgba = Buffer.alloc(4 * 2 * 4);
      for (let i = 0; i < rgba.length; i += 4) rgba.set([0x33, 0x66, 0x99, 0x33], i);
      ffmpeg()
        .input(Readable.from([rgba]))
        .inputFormat('rawvideo')
        .inputOptions(['-pix_fmt', 'rgba', '-video_size', '4x2'])
        .outputOptions(['-frames:v', '1', '-c:v', 'png', '-pix_fmt', 'rgba', '-update', '1'])
        .output(png)
        .on('end', () => resolve())
        .on('error', reject)
        .run();
    });
    const f = await imageToFrame(png, 8, 6);
    assert.equal(f.length, 8 * 6 * 3);
    for (let i = 0; i < f.length; i += 3) assert.deepEqual([f[i], f[i + 1], f[i + 2]], [0x33, 0x66, 0x99]);

    const src = gradientFrame(6, 4, 10);
    const out = path.join(dir, "it's 100%.png");
    await writeImage(out, src, 6, 4);
    assert.ok((await imageToFrame(out, 6, 4)).equals(src), 'PNG round trip is exact, even with a quote and % in the name');
  } finally {
    await cleanup();
  }
});

test('decodeFrames streams with backpressure and stops ffmpeg when the consumer breaks', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 64, H = 48;
    const file = path.join(dir, 'long.mkv');
    await writeAll(file, Array.from({ length: 40 }, (_, i) => noiseFrame(W, H, i)), { width: W, height: H, fps: 25, lossless: true });
    let n = 0;
    for await (const f of decodeFrames(file)) {
      assert.equal(f.length, W * H * 3);
      if (++n === 3) break;
    }
    assert.equal(n, 3);
    const ac = new AbortController();
    const it = decodeFrames(file, { signal: ac.signal });
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of it) {
          got++;
          if (got === 2) ac.abort();
        }
      })(),
      (e: unknown) => e instanceof CancelledError,
    );
    assert.ok(got < 40, `abort stopped the decode (got ${got})`);
  } finally {
    await cleanup();
  }
});

test('bad input fails clearly: wrong frame size, odd yuv420p size, missing file, ffmpeg failure carries stderr', { timeout: 30_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    assert.throws(() => writeVideo(path.join(dir, 'x.mp4'), { width: 5, height: 4, fps: 25 }), (e: unknown) => e instanceof ValidationError && /even/.test(e.message));
    const w = writeVideo(path.join(dir, 'y.mp4'), { width: 4, height: 4, fps: 25 });
    await assert.rejects(w.write(Buffer.alloc(10)), (e: unknown) => e instanceof ValidationError && e.field === 'frame');
    await w.close();
    await assert.rejects(probeVideo(path.join(dir, 'missing.mp4')), (e: unknown) => e instanceof MediaError && /No such file/.test(e.message));
    await assert.rejects(readFrames(path.join(dir, 'missing.mp4'), { width: 4, height: 4 }), (e: unknown) => e instanceof MediaError && /No such file/.test(e.message));
    const bad = writeVideo(path.join(dir, 'no-such-dir', 'z.mp4'), { width: 4, height: 4, fps: 25 });
    await assert.rejects(
      (async () => {
        await bad.write(Buffer.alloc(48));
        await bad.close();
      })(),
      (e: unknown) => e instanceof MediaError && /No such file or directory/.test(e.message),
    );
    await assert.rejects(readFrames('x', { width: 4 }), (e: unknown) => e instanceof ValidationError && e.field === 'height');
  } finally {
    await cleanup();
  }
});
