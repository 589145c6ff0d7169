import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { access, readdir } from 'node:fs/promises';
import { probeVideo, readFrames, writeVideo } from '../../src/consumers/media/frames-io.ts';
import { pipeFrames, stitchVideos } from '../../src/consumers/media/stitch.ts';
import { Crossfader } from '../../src/consumers/media/crossfade-onnx.ts';
import { concatScript, copyPlan, stitchVideosCopying } from '../../src/consumers/media/stitch-copy.ts';
import { encodeForStitch, openStitchEncoder, segmentKeyframes } from '../../src/consumers/media/stitch-encode.ts';
import { probeForCopy, probeMp4ForCopy, whyNotCopyable, type CopyProbe } from '../../src/consumers/media/stitch-probe.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { gradientFrame, noiseFrame, tempDir } from './helpers.ts';

const run = promisify(execFile);

/** Smooth content with some texture, different per segment, so cross-fades and copies are told apart. */
function frameOf(W: number, H: number, seg: number, t: number): Buffer {
  const f = gradientFrame(W, H, seg * 60 + t * 3);
  const n = noiseFrame(W, H, seg * 1000 + t);
  for (let i = 0; i < f.length; i++) f[i] = (f[i] * 7 + n[i]) >> 3;
  return f;
}

/** A segment as travel_segment publishes it: the stitch recipe, IDRs where its overlaps begin and end. */
async function recipeSegment(file: string, frames: Buffer[], W: number, H: number, overlapPrev: number, overlapNext: number) {
  const w = openStitchEncoder(file, { width: W, height: H, fps: 25, keyframes: segmentKeyframes(frames.length, overlapPrev, overlapNext) });
  for (const f of frames) await w.write(f);
  await w.close();
}

async function plainSegment(file: string, frames: Buffer[], W: number, H: number) {
  const w = writeVideo(file, { width: W, height: H, fps: 25 });
  for (const f of frames) await w.write(f);
  await w.close();
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

function recordingLog() {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  return { lines, warn: (obj: object, msg: string) => void lines.push({ obj: obj as Record<string, unknown>, msg }) };
}

async function noWorkDirLeft(dir: string) {
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('.stitch-copy-')), [], 'the work dir is removed');
}

// ---------------------------------------------------------------- pure parts

