import { execFile } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { MediaError, ValidationError } from '../core/errors.ts';
import { checkInputFile } from './media-check.ts';
import { isFullStrength, type VaceRefPlan } from './travel-payload.ts';

const execFileP = promisify(execFile);

/** The seed's download timeout for `--continue_from_video` URLs. */
export const CONTINUE_DOWNLOAD_TIMEOUT_MS = 300_000;

function uniquePath(dir: string, base: string, ext: string): string {
  let p = path.join(dir, `${base}${ext}`);
  for (let k = 1; existsSync(p); k++) p = path.join(dir, `${base}_${k}${ext}`);
  return p;
}

function failLoad(source: string, why: string): never {
  // The seed's sentence, then the reason it never gave.
  throw new MediaError(`Error: Could not load or download video from ${source}. Cannot proceed with orchestrator task. (${why})`);
}

/**
 * Brings `--continue_from_video` into the run's log folder as `continued_video_input<ext>` (spec 01
 * §2.2 step 5): http(s) URLs are downloaded (the extension from the URL path, default .mp4), local
 * files are copied. Either way the result must be a video ffprobe can read. Returns the absolute path.
 */
export async function bringContinueVideo(source: string, logFolder: string, opts: { timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  const field = '--continue_from_video';
  if (/^https?:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new ValidationError(field, `${source} is not a valid URL; give an http(s) URL or a local path`);
    }
    const ext = path.extname(url.pathname) || '.mp4';
    const dest = uniquePath(logFolder, 'continued_video_input', ext);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? CONTINUE_DOWNLOAD_TIMEOUT_MS) });
      if (!res.ok || !res.body) failLoad(source, `HTTP ${res.status}`);
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(dest));
    } catch (err) {
      await rm(dest, { force: true });
      if (err instanceof MediaError) throw err;
      failLoad(source, err instanceof Error ? err.message : String(err));
    }
    try {
      return await checkInputFile(dest, 'video', field);
    } catch (err) {
      await rm(dest, { force: true });
      failLoad(source, err instanceof Error ? err.message : String(err));
    }
  }
  const abs = await checkInputFile(source, 'video', field, opts.cwd);
  const dest = uniquePath(logFolder, 'continued_video_input', path.extname(abs) || '.mp4');
  await copyFile(abs, dest);
  return dest;
}

/**
 * Writes the VACE reference files the plan names. Full strength is a plain copy; a weaker anchor is
 * blended towards mid-gray by its strength (out = s·in + (1−s)·128 per channel), so the model treats
 * it as a softer hint. Done here, at enqueue time, because the files live in the run's log folder,
 * which the seed's client owned too.
 */
export async function prepareVaceRefs(plans: readonly VaceRefPlan[]): Promise<void> {
  for (const p of plans) {
    if (isFullStrength(p.strength)) {
      await copyFile(p.original_path, p.processed_path);
      continue;
    }
    const s = p.strength.toFixed(4);
    const expr = `val*${s}+128*(1-${s})`;
    try {
      await execFileP('ffmpeg', ['-v', 'error', '-y', '-i', p.original_path, '-vf', `lutrgb=r='${expr}':g='${expr}':b='${expr}'`, '-frames:v', '1', '-update', '1', p.processed_path], {
        timeout: 60_000,
      });
    } catch (err) {
      throw new MediaError(`could not prepare the VACE reference ${p.processed_path} from ${p.original_path}: ${(err as Error).message}`, { cause: err });
    }
  }
}
