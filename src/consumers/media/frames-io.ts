/**
 * Frames in and out of ffmpeg. A frame is a raw rgb24 Buffer of width*height*3 bytes, row-major,
 * no padding. Every call runs ffmpeg/ffprobe as a child process through fluent-ffmpeg (so the
 * event loop stays free while it works) and accepts an AbortSignal that kills that child.
 */
import { PassThrough, Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { CancelledError, MediaError, ValidationError } from '../../core/errors.ts';
import { faststartFor, newCommand, startCommand, runCommand, throwIfAborted } from './ffmpeg-run.ts';

export interface VideoInfo {
  frames: number;
  fps: number;
  width: number;
  height: number;
  durationSec: number;
  codec: string;
}

export interface DecodeOptions {
  /** Scale to width×height (area filter, as the seed's downscales). Give both or neither. */
  width?: number;
  height?: number;
  /** First frame index to emit (0-based). */
  start?: number;
  /** Emit at most this many frames. */
  count?: number;
  /** Emit only the last n frames (cannot be combined with start/count). */
  last?: number;
  /** Decoded frames ffmpeg may run ahead of the consumer (default 1): a consumer that works in bursts (a cross-fade) keeps the decoder busy meanwhile. */
  readAhead?: number;
  signal?: AbortSignal;
}

export interface WriteVideoOptions {
  width: number;
  height: number;
  fps: number;
  /** libx264rgb -qp 0: a bit-exact rgb24 round trip (for intermediates that are decoded again). */
  lossless?: boolean;
  /** Quality for the lossy yuv420p encode; default 23. */
  crf?: number;
  /** Frame indices to force as IDR frames (so a later stitch can cut there without re-encoding). */
  keyframes?: number[];
  /** Frames queued for ffmpeg before write() waits (default 1): lets the encoder keep working while the producer is busy. */
  queueFrames?: number;
  signal?: AbortSignal;
}

export interface VideoWriter {
  /** Queue one frame; resolves once ffmpeg can take more (backpressure), rejects if ffmpeg failed. */
  write(frame: Buffer): Promise<void>;
  /** Finish the file; resolves when ffmpeg exited 0, rejects with its stderr tail otherwise. */
  close(): Promise<void>;
  /** Kill ffmpeg and abandon the file. */
  abort(): void;
  /** Frames accepted so far. */
  readonly framesWritten: number;
}

function ffprobeData(file: string, options: string[], signal?: AbortSignal): Promise<ffmpeg.FfprobeData> {
  throwIfAborted(signal, `probe ${file}`);
  return new Promise((resolve, reject) => {
    // fluent-ffmpeg does not expose the ffprobe child, so an abort settles the promise at once and
    // the (read-only) probe is left to finish on its own.
    const onAbort = () => reject(new CancelledError(`probe ${file}: aborted`));
    signal?.addEventListener('abort', onAbort, { once: true });
    ffmpeg.ffprobe(file, options, (err, data) => {
      signal?.removeEventListener('abort', onAbort);
      // ffprobe's message starts with its banner; the cause is the last line.
      const last = String(err?.message ?? err).trim().split('\n').pop();
      if (err) reject(new MediaError(`ffprobe ${file} failed: ${last}`, { cause: err }));
      else resolve(data);
    });
  });
}

function parseRate(rate: string | undefined): number {
  if (!rate) return NaN;
  const [num, den] = rate.split('/').map(Number);
  if (den === undefined) return num;
  return den === 0 ? NaN : num / den;
}

function firstVideoStream(data: ffmpeg.FfprobeData, file: string): ffmpeg.FfprobeStream {
  const stream = data.streams.find((s) => s.codec_type === 'video');
  if (!stream) throw new MediaError(`${file} has no video stream`);
  return stream;
}

/** Width, height, codec and rate without decoding (cheap). */
async function probeStreamHeader(file: string, signal?: AbortSignal) {
  const data = await ffprobeData(file, ['-select_streams', 'v:0'], signal);
  const s = firstVideoStream(data, file);
  return { width: Number(s.width), height: Number(s.height), stream: s, format: data.format };
}

/** Exact frame count: ffprobe decodes the stream (`-count_frames`) instead of trusting headers. */
export async function probeVideo(file: string, signal?: AbortSignal): Promise<VideoInfo> {
  const data = await ffprobeData(file, ['-count_frames', '-select_streams', 'v:0'], signal);
  const s = firstVideoStream(data, file);
  const frames = Number(s.nb_read_frames);
  if (!Number.isInteger(frames)) throw new MediaError(`ffprobe could not count the frames of ${file} (nb_read_frames=${String(s.nb_read_frames)})`);
  let fps = parseRate(s.r_frame_rate);
  if (!Number.isFinite(fps) || fps <= 0) fps = parseRate(s.avg_frame_rate);
  const duration = Number(data.format.duration ?? s.duration);
  return {
    frames,
    fps,
    width: Number(s.width),
    height: Number(s.height),
    durationSec: Number.isFinite(duration) ? duration : frames / fps,
    codec: String(s.codec_name ?? ''),
  };
}

function checkDim(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ValidationError(field, `must be a positive integer number of pixels, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkCount(field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ValidationError(field, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

interface DecodePlan {
  width: number;
  height: number;
  filters: string[];
  count?: number;
  last?: number;
  readAhead: number;
}

async function planDecode(file: string, opts: DecodeOptions, scaleFlags: string): Promise<DecodePlan> {
  if ((opts.width === undefined) !== (opts.height === undefined)) {
    throw new ValidationError(opts.width === undefined ? 'width' : 'height', 'give both width and height to scale, or neither to keep the source size');
  }
  if (opts.last !== undefined && (opts.start !== undefined || opts.count !== undefined)) {
    throw new ValidationError('last', 'cannot be combined with start/count; use one way of selecting frames');
  }
  const start = opts.start === undefined ? 0 : checkCount('start', opts.start, 0);
  const count = opts.count === undefined ? undefined : checkCount('count', opts.count, 0);
  const last = opts.last === undefined ? undefined : checkCount('last', opts.last, 0);
  const filters: string[] = [];
  if (start > 0) filters.push(`trim=start_frame=${start}`);
  let width: number;
  let height: number;
  if (opts.width !== undefined) {
    width = checkDim('width', opts.width);
    height = checkDim('height', opts.height);
    // Converting to RGB before scaling keeps the resample in RGB space, as PIL's convert+resize does.
    filters.push('format=rgb24', `scale=${width}:${height}:flags=${scaleFlags}`);
  } else {
    const h = await probeStreamHeader(file, opts.signal);
    width = h.width;
    height = h.height;
  }
  const readAhead = opts.readAhead === undefined ? 1 : checkCount('readAhead', opts.readAhead, 1);
  return { width, height, filters, count, last, readAhead };
}

async function* decodeWithPlan(file: string, plan: DecodePlan, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const what = `decode ${file}`;
  throwIfAborted(signal, what);
  if (plan.count === 0 || plan.last === 0) return;
  const frameSize = plan.width * plan.height * 3;
  const cmd = newCommand(file);
  const inputOpts = ['-nostdin'];
  // A '%' in an image path would otherwise be read as an image-sequence pattern.
  if (file.includes('%') && /\.(png|jpe?g|bmp|tiff?|webp)$/i.test(file)) inputOpts.push('-f', 'image2', '-pattern_type', 'none');
  cmd.inputOptions(inputOpts);
  // emitClose:false — fluent-ffmpeg treats the target's 'close' as "reader gone" and reports an
  // error if ffmpeg has not exited within 20 ms, which races on a loaded machine.
  const out = new PassThrough({ highWaterMark: frameSize * plan.readAhead, emitClose: false, autoDestroy: false });
  const outOpts = ['-map', '0:v:0', '-an', '-sn', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24'];
  if (plan.filters.length) outOpts.push('-vf', plan.filters.join(','));
  if (plan.count !== undefined) outOpts.push('-frames:v', String(plan.count));
  cmd.output(out, { end: true }).outputOptions(outOpts);
  const running = startCommand(cmd, what, signal);
  let finished = false;
  try {
    const ring: Buffer[] = [];
    let cur = Buffer.allocUnsafe(frameSize);
    let filled = 0;
    for await (const chunk of out as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(frameSize - filled, chunk.length - off);
        chunk.copy(cur, filled, off, off + n);
        filled += n;
        off += n;
        if (filled === frameSize) {
          const frame = cur;
          cur = Buffer.allocUnsafe(frameSize);
          filled = 0;
          if (plan.last !== undefined) {
            ring.push(frame);
            if (ring.length > plan.last) ring.shift();
          } else {
            yield frame;
          }
        }
      }
    }
    await running.done;
    if (filled !== 0) throw new MediaError(`${what}: ffmpeg produced a partial frame (${filled} of ${frameSize} bytes)`);
    finished = true;
    for (const f of ring) yield f;
  } finally {
    if (!finished) {
      running.kill('consumer stopped reading');
      out.destroy();
    }
  }
}

/** Streaming decode: one frame at a time; ffmpeg is paused by backpressure while the consumer works. */
export async function* decodeFrames(file: string, opts: DecodeOptions = {}): AsyncGenerator<Buffer> {
  const plan = await planDecode(file, opts, 'area');
  yield* decodeWithPlan(file, plan, opts.signal);
}

export async function readFrames(file: string, opts: DecodeOptions = {}): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  for await (const f of decodeFrames(file, opts)) frames.push(f);
  return frames;
}

/** Any image ffmpeg reads → one rgb24 frame, alpha dropped, stretched to W×H with lanczos (the seed's rule). */
export async function imageToFrame(file: string, width: number, height: number, signal?: AbortSignal): Promise<Buffer> {
  const plan = await planDecode(file, { width, height, count: 1, signal }, 'lanczos');
  for await (const f of decodeWithPlan(file, plan, signal)) return f;
  throw new MediaError(`${file}: ffmpeg decoded no image from it`);
}

function checkFrame(frame: Buffer, width: number, height: number): void {
  if (!Buffer.isBuffer(frame) || frame.length !== width * height * 3) {
    throw new ValidationError('frame', `must be an rgb24 Buffer of ${width}*${height}*3 = ${width * height * 3} bytes, got ${Buffer.isBuffer(frame) ? frame.length : typeof frame}`);
  }
}

export function writeVideo(file: string, opts: WriteVideoOptions): VideoWriter {
  const width = checkDim('width', opts.width);
  const height = checkDim('height', opts.height);
  if (typeof opts.fps !== 'number' || !(opts.fps > 0) || !Number.isFinite(opts.fps)) {
    throw new ValidationError('fps', `must be a positive number of frames per second, got ${JSON.stringify(opts.fps)}`);
  }
  const lossless = opts.lossless ?? false;
  if (!lossless && (width % 2 !== 0 || height % 2 !== 0)) {
    throw new ValidationError('width/height', `yuv420p needs even dimensions, got ${width}x${height}; round them to even or pass lossless: true`);
  }
  const crf = opts.crf ?? 23;
  if (!Number.isFinite(crf) || crf < 0 || crf > 51) throw new ValidationError('crf', `must be within 0..51, got ${crf}`);
  const out = lossless
    ? ['-c:v', 'libx264rgb', '-qp', '0', '-preset', 'veryfast', '-pix_fmt', 'rgb24']
    : ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', String(crf), '-preset', 'veryfast'];
  out.push(...faststartFor(file), ...keyframeArgs(opts.keyframes));
  return openRawEncoder(file, { width, height, fps: opts.fps, queueFrames: opts.queueFrames, signal: opts.signal }, out);
}

/** `-force_key_frames` for the given frame indices, as IDR frames (cut points a stream copy can use). */
export function keyframeArgs(keyframes: readonly number[] | undefined): string[] {
  if (!keyframes || keyframes.length === 0) return [];
  for (const k of keyframes) checkCount('keyframes[]', k, 0);
  const ks = [...new Set(keyframes)].sort((a, b) => a - b);
  return ['-force_key_frames', `expr:${ks.map((k) => `eq(n,${k})`).join('+')}`, '-forced-idr', '1'];
}

/**
 * rgb24 frames piped into one ffmpeg encoder; the codec recipe (`outputOptions`) is the caller's.
 * write() waits while `queueFrames` frames are queued, so memory stays bounded whatever the length.
 */
export function openRawEncoder(
  file: string,
  o: { width: number; height: number; fps: number; queueFrames?: number; signal?: AbortSignal },
  outputOptions: string[],
): VideoWriter {
  const { width, height } = o;
  const what = `encode ${file}`;
  throwIfAborted(o.signal, what);
  const queueFrames = o.queueFrames === undefined ? 1 : checkCount('queueFrames', o.queueFrames, 1);
  const frameSize = width * height * 3;
  const input = new PassThrough({ highWaterMark: frameSize * queueFrames });
  const cmd = newCommand(input)
    .inputFormat('rawvideo')
    .inputOptions(['-pix_fmt', 'rgb24', '-video_size', `${width}x${height}`, '-framerate', String(o.fps)]);
  cmd.output(file).outputOptions(outputOptions);
  const running = startCommand(cmd, what, o.signal);
  const exitedEarly = running.done.then(() => {
    throw new MediaError(`${what}: ffmpeg exited before the writer was closed`);
  });
  exitedEarly.catch(() => {});
  let written = 0;
  let closed = false;

  return {
    get framesWritten() {
      return written;
    },
    async write(frame: Buffer) {
      if (closed) throw new MediaError(`${what}: write after close`);
      checkFrame(frame, width, height);
      written++;
      if (!input.write(frame)) {
        await Promise.race([new Promise<void>((resolve) => input.once('drain', () => resolve())), exitedEarly]);
      }
    },
    async close() {
      if (!closed) {
        closed = true;
        input.end();
      }
      await running.done;
    },
    abort() {
      closed = true;
      running.kill('aborted by caller');
      input.destroy();
    },
  };
}

/** One rgb24 frame → PNG. */
export async function writeImage(file: string, frame: Buffer, width: number, height: number, signal?: AbortSignal): Promise<void> {
  checkDim('width', width);
  checkDim('height', height);
  checkFrame(frame, width, height);
  const cmd = newCommand(Readable.from([frame]))
    .inputFormat('rawvideo')
    .inputOptions(['-pix_fmt', 'rgb24', '-video_size', `${width}x${height}`]);
  cmd.output(file).outputOptions(['-frames:v', '1', '-c:v', 'png', '-pix_fmt', 'rgb24', '-f', 'image2', '-update', '1']);
  await runCommand(cmd, `write image ${file}`, signal);
}