test('segmentKeyframes: first frame, end of the overlap with the previous, start of the overlap with the next', () => {
  assert.deepEqual(segmentKeyframes(81, 0, 16), [0, 65]);
  assert.deepEqual(segmentKeyframes(97, 16, 16), [0, 16, 81]);
  assert.deepEqual(segmentKeyframes(97, 16, 0), [0, 16]);
  assert.deepEqual(segmentKeyframes(30, 0, 0), [0]);
  // The two overlaps meet: the end of one is the start of the other.
  assert.deepEqual(segmentKeyframes(20, 10, 10), [0, 10]);
  assert.throws(() => segmentKeyframes(20, 12, 10), (e: unknown) => e instanceof ValidationError && /exceed the segment's 20 frames/.test(e.message));
  assert.throws(() => segmentKeyframes(20, -1, 0), (e: unknown) => e instanceof ValidationError && e.field === 'overlapPrev');
});

test('pipeFrames: the frames wanted, within a memory budget, at least one', () => {
  assert.equal(pipeFrames(640, 360, 8, 8), 8);
  assert.equal(pipeFrames(1920, 1080, 8, 8), 1);
  assert.equal(pipeFrames(1920, 1080, 32, 24), 4);
  assert.equal(pipeFrames(8000, 8000, 8, 8), 1);
});

test('copyPlan: middles copied, each join decoded from both sides and taken from the fades file', () => {
  const plan = copyPlan([20, 17, 25], [6, 8], ['a', 'b', 'c'], 'f');
  assert.deepEqual(plan.decode, [
    { file: 'a', from: 14, to: 20, length: 20 },
    { file: 'b', from: 0, to: 6, length: 17 },
    { file: 'b', from: 9, to: 17, length: 17 },
    { file: 'c', from: 0, to: 8, length: 25 },
  ]);
  assert.deepEqual(plan.assemble, [
    { file: 'a', from: 0, to: 14, length: 20 },
    { file: 'f', from: 0, to: 6, length: 14 },
    { file: 'b', from: 6, to: 9, length: 17 },
    { file: 'f', from: 6, to: 14, length: 14 },
    { file: 'c', from: 8, to: 25, length: 25 },
  ]);
  assert.deepEqual(plan.fadeStarts, [0, 6]);
  assert.equal(plan.fadeTotal, 14);
  const frames = plan.assemble.reduce((n, p) => n + p.to - p.from, 0);
  assert.equal(frames, 20 + 17 + 25 - 14);

  // A hard cut has no fade; a middle eaten whole by its two overlaps is not listed.
  const cut = copyPlan([10, 8, 10], [0, 4], ['a', 'b', 'c'], 'f');
  assert.deepEqual(cut.assemble.map((p) => `${p.file}${p.from}-${p.to}`), ['a0-10', 'b0-4', 'f0-4', 'c4-10']);
  const eaten = copyPlan([10, 8, 10], [4, 4], ['a', 'b', 'c'], 'f');
  assert.deepEqual(eaten.assemble.map((p) => `${p.file}${p.from}-${p.to}`), ['a0-6', 'f0-4', 'f4-8', 'c4-10']);
});

test('concatScript: in/out points land on the frame boundaries in whole microseconds', () => {
  const s = concatScript([
    { file: 'in0.mp4', from: 0, to: 65, length: 81 },
    { file: 'in1.mp4', from: 16, to: 81, length: 81 },
  ], 25);
  assert.equal(s, 'ffconcat version 1.0\nfile in0.mp4\noutpoint 2.600000\nfile in1.mp4\ninpoint 0.640000\n');
  // NTSC: frame 7 starts at 7·1001/30000 s = 0.233566666… s; the inpoint rounds up, the outpoint down.
  const ntsc = concatScript([{ file: 'x.mp4', from: 7, to: 8, length: 10 }], 30000 / 1001);
  assert.match(ntsc, /inpoint 0\.233567\n/);
  assert.match(ntsc, /outpoint 0\.266933\n/);
});

const okProbe = (over: Partial<CopyProbe> = {}): CopyProbe => ({
  file: 'x.mp4',
  codec: 'h264',
  profile: 'High',
  pixFmt: 'yuv420p',
  width: 64,
  height: 48,
  rate: [25, 1],
  hasBFrames: 0,
  sar: '1:1',
  extradataHash: 'MD5:abc',
  frames: 20,
  keyframes: new Set([0, 6, 14]),
  ...over,
});

test('whyNotCopyable: null for recipe inputs, otherwise a reason naming the input', () => {
  const target = { width: 64, height: 48, fps: 25 };
  const three = [okProbe({ keyframes: new Set([0, 14]) }), okProbe(), okProbe({ keyframes: new Set([0, 6]) })];
  assert.equal(whyNotCopyable(three, [6, 6], target), null);
  const why = (i: number, over: Partial<CopyProbe>) => {
    const probes = three.map((p, j) => (j === i ? { ...p, ...over } : p));
    return whyNotCopyable(probes, [6, 6], target) ?? '';
  };
  assert.match(why(1, { codec: 'hevc' }), /inputs\[1\].*hevc\/yuv420p, not h264/);
  assert.match(why(1, { pixFmt: 'yuv444p' }), /inputs\[1\].*not h264\/yuv420p/);
  assert.match(why(2, { width: 80 }), /inputs\[2\].*80x48, the stitch is 64x48/);
  assert.match(why(0, { rate: [16, 1] }), /inputs\[0\].*16\/1 fps, the stitch at 25/);
  assert.match(why(1, { hasBFrames: 2 }), /inputs\[1\].*B-frames/);
  assert.match(why(1, { sar: '4:3' }), /inputs\[1\].*sample aspect ratio 4:3/);
  assert.match(why(1, { editList: '1 edit(s), the first from media time 1024' }), /inputs\[1\].*edit list that hides frames/);
  assert.match(why(2, { extradataHash: 'MD5:other' }), /inputs\[2\].*other codec headers/);
  assert.match(why(1, { keyframes: new Set([0, 6]) }), /inputs\[1\].*no keyframe at frame\(s\) 14/);
  assert.match(why(0, { keyframes: new Set([0]) }), /inputs\[0\].*no keyframe at frame\(s\) 14/);
  // NTSC rates compare as fractions.
  const ntsc = three.map((p) => ({ ...p, rate: [30000, 1001] as [number, number] }));
  assert.equal(whyNotCopyable(ntsc, [6, 6], { ...target, fps: 30000 / 1001 }), null);
});

// ---------------------------------------------------------------- real ffmpeg

test('recipe segments are stitched by copying: exact frame count, decodable, untouched frames kept, joins ≈ the streaming stitch', { timeout: 180_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 64, H = 48;
    const lengths = [20, 17, 25];
    const overlaps = [6, 8];
    const src = lengths.map((n, i) => Array.from({ length: n }, (_, t) => frameOf(W, H, i, t)));
    const files = lengths.map((_, i) => path.join(dir, `seg ${i}.mp4`));
    for (const [i, f] of files.entries()) await recipeSegment(f, src[i], W, H, i > 0 ? overlaps[i - 1] : 0, i < overlaps.length ? overlaps[i] : 0);

    const out = path.join(dir, 'copy.mp4');
    const log = recordingLog();
    const progress: number[] = [];
    const r = await stitchVideosCopying({ inputs: files, overlaps, sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: out, log, onProgress: (d) => progress.push(d) });
    assert.equal(r.mode, 'copy', `copy mode (log: ${JSON.stringify(log.lines)})`);
    assert.deepEqual(log.lines, []);
    const expected = 20 + 17 + 25 - 14;
    assert.equal(r.frames, expected);
    const info = await probeVideo(out);
    assert.equal(info.frames, expected, 'ffprobe -count_frames decodes Σ lengths − Σ overlaps frames');
    assert.equal(info.fps, 25);
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', out, '-f', 'null', '-']);
    assert.equal(stderr.trim(), '', 'the stitched file decodes without a single error');
    assert.equal(progress.at(-1), 3);
    await noWorkDirLeft(dir);

    // Untouched frames are the segments' own packets: bit-identical once decoded.
    const dec = await Promise.all(files.map((f) => readFrames(f)));
    const got = await readFrames(out);
    const same = (o: number, seg: number, k: number) => assert.ok(got[o].equals(dec[seg][k]), `output frame ${o} is segment ${seg} frame ${k}`);
    for (let k = 0; k < 14; k++) same(k, 0, k);
    for (let k = 6; k < 9; k++) same(14 + k, 1, k);
    for (let k = 8; k < 25; k++) same(23 + k, 2, k);

    // The joins: the cross-fade of the decoded segments (the model the streaming stitch uses),
    // through one lossy encode. The copy stitch's error against it must be the streaming stitch's
    // (same inputs) give or take encoder noise, and each joined frame must be a blend, not a side.
    const streamingPath = path.join(dir, 'streaming.mp4');
    await stitchVideos({ inputs: files, overlaps, sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: streamingPath });
    const ref = await readFrames(streamingPath);
    assert.equal(ref.length, got.length);
    const fader = new Crossfader({ width: W, height: H, sharpAmt: 0.3 });
    const truth = [...(await fader.join(dec[0].slice(14), dec[1].slice(0, 6))), ...(await fader.join(dec[1].slice(9), dec[2].slice(0, 8)))];
    const at = [...Array.from({ length: 6 }, (_, k) => [14 + k, dec[0][14 + k], dec[1][k]] as const), ...Array.from({ length: 8 }, (_, k) => [23 + k, dec[1][9 + k], dec[2][k]] as const)];
    let copyErr = 0;
    let streamErr = 0;
    at.forEach(([o, a, b], k) => {
      const c = meanAbsDiff(got[o], truth[k]);
      const st = meanAbsDiff(ref[o], truth[k]);
      copyErr += c / at.length;
      streamErr += st / at.length;
      assert.ok(c <= st * 1.5 + 1, `cross-faded frame ${o}: copy error ${c.toFixed(2)} vs streaming ${st.toFixed(2)}`);
      if (k !== 5 && k !== 13) {
        // (The last frame of a join is the later side at full weight, sharpened.)
        assert.ok(c < meanAbsDiff(got[o], a) && c < meanAbsDiff(got[o], b), `frame ${o} is the blend, not one side`);
      }
    });
    assert.ok(copyErr <= streamErr * 1.25 + 0.5, `mean join error: copy ${copyErr.toFixed(2)}, streaming ${streamErr.toFixed(2)}`);
  } finally {
    await cleanup();
  }
});

