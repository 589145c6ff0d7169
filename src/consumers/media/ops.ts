/**
 * Whole-file media operations (spec 02 §6): saturation, scaling, one frame out, concat. Each is
 * one ffmpeg child process through fluent-ffmpeg, killed if the signal aborts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ValidationError } from '../../core/errors.ts';
import { faststartFor, newCommand, runCommand } from './ffmpeg-run.ts';
import { probeVideo } from './frames-io.ts';

const H264_OUT = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p'];

/** Re-encode with ffmpeg's eq=saturation=s (1 = unchanged, 0 = grayscale), audio dropped. */
export async function adjustSaturation(input: string, output: string, s: number, signal?: AbortSignal): Promise<void> {
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s > 3) {
    throw new ValidationError('saturation', `must be a number within 0..3 (ffmpeg eq range; 1 keeps colours), got ${JSON.stringify(s)}`);
  }
  const cmd = newCommand(input).inputOptions(['-nostdin']);
  cmd.output(output).outputOptions(['-vf', `eq=saturation=${s}`, '-an', ...H264_OUT, ...faststartFor(output)]);
  await runCommand(cmd, `saturation ${input}`, signal);
}

export async function scaleVideo(input: string, output: string, width: number, height: number, signal?: AbortSignal): Promise<void> {
  for (const [field, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v <= 0 || v % 2 !== 0) throw new ValidationError(field, `must be a positive even integer (yuv420p output), got ${v}`);
  }
  const cmd = newCommand(input).inputOptions(['-nostdin']);
  cmd.output(output).outputOptions(['-vf', `scale=${width}:${height}:flags=lanczos`, '-an', ...H264_OUT, ...faststartFor(output)]);
  await runCommand(cmd, `scale ${input}`, signal);
}

/** Frame `index` as PNG; an index past the end takes the last frame (callers ask for "the last one" loosely). */
export async function extractFrame(input: string, index: number, outputPng: string, signal?: AbortSignal): Promise<number> {
  if (!Number.isInteger(index) || index < 0) throw new ValidationError('index', `must be an integer frame index ≥ 0, got ${index}`);
  const { frames } = await probeVideo(input, signal);
  if (frames === 0) throw new ValidationError('input', `${input} has no frames to extract`);
  const at = Math.min(index, frames - 1);
  const cmd = newCommand(input).inputOptions(['-nostdin']);
  cmd.output(outputPng).outputOptions(['-vf', `trim=start_frame=${at}`, '-frames:v', '1', '-c:v', 'png', '-f', 'image2', '-update', '1']);
  await runCommand(cmd, `extract frame ${at} of ${input}`, signal);
  return at;
}

function concatLine(file: string): string {
  // The concat demuxer's quoting: single quotes, with ' written as '\''.
  return `file '${path.resolve(file).replace(/'/g, "'\\''")}'`;
}

/** Stream-copy concat (concat demuxer): inputs must share codec, size and timebase. */
export async function concatVideos(inputs: string[], output: string, signal?: AbortSignal): Promise<void> {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new ValidationError('inputs', 'need at least one video to concatenate');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-concat-'));
  try {
    const list = path.join(dir, 'list.txt');
    await writeFile(list, inputs.map(concatLine).join('\n') + '\n');
    const cmd = newCommand(list).inputFormat('concat').inputOptions(['-safe', '0', '-nostdin']);
    cmd.output(output).outputOptions(['-c', 'copy', ...faststartFor(output)]);
    await runCommand(cmd, `concat ${inputs.length} videos`, signal);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
