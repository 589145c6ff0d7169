/**
 * Stitch benchmark (issue 8): smq's streaming stitch and its stream-copy stitch vs the floor (one
 * ffmpeg decode→encode of the same final frames) vs the seed's shape (every frame of every segment
 * in RAM, blended, re-encoded), side by side in one run. The copy stitch gets segments encoded the
 * way travel_segment publishes them (the stitch recipe, IDRs at the overlaps); the others get
 * plain libx264 segments, as any engine's output. Peak RSS covers the process tree: node's own RSS sampled, plus the
 * VmHWM of each ffmpeg child alive at the sample.
 *
 * Standalone: `node --import tsx bench/stitch.ts [--segments 10,30] [--size 640x360] [--frames 81] [--overlap 16] [--rounds 3]`.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFrames, writeVideo } from '../src/consumers/media/frames-io.ts';
import { newCommand, runCommand } from '../src/consumers/media/ffmpeg-run.ts';
import { crossfadeAlpha } from '../src/consumers/media/frame-math.ts';
import { CrossfadeScratch, crossfadeFrame } from '../src/consumers/media/frame-ops.ts';
import { stitchVideos } from '../src/consumers/media/stitch.ts';
import { stitchVideosCopying } from '../src/consumers/media/stitch-copy.ts';
import { openStitchEncoder, segmentKeyframes } from '../src/consumers/media/stitch-encode.ts';

export interface StitchBenchOptions {
  segments: number[];
  width: number;
  height: number;
  frames: number;
  overlap: number;
  workDir: string;
  /**
   * Timed runs of each of streaming, copy and floor, interleaved (default 1; the CLI's 3); the table shows the
   * median time and the largest peak. On a shared machine the load drifts between runs, and
   * interleaving exposes the three to the same drift. The seed's shape runs once (it is slow).
   */
  rounds?: number;
}

export interface StitchBenchRow {
  name: string;
  segments: number;
  seconds: number;
  peakRssMB: number;
}

const SHARP = 0.3;
const FPS = 25;