test('a hard cut (overlap 0) and a segment whose middle is eaten by its overlaps still copy exactly', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 48, H = 32;
    const lengths = [10, 8, 12, 9];
    const overlaps = [4, 4, 0];
    const files = lengths.map((_, i) => path.join(dir, `s${i}.mp4`));
    for (const [i, n] of lengths.entries()) {
      await recipeSegment(files[i], Array.from({ length: n }, (_, t) => frameOf(W, H, i, t)), W, H, i > 0 ? overlaps[i - 1] : 0, i < overlaps.length ? overlaps[i] : 0);
    }
    const out = path.join(dir, 'out.mp4');
    const r = await stitchVideosCopying({ inputs: files, overlaps, sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: out, log: recordingLog() });
    assert.equal(r.mode, 'copy');
    assert.equal((await probeVideo(out)).frames, 10 + 8 + 12 + 9 - 8);
    const got = await readFrames(out);
    const last = await readFrames(files[3]);
    // After the hard cut the last segment follows untouched from its first frame.
    for (let k = 0; k < 9; k++) assert.ok(got[22 + k].equals(last[k]), `frame ${22 + k} is s3 frame ${k}`);
  } finally {
    await cleanup();
  }
});

test('encodeForStitch turns any video into a copyable segment (saturation in the same pass)', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 48, H = 32;
    const plain = path.join(dir, 'plain.mp4');
    await plainSegment(plain, Array.from({ length: 24 }, (_, t) => frameOf(W, H, 1, t)), W, H);
    const recipe = path.join(dir, 'recipe.mp4');
    await encodeForStitch(plain, recipe, { keyframes: segmentKeyframes(24, 5, 7), saturation: 0.5 });
    const p = await probeForCopy(recipe);
    assert.equal(p.frames, 24);
    assert.equal(p.hasBFrames, 0);
    assert.equal(p.sar, '1:1');
    assert.deepEqual([...p.keyframes].sort((a, b) => a - b), [0, 5, 17]);
    // Saturation 0.5 pulls the channels of every pixel towards each other.
    const spread = (f: Buffer) => {
      let s = 0;
      for (let i = 0; i < f.length; i += 3) s += Math.max(f[i], f[i + 1], f[i + 2]) - Math.min(f[i], f[i + 1], f[i + 2]);
      return s / (f.length / 3);
    };
    const [a] = await readFrames(plain, { count: 1 });
    const [b] = await readFrames(recipe, { count: 1 });
    assert.ok(spread(b) < spread(a) * 0.75, `saturation applied (${spread(b).toFixed(1)} vs ${spread(a).toFixed(1)})`);
    await assert.rejects(encodeForStitch(plain, path.join(dir, 'x.mp4'), { saturation: 7 }), (e: unknown) => e instanceof ValidationError && e.field === 'saturation');
  } finally {
    await cleanup();
  }
});

