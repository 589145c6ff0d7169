/**
 * The stream-copy stitch (issue 5 "Stretch"): when every segment was encoded with the stitch recipe
 * (stitch-encode.ts: IDR frames where its overlaps begin and end, no B-frames, identical headers),
 * only the cross-faded stretches are decoded and encoded again. The untouched middle of every
 * segment is copied packet for packet, so the stitch costs about the overlap frames instead of all
 * frames. Three ffmpeg processes whatever the number of segments: one decoder over every overlap
 * (a concat list of just those stretches), one encoder for all cross-faded stretches (one file,
 * an IDR at the start of each), one `-c copy` concat of middles and stretches.
 *
 * Inputs that do not qualify (probed first; nothing is decoded to decide) go to the streaming
 * stitch, with a log line saying why.
 */
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CancelledError, MediaError, ValidationError } from '../../core/errors.ts';
import { Crossfader } from './crossfade-onnx.ts';
import { faststartFor, newCommand, runCommand } from './ffmpeg-run.ts';
import { decodeFrames } from './frames-io.ts';
import { openStitchEncoder } from './stitch-encode.ts';
import { probeForCopyFast, rateOf, whyNotCopyable, type CopyProbe } from './stitch-probe.ts';
import { pipeFrames, stitchVideos, validateStitch, type StitchOptions } from './stitch.ts';

export interface CopyStitchResult {
  frames: number;
  /** 'copy' when the middles were stream-copied, 'streaming' when it fell back to the full re-encode. */
  mode: 'copy' | 'streaming';
}

/** A stretch of frames [from, to) of one file, as a concat-list entry. */
interface Piece {
  file: string;
  from: number;
  to: number;
  /** Frames in the file (an end at the file's end needs no outpoint). */
  length: number;
}

/**
 * Concat-demuxer script. In/out points are written in whole microseconds: the inpoint rounded up
 * (the demuxer seeks to the keyframe at or before it, which is frame `from` itself) and the
 * outpoint rounded down (it drops packets whose timestamp is ≥ it, so frame `to` is excluded).
 */
