/** Shared fixtures for the media tests: temp dirs and deterministic synthetic frames. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-media-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic noise (an LCG seeded per frame) so cross-fades and sharpening have texture to act on. */
export function noiseFrame(width: number, height: number, seed: number): Buffer {
  const f = Buffer.allocUnsafe(width * height * 3);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < f.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[i] = s >>> 24;
  }
  return f;
}

export function gradientFrame(width: number, height: number, shift: number): Buffer {
  const f = Buffer.allocUnsafe(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      f[i] = (x * 8 + shift) & 255;
      f[i + 1] = (y * 8 + shift) & 255;
      f[i + 2] = (x + y + shift) & 255;
    }
  }
  return f;
}

export function maxAbsDiff(a: Uint8Array, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