async function childPids(): Promise<number[]> {
  // /proc/<pid>/task/<tid>/children lists direct children per thread; node spawns from several.
  const out: number[] = [];
  try {
    for (const tid of await readdir(`/proc/${process.pid}/task`)) {
      const text = await readFile(`/proc/${process.pid}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const p of text.trim().split(/\s+/)) if (p) out.push(Number(p));
    }
  } catch {
    // Not Linux: children are not counted.
  }
  return out;
}

async function vmHwmBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Runs `fn`, sampling node RSS + children's VmHWM every 25 ms; returns seconds and peak MB. */
async function measure(fn: () => Promise<unknown>): Promise<{ seconds: number; peakRssMB: number }> {
  let peak = 0;
  let sampling = false;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    try {
      let total = process.memoryUsage().rss;
      for (const pid of await childPids()) total += await vmHwmBytes(pid);
      peak = Math.max(peak, total);
    } finally {
      sampling = false;
    }
  };
  const timer = setInterval(() => void sample(), 25);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  await sample();
  return { seconds, peakRssMB: Math.round(peak / 2 ** 20) };
}

/** A moving pattern per segment, so x264 has real motion to encode. */
function patternFrame(width: number, height: number, seg: number, t: number): Buffer {
  const f = Buffer.allocUnsafe(width * height * 3);
  const cx = (t * 7 + seg * 50) % width;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const d = Math.abs(x - cx) + Math.abs(y - height / 2);
      f[i] = (x + seg * 40 + t * 3) & 255;
      f[i + 1] = (y * 2 + t) & 255;
      f[i + 2] = d < 40 ? 255 : (seg * 60 + ((x ^ y) & 31)) & 255;
    }
  }
  return f;
}

async function makeSegments(opts: StitchBenchOptions, count: number, recipe: boolean): Promise<string[]> {
  const dir = path.join(opts.workDir, recipe ? 'segments-recipe' : 'segments');
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (let s = 0; s < count; s++) {
    const file = path.join(dir, `seg${String(s).padStart(3, '0')}.mp4`);
    const size = { width: opts.width, height: opts.height, fps: FPS };
    const w = recipe
      ? openStitchEncoder(file, { ...size, keyframes: segmentKeyframes(opts.frames, s > 0 ? opts.overlap : 0, s < count - 1 ? opts.overlap : 0) })
      : writeVideo(file, size);
    for (let t = 0; t < opts.frames; t++) await w.write(patternFrame(opts.width, opts.height, s, t));
    await w.close();
    files.push(file);
  }
  return files;
}

/** The seed's shape: every frame of every segment decoded into RAM, blended, then encoded. */
async function seedStitch(inputs: string[], overlap: number, width: number, height: number, outputPath: string): Promise<void> {
  const videos: Buffer[][] = [];
  for (const f of inputs) videos.push(await readFrames(f, { width, height }));
  const scratch = new CrossfadeScratch(width, height);
  const out: Buffer[] = [...videos[0].slice(0, videos[0].length - overlap)];
  for (let j = 0; j + 1 < videos.length; j++) {
    const a = videos[j];
    const b = videos[j + 1];
    for (let k = 0; k < overlap; k++) out.push(crossfadeFrame(a[a.length - overlap + k], b[k], crossfadeAlpha(k, overlap), SHARP, scratch));
    out.push(...b.slice(overlap, j + 2 < videos.length ? b.length - overlap : b.length));
  }
  const w = writeVideo(outputPath, { width, height, fps: FPS });
  for (const f of out) await w.write(f);
  await w.close();
}

/** The floor: one ffmpeg process decoding and re-encoding the same final frames. */
async function plainReencode(input: string, output: string): Promise<void> {
  const cmd = newCommand(input).inputOptions(['-nostdin']);
  cmd.output(output).outputOptions(['-an', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p']);
  await runCommand(cmd, 'plain re-encode');
}

type Approach = 'smq' | 'copy' | 'floor' | 'seed';
const APPROACH_NAMES: Record<Approach, string> = {
  smq: 'smq stitch (streaming)',
  copy: 'smq stitch (copy untouched)',
  floor: 'floor (plain re-encode)',
  seed: 'seed (all frames in RAM)',
};

interface OneRun {
  approach: Approach;
  n: number;
  inputs: string[];
  overlap: number;
  width: number;
  height: number;
  outputPath: string;
  /** For the floor: the stitched file whose frames it re-encodes. */
  source?: string;
}

/** The copy stitch, refusing to time its fallback under the copy row's name. */
async function copyStitch(o: Parameters<typeof stitchVideosCopying>[0]): Promise<void> {
  const reasons: string[] = [];
  const r = await stitchVideosCopying({ ...o, log: { warn: (obj) => void reasons.push(String((obj as { reason?: unknown }).reason)) } });
  if (r.mode !== 'copy') throw new Error(`the copy stitch fell back to streaming: ${reasons.join('; ')}`);
}

async function runOne(r: OneRun): Promise<{ seconds: number; peakRssMB: number }> {
  const base = { overlaps: Array<number>(r.n - 1).fill(r.overlap), sharpAmt: SHARP, width: r.width, height: r.height, fps: FPS };
  switch (r.approach) {
    case 'smq':
      return measure(() => stitchVideos({ ...base, inputs: r.inputs, outputPath: r.outputPath }));
    case 'copy':
      return measure(() => copyStitch({ ...base, inputs: r.inputs, outputPath: r.outputPath }));
    case 'floor':
      return measure(() => plainReencode(r.source!, r.outputPath));
    case 'seed':
      return measure(() => seedStitch(r.inputs, r.overlap, r.width, r.height, r.outputPath));
  }
}

/**
 * Each measurement runs in a fresh node process: RSS a process has once reached is not given back
 * reliably (the allocator keeps it), so a run measured after the seed's would inherit its peak.
 */
async function runIsolated(r: OneRun): Promise<{ seconds: number; peakRssMB: number }> {
  const { execFile } = await import('node:child_process');
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', self, '--one', JSON.stringify(r)], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${APPROACH_NAMES[r.approach]} (${r.n} segments) failed: ${stderr || err.message}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`bench child printed no result: ${stdout} ${stderr}`));
      }
    });
  });
}

export async function benchStitch(opts: StitchBenchOptions): Promise<StitchBenchRow[]> {
  const { width, height, overlap } = opts;
  const maxSegs = Math.max(...opts.segments);
  await mkdir(opts.workDir, { recursive: true });
  const all = await makeSegments(opts, maxSegs, false);
  const rows: StitchBenchRow[] = [];
  for (const n of opts.segments) {
    const common = { n, overlap, width, height };
    const smqOut = path.join(opts.workDir, `smq-${n}.mp4`);
    const plan: OneRun[] = [{ ...common, approach: 'smq', inputs: all.slice(0, n), outputPath: smqOut }];
    // Recipe segments per size: the last one has no overlap with a next, so it ends without that IDR.
    const recipe = await makeSegments({ ...opts, workDir: path.join(opts.workDir, `n${n}`) }, n, true);
    plan.push({ ...common, approach: 'copy', inputs: recipe, outputPath: path.join(opts.workDir, `copy-${n}.mp4`) });
    plan.push({ ...common, approach: 'floor', inputs: [], source: smqOut, outputPath: path.join(opts.workDir, `floor-${n}.mp4`) });
    plan.push({ ...common, approach: 'seed', inputs: all.slice(0, n), outputPath: path.join(opts.workDir, `seed-${n}.mp4`) });
    const rounds = Math.max(1, Math.floor(opts.rounds ?? 1));
    const results = new Map<Approach, { seconds: number; peakRssMB: number }[]>();
    for (let round = 0; round < rounds; round++) {
      for (const r of plan) {
        if (r.approach === 'seed' && round > 0) continue;
        const got = await runIsolated(r);
        results.set(r.approach, [...(results.get(r.approach) ?? []), got]);
      }
    }
    for (const r of plan) {
      const runs = results.get(r.approach)!;
      const times = runs.map((x) => x.seconds).sort((a, b) => a - b);
      rows.push({ name: APPROACH_NAMES[r.approach], segments: n, seconds: times[(times.length - 1) >> 1], peakRssMB: Math.max(...runs.map((x) => x.peakRssMB)) });
    }
  }
  return rows;
}

export function formatStitchTable(rows: StitchBenchRow[]): string {
  const lines = ['approach                      segs   seconds   peak RSS MB'];
  for (const r of rows) lines.push(`${r.name.padEnd(30)}${String(r.segments).padStart(4)}${r.seconds.toFixed(2).padStart(10)}${String(r.peakRssMB).padStart(14)}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const arg = (name: string, d: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : d;
  };
  const one = arg('one', '');
  if (one) {
    console.log(JSON.stringify(await runOne(JSON.parse(one) as OneRun)));
    return;
  }
  const [width, height] = arg('size', '640x360').split('x').map(Number);
  const workDir = path.join(os.tmpdir(), `smq-bench-stitch-${process.pid}`);
  try {
    const rows = await benchStitch({
      segments: arg('segments', '10,30').split(',').map(Number),
      width,
      height,
      frames: Number(arg('frames', '81')),
      overlap: Number(arg('overlap', '16')),
      rounds: Number(arg('rounds', '3')),
      workDir,
    });
    console.log(formatStitchTable(rows));
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