export function concatScript(pieces: readonly Piece[], fps: number): string {
  const [num, den] = rateOf(fps);
  const us = (k: number, round: (x: number) => number) => round((k * 1e6 * den) / num);
  const sec = (u: number) => `${Math.floor(u / 1e6)}.${String(u % 1e6).padStart(6, '0')}`;
  const lines = ['ffconcat version 1.0'];
  for (const p of pieces) {
    lines.push(`file ${p.file}`);
    if (p.from > 0) lines.push(`inpoint ${sec(us(p.from, Math.ceil))}`);
    if (p.to < p.length) lines.push(`outpoint ${sec(us(p.to, Math.floor))}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The layout of the output: for each input its middle (copied), then the cross-faded stretch of
 * its join with the next one (from the stretches file). Pure.
 */
export function copyPlan(lengths: readonly number[], overlaps: readonly number[], names: readonly string[], fadesName: string) {
  const fadeTotal = overlaps.reduce((a, b) => a + b, 0);
  const decode: Piece[] = [];
  const assemble: Piece[] = [];
  const fadeStarts: number[] = [];
  let fadeAt = 0;
  for (let i = 0; i < lengths.length; i++) {
    const cin = i > 0 ? overlaps[i - 1] : 0;
    const cout = i < overlaps.length ? overlaps[i] : 0;
    if (lengths[i] - cout > cin) assemble.push({ file: names[i], from: cin, to: lengths[i] - cout, length: lengths[i] });
    if (cout > 0) {
      decode.push({ file: names[i], from: lengths[i] - cout, to: lengths[i], length: lengths[i] });
      decode.push({ file: names[i + 1], from: 0, to: cout, length: lengths[i + 1] });
      assemble.push({ file: fadesName, from: fadeAt, to: fadeAt + cout, length: fadeTotal });
      fadeStarts.push(fadeAt);
      fadeAt += cout;
    }
  }
  return { decode, assemble, fadeStarts, fadeTotal };
}

export async function stitchVideosCopying(opts: StitchOptions): Promise<CopyStitchResult> {
  validateStitch(opts);
  const { inputs, overlaps, width, height, fps, signal } = opts;
  const log = opts.log ?? { warn: (obj: object, msg: string) => console.warn(JSON.stringify({ level: 'warn', msg, ...obj })) };
  const streaming = async (reason: string): Promise<CopyStitchResult> => {
    log.warn({ reason, output: opts.outputPath }, 'stream-copy stitch not possible; re-encoding every frame (streaming stitch)');
    return { ...(await stitchVideos(opts)), mode: 'streaming' };
  };
  if (opts.lossless) return streaming('a lossless output was asked for');

  let probes: CopyProbe[];
  try {
    probes = await probeAll(inputs, signal);
  } catch (err) {
    if (signal?.aborted) throw new CancelledError(`stitch ${opts.outputPath}: aborted`);
    // An unreadable input fails the streaming stitch too, with its decoder's message.
    return streaming(`probe failed: ${(err as Error).message}`);
  }
  const why = whyNotCopyable(probes, overlaps, { width, height, fps });
  if (why) return streaming(why);
  probes.forEach((p, i) => {
    const cin = i > 0 ? overlaps[i - 1] : 0;
    const cout = i < overlaps.length ? overlaps[i] : 0;
    if (p.frames < cin + cout) {
      throw new ValidationError(`inputs[${i}]`, `${inputs[i]} has ${p.frames} frames, fewer than its overlaps need (${cin} with the previous + ${cout} with the next); lower the overlap or regenerate the segment`);
    }
  });

  // Links with plain names next to the output: the concat lists then hold only "safe" relative
  // paths, whatever characters the real paths contain.
  const work = await mkdtemp(path.join(path.dirname(path.resolve(opts.outputPath)), '.stitch-copy-'));
  try {
    const names = inputs.map((_, i) => `in${String(i).padStart(4, '0')}.mp4`);
    await Promise.all(inputs.map((f, i) => symlink(path.resolve(f), path.join(work, names[i]))));
    const lengths = probes.map((p) => p.frames);
    const plan = copyPlan(lengths, overlaps, names, 'fades.mp4');
    const expected = lengths.reduce((a, b) => a + b, 0) - overlaps.reduce((a, b) => a + b, 0);

    if (plan.fadeTotal > 0) {
      const fadesPath = path.join(work, 'fades.mp4');
      await encodeFades(opts, path.join(work, 'overlaps.ffconcat'), plan.decode, plan.fadeStarts, fadesPath);
      const fades = await probeForCopyFast(fadesPath, signal);
      if (fades.extradataHash !== probes[0].extradataHash || fades.profile !== probes[0].profile) {
        return await streaming(`the segments' codec headers differ from this encoder's (encoded with another crf/preset/x264?)`);
      }
    }
    const list = path.join(work, 'assemble.ffconcat');
    await writeFile(list, concatScript(plan.assemble, fps));
    const cmd = newCommand(list).inputFormat('concat').inputOptions(['-safe', '0', '-nostdin']);
    cmd.output(opts.outputPath).outputOptions(['-map', '0:v:0', '-c', 'copy', ...faststartFor(opts.outputPath)]);
    await runCommand(cmd, `assemble ${opts.outputPath}`, signal);
    const out = await probeForCopyFast(opts.outputPath, signal);
    if (out.frames !== expected) throw new MediaError(`stream-copy stitch wrote ${out.frames} frames, expected ${expected}`);
    opts.onProgress?.(inputs.length, inputs.length);
    return { frames: expected, mode: 'copy' };
  } catch (err) {
    await rm(opts.outputPath, { force: true }).catch(() => {});
    if (signal?.aborted && !(err instanceof CancelledError)) throw new CancelledError(`stitch ${opts.outputPath}: aborted`);
    if (err instanceof MediaError || err instanceof ValidationError || err instanceof CancelledError) throw err;
    throw new MediaError(`stitch ${opts.outputPath} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Two ffprobes at a time: each loads all of ffmpeg's libraries (tens of MB, ~0.1 s of CPU), so
 * thirty at once would spike the memory without finishing sooner on a few cores.
 */
async function probeAll(files: readonly string[], signal: AbortSignal | undefined): Promise<CopyProbe[]> {
  const out: CopyProbe[] = new Array(files.length);
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const i = next++;
      out[i] = await probeForCopyFast(files[i], signal);
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
}

/**
 * Decodes every overlap stretch in one pass (A tail, B head, next A tail, …), cross-fades each
 * join in one batch and encodes all joins into one file with an IDR at the start of each.
 * Holds two stretches at a time.
 */
async function encodeFades(opts: StitchOptions, listPath: string, decode: readonly Piece[], fadeStarts: number[], fadesPath: string): Promise<void> {
  const { width, height, fps, signal } = opts;
  await writeFile(listPath, concatScript(decode, fps));
  const fader = new Crossfader({ width, height, sharpAmt: opts.sharpAmt, modelPath: opts.crossfadeModelPath, log: opts.log });
  const encoder = openStitchEncoder(fadesPath, { width, height, fps, crf: opts.crf, keyframes: fadeStarts, queueFrames: pipeFrames(width, height, 8, 8), signal });
  // The decoder runs up to a 16-frame join ahead while a join is being cross-faded.
  const frames = decodeFrames(listPath, { width, height, readAhead: pipeFrames(width, height, 32, 24), signal })[Symbol.asyncIterator]();
  const take = async (n: number): Promise<Buffer[]> => {
    const got: Buffer[] = [];
    while (got.length < n) {
      const r = await frames.next();
      if (r.done) throw new MediaError(`decoding the overlaps ended early (${got.length} of ${n} frames of a stretch)`);
      got.push(r.value);
    }
    return got;
  };
  try {
    for (let j = 0; j < decode.length; j += 2) {
      const c = decode[j].to - decode[j].from;
      const a = await take(c);
      const b = await take(c);
      for (const f of await fader.join(a, b)) await encoder.write(f);
      opts.onProgress?.(Math.min(j / 2 + 1, opts.inputs.length - 1), opts.inputs.length);
    }
    const extra = await frames.next();
    if (!extra.done) throw new MediaError('decoding the overlaps gave more frames than the stretches hold');
    await encoder.close();
  } catch (err) {
    await frames.return(undefined).catch(() => {});
    encoder.abort();
    throw err;
  }
}