test('the MP4 sample-table probe reads what ffprobe reads; other containers are left to ffprobe', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 48, H = 32;
    const frames = Array.from({ length: 24 }, (_, t) => frameOf(W, H, 3, t));
    const recipe = path.join(dir, 'recipe.mp4');
    await recipeSegment(recipe, frames, W, H, 4, 6);
    const plain = path.join(dir, 'plain.mp4');
    await plainSegment(plain, frames, W, H);
    const lossless = path.join(dir, 'lossless.mp4');
    const lw = writeVideo(lossless, { width: W, height: H, fps: 25, lossless: true });
    for (const f of frames) await lw.write(f);
    await lw.close();
    const same = (a: CopyProbe, b: CopyProbe) => {
      for (const k of ['codec', 'width', 'height', 'rate', 'sar', 'frames'] as const) assert.deepEqual(b[k], a[k], `${path.basename(a.file)} ${k}`);
      // ffprobe also flags non-IDR I-frames as key (its parser sees the I slices); the sync-sample
      // table lists only real cut points, so it may hold fewer, never others.
      for (const k of b.keyframes) assert.ok(a.keyframes.has(k), `${path.basename(a.file)} keyframe ${k}`);
      assert.equal(b.hasBFrames > 0, a.hasBFrames > 0, `${path.basename(a.file)} B-frames`);
      assert.equal(b.pixFmt === 'yuv420p', a.pixFmt === 'yuv420p', `${path.basename(a.file)} yuv420p or not`);
    };
    const fromTables = await Promise.all([recipe, plain, lossless].map((f) => probeMp4ForCopy(f)));
    const fromFfprobe = await Promise.all([recipe, plain, lossless].map((f) => probeForCopy(f)));
    fromTables.forEach((p, i) => same(fromFfprobe[i], p!));
    for (const i of [0, 1]) assert.deepEqual([...fromTables[i]!.keyframes].sort((x, y) => x - y), [...fromFfprobe[i].keyframes].sort((x, y) => x - y));
    assert.deepEqual([...fromTables[0]!.keyframes].sort((x, y) => x - y), [0, 4, 18]);
    assert.equal(fromTables[0]!.editList, undefined);
    // x264's B-frames delay the first shown frame with an edit list; neither is copyable.
    assert.match(fromTables[1]!.editList ?? '', /media time [1-9]/);
    // The same recipe gives the same codec headers; another encoder setting does not.
    const again = path.join(dir, 'again.mp4');
    await recipeSegment(again, frames.slice(0, 10), W, H, 0, 0);
    assert.equal((await probeMp4ForCopy(again))!.extradataHash, fromTables[0]!.extradataHash);
    assert.notEqual(fromTables[1]!.extradataHash, fromTables[0]!.extradataHash);

    const mkv = path.join(dir, 'recipe.mkv');
    await run('ffmpeg', ['-v', 'error', '-i', recipe, '-c', 'copy', mkv]);
    assert.equal(await probeMp4ForCopy(mkv), null);
    assert.equal(await probeMp4ForCopy(path.join(dir, 'missing.mp4')), null);
  } finally {
    await cleanup();
  }
});

