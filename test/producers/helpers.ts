import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { run } from '../../src/producers/cli/steerable-motion.ts';

const execFileP = promisify(execFile);

export const REDIS_URL = process.env.SMQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Nothing listens here: the "Redis is down" case. */
export const DEAD_REDIS_URL = 'redis://127.0.0.1:6390';

export function testPrefix(): string {
  return `{smqt-${randomBytes(6).toString('hex')}}`;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'smq-prod-'));
}

/** A real still image made by ffmpeg (the README used ImageMagick's `convert`). */
export async function makeImage(file: string, color = 'red', size = '320x240'): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await execFileP('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=${color}:s=${size}`, '-frames:v', '1', file]);
  return file;
}

export async function makeVideo(file: string, frames = 5): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await execFileP('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=s=64x48:r=25', '-frames:v', String(frames), '-pix_fmt', 'yuv420p', file]);
  return file;
}

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the steerable-motion CLI in-process (argv as a shell would split it). */
export async function cli(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await run(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: opts.env, cwd: opts.cwd, isTTY: false, signal: opts.signal });
  return { code, out, err };
}

/** Deletes every key under a test prefix (queues, jobs, smq's own sets). */
export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function until<T>(fn: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
