import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { MediaError } from '../core/errors.ts';

/** The seed README's sample anchors: plain red, green and blue 320×240 PNGs (it used ImageMagick; we use ffmpeg). */
export const SAMPLE_COLOURS = ['red', 'green', 'blue'] as const;

export function solidPng(colour: string, size: string, outPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${colour}:s=${size}`, '-frames:v', '1', outPath];
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new MediaError(`ffmpeg could not be started (${e.message}); install ffmpeg (apt-get install ffmpeg)`)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new MediaError(`ffmpeg failed to write ${outPath}: ${err.trim()}`))));
  });
}

export async function writeSampleImages(dir: string, size = '320x240'): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths = SAMPLE_COLOURS.map((c, i) => path.join(dir, `image_${i + 1}.png`));
  await Promise.all(SAMPLE_COLOURS.map((c, i) => solidPng(c, size, paths[i]!)));
  return paths;
}