test('inputs without the recipe fall back to the streaming stitch, saying why', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 48, H = 32;
    const files = [0, 1].map((i) => path.join(dir, `p${i}.mp4`));
    for (const [i, f] of files.entries()) await plainSegment(f, Array.from({ length: 15 }, (_, t) => frameOf(W, H, i, t)), W, H);
    const log = recordingLog();
    const out = path.join(dir, 'out.mp4');
    const r = await stitchVideosCopying({ inputs: files, overlaps: [5], sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: out, log });
    assert.equal(r.mode, 'streaming');
    assert.equal((await probeVideo(out)).frames, 25);
    assert.equal(log.lines.length, 1);
    // writeVideo's default x264 settings use B-frames and put no keyframe at the overlap.
    assert.match(String(log.lines[0].obj.reason), /inputs\[0\].*(B-frames|keyframe)/);
    assert.match(log.lines[0].msg, /re-encoding every frame/);

    // A recipe segment next to one at another size: the reason names the odd one out.
    const small = path.join(dir, 'small.mp4');
    await recipeSegment(small, Array.from({ length: 15 }, (_, t) => frameOf(32, 32, 2, t)), 32, 32, 5, 0);
    const rec0 = path.join(dir, 'r0.mp4');
    await recipeSegment(rec0, Array.from({ length: 15 }, (_, t) => frameOf(W, H, 0, t)), W, H, 0, 5);
    const log2 = recordingLog();
    const r2 = await stitchVideosCopying({ inputs: [rec0, small], overlaps: [5], sharpAmt: 0.3, width: W, height: H, fps: 25, outputPath: path.join(dir, 'out2.mp4'), log: log2 });
    assert.equal(r2.mode, 'streaming');
    assert.match(String(log2.lines[0].obj.reason), /inputs\[1\].*32x32, the stitch is 48x32/);
    await noWorkDirLeft(dir);
  } finally {
    await cleanup();
  }
});

