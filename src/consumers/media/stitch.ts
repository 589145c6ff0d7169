/**
 * The streaming stitch (spec 02 §4.3, issue 5): segments are decoded one after another into ONE
 * encoder. Only the frames a join needs are ever held: the last O_j frames of video j (kept in a
 * ring while it decodes) until the first O_j frames of video j+1 arrive to cross-fade with them.
 * Memory is therefore bounded by the overlap, never by the number or length of segments.
 *
 * Each video's length is discovered while decoding it, so no probe pass is needed; a video too
 * short for its overlaps fails the stitch with a message naming it.
 */
import { rm } from 'node:fs/promises';
import { CancelledError, MediaError, ValidationError } from '../../core/errors.ts';
import { decodeFrames, writeVideo } from './frames-io.ts';
import { Crossfader, type WarnLog } from './crossfade-onnx.ts';

export interface StitchOptions {
  inputs: string[];
  /** overlaps[j] = frames shared by inputs[j] and inputs[j+1]; 0 is a hard cut. */
  overlaps: number[];
  /** crossfade_sharp_amt: unsharp amount at full cross-fade weight; ≤ 0 disables sharpening. */
  sharpAmt: number;
  width: number;
  height: number;
  fps: number;
  outputPath: string;
  crf?: number;
  /** Encode libx264rgb -qp 0 (bit-exact frames; for intermediates and tests) instead of yuv420p. */
  lossless?: boolean;
  signal?: AbortSignal;
  /** Called after each input is consumed: (inputs done, inputs total). */
  onProgress?: (done: number, total: number) => void;
  /** Where a fallback (no ONNX cross-fade model, no stream copy) is reported; default stderr. */
  log?: WarnLog;
  /** The cross-fade model; default <repo>/models/crossfade.onnx. */
  crossfadeModelPath?: string;
}

/**
 * Frames buffered between an ffmpeg process and node: `want` frames, but no more than `budgetMB`
 * of them, so a 1080p stitch does not buffer seven times what a 360p one does.
 */
export function pipeFrames(width: number, height: number, want: number, budgetMB: number): number {
  return Math.max(1, Math.min(want, Math.floor((budgetMB * 2 ** 20) / (width * height * 3))));
}

export function validateStitch(opts: StitchOptions): void {
  if (!Array.isArray(opts.inputs) || opts.inputs.length === 0) throw new ValidationError('inputs', 'need at least one video path to stitch');
  if (!Array.isArray(opts.overlaps) || opts.overlaps.length !== opts.inputs.length - 1) {
    throw new ValidationError('overlaps', `need one overlap per join: ${opts.inputs.length - 1} for ${opts.inputs.length} videos, got ${Array.isArray(opts.overlaps) ? opts.overlaps.length : typeof opts.overlaps}`);
  }
  opts.overlaps.forEach((o, j) => {
    if (!Number.isInteger(o) || o < 0) throw new ValidationError(`overlaps[${j}]`, `must be an integer ≥ 0, got ${o}`);
  });
  if (typeof opts.sharpAmt !== 'number' || !Number.isFinite(opts.sharpAmt)) {
    throw new ValidationError('sharpAmt', `must be a number (crossfade_sharp_amt, default 0.3), got ${JSON.stringify(opts.sharpAmt)}`);
  }
}

export async function stitchVideos(opts: StitchOptions): Promise<{ frames: number }> {
  validateStitch(opts);
  const { inputs, overlaps, width, height, signal } = opts;
  // Slack on both sides of node: while a join is cross-faded (a burst of work off the event loop)
  // the encoder still has frames to encode and the decoder room to decode into. Bounded, so the
  // memory stays flat in the number of segments.
  const slack = pipeFrames(width, height, 8, 8);
  const writer = writeVideo(opts.outputPath, { width, height, fps: opts.fps, crf: opts.crf, lossless: opts.lossless, queueFrames: slack, signal });
  const fader = new Crossfader({ width, height, sharpAmt: opts.sharpAmt, modelPath: opts.crossfadeModelPath, log: opts.log });
  let held: Buffer[] = [];
  // The next input's decoder is started while the current one is consumed, so ffmpeg's start-up
  // (and the first frames) overlap with work instead of stalling the encoder at every join. At most
  // two decoders exist at once, whatever the number of inputs.
  const open = (i: number) => {
    const it = decodeFrames(inputs[i], { width, height, readAhead: slack, signal })[Symbol.asyncIterator]();
    const first = it.next();
    first.catch(() => {});
    return { it, first };
  };
  let next: ReturnType<typeof open> | null = open(0);
  let cur: ReturnType<typeof open> | null = null;
  try {
    for (let i = 0; i < inputs.length; i++) {
      cur = next!;
      next = i + 1 < inputs.length ? open(i + 1) : null;
      const cin = i > 0 ? overlaps[i - 1] : 0;
      const cout = i < overlaps.length ? overlaps[i] : 0;
      const ring: Buffer[] = [];
      const head: Buffer[] = [];
      let n = 0;
      for (let r = await cur.first; !r.done; r = await cur.it.next()) {
        const frame = r.value;
        if (n < cin) {
          // The whole join is blended in one batch once its last frame pair is here.
          head.push(frame);
          if (head.length === cin) for (const f of await fader.join(held, head)) await writer.write(f);
        } else {
          ring.push(frame);
          if (ring.length > cout) await writer.write(ring.shift()!);
        }
        n++;
      }
      if (n < cin + cout) {
        throw new ValidationError(
          `inputs[${i}]`,
          `${inputs[i]} has ${n} frames, fewer than its overlaps need (${cin} with the previous + ${cout} with the next); lower the overlap or regenerate the segment`,
        );
      }
      held = ring;
      opts.onProgress?.(i + 1, inputs.length);
    }
    await writer.close();
    return { frames: writer.framesWritten };
  } catch (err) {
    // Stop the decoders still open; their ffmpeg would otherwise wait on a full pipe forever.
    for (const d of [cur, next]) if (d) await d.it.return(undefined).catch(() => {});
    writer.abort();
    // A half-written file must not be mistaken for a result by a retry or a cleanup pass.
    await rm(opts.outputPath, { force: true }).catch(() => {});
    if (signal?.aborted && !(err instanceof CancelledError)) throw new CancelledError(`stitch ${opts.outputPath}: aborted`);
    if (err instanceof MediaError || err instanceof ValidationError || err instanceof CancelledError) throw err;
    throw new MediaError(`stitch ${opts.outputPath} failed: ${(err as Error).message}`, { cause: err });
  }
}

