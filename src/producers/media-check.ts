import { execFile } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from '../core/errors.ts';

const execFileP = promisify(execFile);

/**
 * Input checks done before anything is queued: the file exists, is readable, and ffprobe agrees it
 * is an image (anchors, pose input) or a video (continue_from_video). The seed checked none of this
 * and let the worker fail (or silently skip a VACE ref) minutes later.
 */
export type MediaKind = 'image' | 'video';

export interface ProbeResult {
  kind: MediaKind | null;
  width: number | null;
  height: number | null;
  formatName: string;
}

/** Formats ffprobe reports for still images (`png_pipe`, `jpeg_pipe`, `webp_pipe`, …, or the image2 demuxer). */
export function isImageFormat(formatName: string): boolean {
  return formatName === 'image2' || formatName.endsWith('_pipe') || formatName === 'gif';
}

/** Classifies ffprobe JSON output (pure, so the rule is testable without files). */
export function classifyProbe(json: unknown): ProbeResult {
  const o = (json ?? {}) as { streams?: Array<{ codec_type?: string; width?: number; height?: number }>; format?: { format_name?: string } };
  // A stream without dimensions is one ffprobe guessed from the file name but could not decode (e.g. text named .png).
  const video = (o.streams ?? []).find((s) => s.codec_type === 'video' && (s.width ?? 0) > 0 && (s.height ?? 0) > 0);
  const formatName = o.format?.format_name ?? '';
  if (!video) return { kind: null, width: null, height: null, formatName };
  return { kind: isImageFormat(formatName) ? 'image' : 'video', width: video.width ?? null, height: video.height ?? null, formatName };
}

export async function probeMedia(file: string, timeoutMs = 30_000): Promise<ProbeResult | null> {
  try {
    const { stdout } = await execFileP(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=codec_type,width,height:format=format_name', '-of', 'json', file],
      { timeout: timeoutMs, maxBuffer: 1 << 20 },
    );
    return classifyProbe(JSON.parse(stdout));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('ffprobe is not installed or not on PATH; install ffmpeg (e.g. apt-get install ffmpeg)');
    }
    // ffprobe exits non-zero on data it cannot read: that is "not a media file", not a crash.
    return null;
  }
}

/** Resolves `file` against `cwd` and checks it; returns the absolute path. */
export async function checkInputFile(file: string, expected: MediaKind, field: string, cwd = process.cwd()): Promise<string> {
  const abs = await checkReadableFile(file, expected, field, cwd);
  await checkProbedKind(file, abs, expected, field);
  return abs;
}

/** ffprobe processes at once when many files are checked: enough to use the cores, few enough not to swamp them. */
const PROBE_CONCURRENCY = Math.max(2, Math.min(8, os.availableParallelism()));

/**
 * Checks many files for one flag, cheapest check first: every path is stat'ed before any is probed
 * (a missing 10,000th image is reported at once, not after 9,999 ffprobes), each distinct file is
 * probed once, and probes run a few at a time. Errors name the first bad file in the given order.
 * Returns the absolute paths in the given order.
 */
export async function checkInputFiles(files: readonly string[], expected: MediaKind, field: string, cwd = process.cwd()): Promise<string[]> {
  const abs: string[] = [];
  /** Distinct absolute path → the name the user gave it (for the message). */
  const distinct = new Map<string, string>();
  // Sequential on purpose: the first bad path in the user's order is the one the error names.
  for (const f of files) {
    const a = path.resolve(cwd, f);
    if (!distinct.has(a)) {
      await checkReadableFile(f, expected, field, cwd);
      distinct.set(a, f);
    }
    abs.push(a);
  }
  const toProbe = [...distinct];
  const failures: { index: number; err: unknown }[] = [];
  let next = 0;
  const lane = async () => {
    while (next < toProbe.length && failures.length === 0) {
      const i = next++;
      const [a, given] = toProbe[i]!;
      await checkProbedKind(given, a, expected, field).catch((err: unknown) => failures.push({ index: i, err }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, toProbe.length) }, lane));
  if (failures.length) throw failures.sort((x, y) => x.index - y.index)[0]!.err;
  return abs;
}

async function checkReadableFile(file: string, expected: MediaKind, field: string, cwd: string): Promise<string> {
  const abs = path.resolve(cwd, file);
  let st;
  try {
    st = await stat(abs);
  } catch {
    throw new ValidationError(field, `${file} does not exist (looked at ${abs}); check the path`);
  }
  if (!st.isFile()) throw new ValidationError(field, `${file} is not a regular file (${abs}); give an ${expected} file`);
  try {
    await access(abs, fsc.R_OK);
  } catch {
    throw new ValidationError(field, `${file} is not readable by this user (${abs}); fix its permissions`);
  }
  return abs;
}

async function checkProbedKind(file: string, abs: string, expected: MediaKind, field: string): Promise<void> {
  const probe = await probeMedia(abs);
  if (!probe || probe.kind === null) {
    throw new ValidationError(field, `${file} is not ${expected === 'image' ? 'an image' : 'a video'} ffprobe can read; give a ${expected === 'image' ? 'PNG/JPEG/WebP image' : 'video file such as an MP4'}`);
  }
  if (probe.kind !== expected) {
    throw new ValidationError(field, `${file} is ${probe.kind === 'image' ? 'an image' : 'a video'} (${probe.formatName}), but ${expected === 'image' ? 'an image' : 'a video'} is needed here`);
  }
}