test('bad overlaps and too-short inputs are refused clearly; an abort leaves nothing behind', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const W = 48, H = 32;
    const lengths = [20, 12, 20];
    const files = lengths.map((_, i) => path.join(dir, `s${i}.mp4`));
    for (const [i, n] of lengths.entries()) await recipeSegment(files[i], Array.from({ length: n }, (_, t) => frameOf(W, H, i, t)), W, H, i > 0 ? 5 : 0, i < 2 ? 5 : 0);
    const base = { inputs: files, sharpAmt: 0.3, width: W, height: H, fps: 25, log: recordingLog() };

    await assert.rejects(stitchVideosCopying({ ...base, overlaps: [5], outputPath: path.join(dir, 'a.mp4') }), (e: unknown) => e instanceof ValidationError && e.field === 'overlaps' && /2 for 3 videos/.test(e.message));
    await assert.rejects(stitchVideosCopying({ ...base, overlaps: [5, -1], outputPath: path.join(dir, 'b.mp4') }), (e: unknown) => e instanceof ValidationError && e.field === 'overlaps[1]');
    await assert.rejects(stitchVideosCopying({ ...base, overlaps: [5, 2.5], outputPath: path.join(dir, 'c.mp4') }), (e: unknown) => e instanceof ValidationError && e.field === 'overlaps[1]');
    await assert.rejects(
      stitchVideosCopying({ ...base, overlaps: [7, 7], outputPath: path.join(dir, 'd.mp4') }),
      (e: unknown) => e instanceof ValidationError && e.field === 'inputs[1]' && /12 frames, fewer than its overlaps need \(7 with the previous \+ 7 with the next\)/.test(e.message),
    );

    const ac = new AbortController();
    const aborted = path.join(dir, 'aborted.mp4');
    await assert.rejects(
      stitchVideosCopying({ ...base, overlaps: [5, 5], outputPath: aborted, signal: ac.signal, onProgress: () => ac.abort() }),
      (e: unknown) => (e as Error).name === 'CancelledError',
    );
    await assert.rejects(access(aborted), 'an aborted stitch leaves no partial file');
    await noWorkDirLeft(dir);

    const pre = new AbortController();
    pre.abort();
    await assert.rejects(stitchVideosCopying({ ...base, overlaps: [5, 5], outputPath: path.join(dir, 'e.mp4'), signal: pre.signal }), (e: unknown) => (e as Error).name === 'CancelledError');
    await noWorkDirLeft(dir);
  } finally {
    await cleanup();
  }
});
