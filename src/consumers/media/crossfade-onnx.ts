/**
 * Cross-fades one join at a time: the join's frame pairs go through models/crossfade.onnx eight at
 * a time (the model's fixed batch; native, SIMD, off the event loop). If the model cannot be loaded the JS
 * formula in frame-ops.ts does the same work, and a warning says so once per process: the stitch
 * still succeeds, only slower.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { CROSSFADE, CROSSFADE_FRAMES } from '../engines/onnx/model-defs.ts';
import { ValidationError } from '../../core/errors.ts';
import { crossfadeAlpha } from './frame-math.ts';
import { CrossfadeScratch, crossfadeFrame } from './frame-ops.ts';

export const DEFAULT_CROSSFADE_MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models', CROSSFADE.file);

export interface WarnLog {
  warn(obj: object, msg: string): void;
}

const consoleLog: WarnLog = { warn: (obj, msg) => console.warn(JSON.stringify({ level: 'warn', msg, ...obj })) };

/** One session per model path per process; a failed load is remembered so it is reported once. */
const sessions = new Map<string, Promise<ort.InferenceSession | Error>>();

function loadSession(modelPath: string): Promise<ort.InferenceSession | Error> {
  let s = sessions.get(modelPath);
  if (!s) {
    // One intra-op thread: the stitch's decoder and encoder (ffmpeg) need the other cores.
    // No memory pattern: it pre-plans one block for every intermediate at once (~80 MB more peak
    // RSS at 640×360) and measured no faster than allocating from the arena as the run goes.
    s = ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'], intraOpNumThreads: 1, enableMemPattern: false }).then(
      (session) => {
        const missing = CROSSFADE.inputs.filter((n) => !session.inputNames.includes(n));
        return missing.length ? new Error(`inputs [${session.inputNames.join(', ')}] lack ${missing.join(', ')}`) : session;
      },
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    sessions.set(modelPath, s);
  }
  return s;
}

export interface CrossfaderOptions {
  width: number;
  height: number;
  /** crossfade_sharp_amt; ≤ 0 is a plain blend. */
  sharpAmt: number;
  /** Defaults to <repo>/models/crossfade.onnx. */
  modelPath?: string;
  log?: WarnLog;
}

/** Which implementation ran the last join ('onnx' or 'js'); exposed for logs, tests and the bench. */
export type CrossfadeBackend = 'onnx' | 'js';

export class Crossfader {
  private scratch: CrossfadeScratch | null = null;
  private batch: { A: Uint8Array; B: Uint8Array } | null = null;
  private readonly frameBytes: number;
  backend: CrossfadeBackend | null = null;

  constructor(private readonly opts: CrossfaderOptions) {
    this.frameBytes = opts.width * opts.height * 3;
  }

  /**
   * Blends a[k] (the end of the earlier video) into b[k] (the start of the later one) for
   * k = 0..c−1 with the cosine ramp of a c-frame join; returns the c output frames.
   */
  async join(a: readonly Buffer[], b: readonly Buffer[]): Promise<Buffer[]> {
    const c = a.length;
    if (b.length !== c) throw new ValidationError('crossfade', `join needs as many frames from each side, got ${c} and ${b.length}`);
    if (c === 0) return [];
    for (const f of [...a, ...b]) {
      if (f.length !== this.frameBytes) {
        throw new ValidationError('crossfade', `frame is ${f.length} bytes, expected ${this.opts.width}x${this.opts.height}x3 = ${this.frameBytes}; resize it to the stitch's W×H first`);
      }
    }
    const modelPath = this.opts.modelPath ?? DEFAULT_CROSSFADE_MODEL;
    const session = await loadSession(modelPath);
    if (session instanceof Error) {
      if (this.backend !== 'js') {
        (this.opts.log ?? consoleLog).warn({ model: modelPath, err: session.message }, 'cross-fade model could not be loaded; using the (slower) JS cross-fade');
      }
      this.backend = 'js';
      return this.joinJs(a, b);
    }
    this.backend = 'onnx';
    return this.joinOnnx(session, a, b);
  }

  private joinJs(a: readonly Buffer[], b: readonly Buffer[]): Buffer[] {
    this.scratch ??= new CrossfadeScratch(this.opts.width, this.opts.height);
    return a.map((fa, k) => crossfadeFrame(fa, b[k], crossfadeAlpha(k, a.length), this.opts.sharpAmt, this.scratch!));
  }

  private async joinOnnx(session: ort.InferenceSession, a: readonly Buffer[], b: readonly Buffer[]): Promise<Buffer[]> {
    const c = a.length;
    const n = CROSSFADE_FRAMES;
    const fb = this.frameBytes;
    const { width: W, height: H } = this.opts;
    // One pair of input batches per Crossfader, reused by every run; a last, partial batch keeps
    // stale frames in its unused slots, whose outputs are discarded.
    this.batch ??= { A: new Uint8Array(n * fb), B: new Uint8Array(n * fb) };
    const { A, B } = this.batch;
    const s = new ort.Tensor('float32', new Float32Array([Math.max(0, this.opts.sharpAmt)]), [1]);
    const frames: Buffer[] = [];
    for (let k0 = 0; k0 < c; k0 += n) {
      const m = Math.min(n, c - k0);
      const alpha = new Float32Array(n);
      for (let k = 0; k < m; k++) {
        A.set(a[k0 + k], k * fb);
        B.set(b[k0 + k], k * fb);
        alpha[k] = crossfadeAlpha(k0 + k, c);
      }
      const result = await session.run({
        A: new ort.Tensor('uint8', A, [n, H, W, 3]),
        B: new ort.Tensor('uint8', B, [n, H, W, 3]),
        alpha: new ort.Tensor('float32', alpha, [n, 1, 1, 1]),
        s,
      });
      const out = result[CROSSFADE.output].data as Uint8Array;
      for (let k = 0; k < m; k++) frames.push(Buffer.from(out.buffer, out.byteOffset + k * fb, fb));
    }
    return frames;
  }
}
