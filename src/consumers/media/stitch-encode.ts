/**
 * The one H.264 recipe the stream-copy stitch relies on. Segments encoded with it (travel_segment)
 * and the cross-faded stretches the stitch encodes with it can be cut at their IDR frames and
 * concatenated with `-c copy`:
 * - `-bf 0`: decode order = display order, so a cut at frame k is a cut at packet k and the
 *   concat demuxer's in/out points (which compare decode timestamps) are exact;
 * - `stitchable=1`: x264 writes the same SPS/PPS whatever the content, so one avcC header is valid
 *   for every piece (checked anyway: the stitch compares extradata hashes before copying);
 * - `setsar=1`: a raw-pipe input and a file input would otherwise differ in the SPS's aspect info;
 * - IDR frames forced where each overlap begins and ends (`segmentKeyframes`).
 */
import { ValidationError } from '../../core/errors.ts';
import { faststartFor, newCommand, runCommand } from './ffmpeg-run.ts';
import { keyframeArgs, openRawEncoder, type VideoWriter } from './frames-io.ts';

export const STITCH_CRF = 23;

export function stitchX264Args(crf = STITCH_CRF): string[] {
  if (!Number.isFinite(crf) || crf < 0 || crf > 51) throw new ValidationError('crf', `must be within 0..51, got ${crf}`);
  return ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(crf), '-pix_fmt', 'yuv420p', '-bf', '0', '-x264-params', 'stitchable=1'];
}

/**
 * Frames of a segment that must be IDR frames so the stitch can copy its untouched middle and
 * decode just its overlaps: the first frame, the first frame after the overlap with the previous
 * segment, and the first frame of the overlap with the next one.
 */
export function segmentKeyframes(length: number, overlapPrev: number, overlapNext: number): number[] {
  for (const [field, v] of [['length', length], ['overlapPrev', overlapPrev], ['overlapNext', overlapNext]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new ValidationError(field, `must be an integer ≥ 0, got ${v}`);
  }
  if (overlapPrev + overlapNext > length) {
    throw new ValidationError('overlapPrev/overlapNext', `overlaps ${overlapPrev} + ${overlapNext} exceed the segment's ${length} frames; lower the overlap`);
  }
  const ks = new Set([0, overlapPrev, length - overlapNext]);
  return [...ks].filter((k) => k < length).sort((a, b) => a - b);
}

export interface StitchEncodeOptions {
  keyframes?: readonly number[];
  /** Frames queued for ffmpeg before write() waits (openStitchEncoder; default 1). */
  queueFrames?: number;
  crf?: number;
  signal?: AbortSignal;
}

/**
 * Re-encodes a whole file with the stitch recipe (what travel_segment publishes), optionally with
 * ffmpeg's eq=saturation in the same pass. Frame count and rate are kept as they are.
 */
export async function encodeForStitch(input: string, output: string, opts: StitchEncodeOptions & { saturation?: number | null } = {}): Promise<void> {
  const sat = opts.saturation;
  if (sat !== undefined && sat !== null && (typeof sat !== 'number' || !Number.isFinite(sat) || sat < 0 || sat > 3)) {
    throw new ValidationError('saturation', `must be a number within 0..3 (ffmpeg eq range; 1 keeps colours), got ${JSON.stringify(sat)}`);
  }
  const filters = [...(sat !== undefined && sat !== null ? [`eq=saturation=${sat}`] : []), 'setsar=1'];
  const cmd = newCommand(input).inputOptions(['-nostdin']);
  cmd.output(output).outputOptions(['-map', '0:v:0', '-an', '-sn', '-fps_mode', 'passthrough', '-vf', filters.join(','), ...stitchX264Args(opts.crf), ...keyframeArgs(opts.keyframes), ...faststartFor(output)]);
  await runCommand(cmd, `encode ${input} for the stitch`, opts.signal);
}

/** rgb24 frames → an mp4 with the stitch recipe (the cross-faded stretches). */
export function openStitchEncoder(file: string, o: StitchEncodeOptions & { width: number; height: number; fps: number }): VideoWriter {
  if (o.width % 2 !== 0 || o.height % 2 !== 0) throw new ValidationError('width/height', `yuv420p needs even dimensions, got ${o.width}x${o.height}`);
  return openRawEncoder(file, o, ['-vf', 'setsar=1', ...stitchX264Args(o.crf), ...keyframeArgs(o.keyframes), ...faststartFor(file)]);
}
