import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { CancelledError, EngineError, ValidationError } from '../../core/errors.ts';
import { imageToFrame, probeVideo, readFrames, decodeFrames, writeImage, writeVideo, type VideoWriter } from '../media/frames-io.ts';
import type {
  Engine,
  GenerateVideoRequest,
  GenerateVideoResult,
  InterpolateRequest,
  StructureRequest,
  UpscaleVideoRequest,
} from './engine.ts';
import { FRAME_SYNTH, STRUCTURE, UPSCALE } from './onnx/model-defs.ts';
import { batchSize, packNchwUnit, packNhwc, toBytes, unpackNchwUnit } from './onnx/pixels.ts';
import { SessionCache } from './onnx/sessions.ts';
import { keepFromMask, planFrames, seededGradient, type FramePlan } from './onnx/synth-plan.ts';
import { synthEase } from './onnx/ease.ts';

/**
 * The default engine: real inference through onnxruntime-node with the small graphs smq builds
 * itself (models/). It does not run a diffusion model: `generateVideo` keeps the frames the mask
 * keeps bit-for-bit and synthesizes the others by eased interpolation between the nearest known
 * frames — what a VACE model is asked to honour, without the imagination. See README "Engines".
 *
 * Without a guide (or with a guide that keeps nothing) the known frames are the endpoints: the
 * first image ref at frame 0 and the last at the final frame (one ref: held throughout), or, with
 * no refs, two seed-driven colour gradients. User-supplied models (RIFE, Real-ESRGAN, pose) run
 * by path; their tensor contracts are documented on each method.
 */
export interface OnnxEngineOptions {
  /** Directory holding frame_synth.onnx, upscale.onnx, structure.onnx. @defaultValue <repo>/models */
  modelsDir?: string;
  /** CUDA device index; absent = CPU. */
  gpu?: number;
  /** Sobel magnitude above which a pixel is an edge (0..~1443). @defaultValue 96 */
  edgeThreshold?: number;
}

const DEFAULT_MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');
/** Model names that mean "whatever the onnx engine does" rather than a specific diffusion model. */
const NATIVE_MODEL_NAMES = new Set(['', 'onnx', 'frame_synth', 'smq_frame_synth']);

export function createOnnxEngine(opts: OnnxEngineOptions = {}): Engine {
  const modelsDir = opts.modelsDir ?? DEFAULT_MODELS_DIR;
  const sessions = new SessionCache(opts.gpu);
  const model = (file: string) => path.join(modelsDir, file);
  const withSessionNotes = (notes: string[]) => [...notes, ...sessions.notes];

  async function synthesize(
    known: Map<number, Buffer>,
    total: number,
    width: number,
    height: number,
    out: VideoWriter,
    signal: AbortSignal,
    onProgress?: (p: number) => void,
  ): Promise<void> {
    const synth = await sessions.get(model(FRAME_SYNTH.file), FRAME_SYNTH.inputs, 'frame synthesizer');
    const plan = planFrames(Array.from({ length: total }, (_, i) => known.has(i)), synthEase);
    const frameBytes = width * height * 3;
    const per = batchSize(frameBytes, 3);
    for (let start = 0; start < total; start += per) {
      throwIfAborted(signal);
      const slice = plan.slice(start, start + per);
      const frames = await runSynth(synth, slice, known, width, height);
      for (const f of frames) await out.write(f);
      onProgress?.(Math.round(((start + slice.length) / total) * 100));
    }
  }

  const engine: Engine = {
    name: 'onnx',

    async generateVideo(req: GenerateVideoRequest): Promise<GenerateVideoResult> {
      const { width, height, frames: total, signal } = req;
      checkSize(width, height, total);
      throwIfAborted(signal);
      const notes: string[] = [];
      if (!NATIVE_MODEL_NAMES.has(req.model)) {
        notes.push(`model ${req.model} is not available on the onnx engine; frames synthesized by eased interpolation between known frames (frame_synth.onnx)`);
      }
      const known = new Map<number, Buffer>();
      if (req.guideVideoPath) {
        const guide = await readScaled(req.guideVideoPath, width, height, total, signal);
        // No mask: every guide frame is known, as VACE without a mask follows the guide throughout.
        const keep = req.maskVideoPath
          ? keepFromMask(await readFrames(req.maskVideoPath, { width: 16, height: 16, count: total, signal }), total)
          : guide.map(() => true);
        guide.forEach((f, i) => {
          if (keep[i]) known.set(i, f);
        });
        if (guide.length < total) notes.push(`guide has ${guide.length} frames for ${total} requested; the rest are synthesized`);
      }
      if (known.size === 0) {
        const refs = req.imageRefs ?? [];
        if (refs.length > 0) {
          known.set(0, await imageToFrame(refs[0], width, height, signal));
          if (total > 1 && refs.length > 1) known.set(total - 1, await imageToFrame(refs[refs.length - 1], width, height, signal));
          notes.push(`no kept guide frames; synthesized from image refs ${refs.length > 1 ? 'first → last' : '(held)'}`);
        } else {
          known.set(0, seededGradient(req.seed, width, height, 0));
          if (total > 1) known.set(total - 1, seededGradient(req.seed, width, height, 1));
          notes.push('no guide frames or image refs; synthesized from a seed-driven gradient');
        }
      }
      const out = writeVideo(req.outputPath, { width, height, fps: req.fps, lossless: true, signal });
      try {
        await synthesize(known, total, width, height, out, signal, req.onProgress);
        await out.close();
      } catch (err) {
        out.abort();
        throw translate(err, signal);
      }
      return { videoPath: req.outputPath, frames: total, notes: withSessionNotes(notes) };
    },

    /**
     * `model` is a path to a user ONNX upscaler (e.g. Real-ESRGAN) when it ends in `.onnx`:
     * one float32 input [N,3,H,W] in 0..1, first output [N,3,H·s,W·s] in 0..1 (s fixed by the
     * model). Otherwise smq's bicubic upscale.onnx runs with `factor`.
     */
    async upscaleVideo(req: UpscaleVideoRequest) {
      if (!(req.factor > 0) || !Number.isFinite(req.factor)) throw new ValidationError('factor', `must be a positive number, got ${req.factor}`);
      const info = await probeVideo(req.inputPath, req.signal);
      const user = req.model.toLowerCase().endsWith('.onnx');
      const session = user
        ? await sessions.get(req.model, [], 'upscale')
        : await sessions.get(model(UPSCALE.file), UPSCALE.inputs, 'upscale');
      const frameBytes = info.width * info.height * 3;
      const per = Math.max(1, Math.floor(batchSize(frameBytes, 1) / Math.max(1, req.factor * req.factor)));
      let writer: VideoWriter | null = null;
      let done = 0;
      const flush = async (batch: Buffer[]) => {
        const { frames, w, h } = user
          ? await runUserImageModel(session, batch, info.width, info.height, req.model)
          : await runUpscale(session, batch, info.width, info.height, req.factor);
        if (!writer) {
          // Even sizes get a normal H.264 file; odd ones need the lossless rgb encoder.
          writer = writeVideo(req.outputPath, { width: w, height: h, fps: info.fps, lossless: w % 2 !== 0 || h % 2 !== 0, crf: 17, signal: req.signal });
        }
        for (const f of frames) await writer.write(f);
        done += batch.length;
        req.onProgress?.(Math.min(99, Math.round((done / Math.max(1, info.frames)) * 100)));
      };
      try {
        let batch: Buffer[] = [];
        for await (const f of decodeFrames(req.inputPath, { signal: req.signal })) {
          batch.push(f);
          if (batch.length >= per) {
            await flush(batch);
            batch = [];
          }
        }
        if (batch.length > 0) await flush(batch);
        if (!writer) throw new EngineError(`upscale: ${req.inputPath} has no frames`);
        await (writer as VideoWriter).close();
      } catch (err) {
        (writer as VideoWriter | null)?.abort();
        throw translate(err, req.signal);
      }
      req.onProgress?.(100);
      return { videoPath: req.outputPath, frames: done };
    },

    /**
     * Default: smq's Sobel edge extractor (structure.onnx) → white edges on black, PNG, input size.
     * `modelPath`: a user image-to-image ONNX model, float32 [1,3,H,W] in 0..1 in, first output
     * [1,C,H,W] in 0..1 (C = 1 or 3), same H and W. (A full DWPose pipeline — detector, keypoint
     * heatmaps, skeleton drawing — is not this shape and is not supported.)
     */
    async extractStructure(req: StructureRequest) {
      const info = await probeVideo(req.imagePath, req.signal);
      const { width, height } = info;
      const frame = await imageToFrame(req.imagePath, width, height, req.signal);
      throwIfAborted(req.signal);
      let outFrame: Buffer;
      if (req.modelPath) {
        const session = await sessions.get(req.modelPath, [], 'structure');
        const r = await runUserImageModel(session, [frame], width, height, req.modelPath);
        if (r.w !== width || r.h !== height) throw new EngineError(`structure model ${req.modelPath} returned ${r.w}x${r.h} for a ${width}x${height} image; it must keep the size`);
        outFrame = r.frames[0];
      } else {
        const session = await sessions.get(model(STRUCTURE.file), STRUCTURE.inputs, 'structure');
        const r = await session.run({
          frames: new ort.Tensor('float32', packNhwc([frame], width * height * 3), [1, height, width, 3]),
          threshold: new ort.Tensor('float32', new Float32Array([opts.edgeThreshold ?? 96]), [1]),
        });
        const edges = r[STRUCTURE.output].data as Float32Array;
        outFrame = Buffer.allocUnsafe(width * height * 3);
        for (let p = 0; p < width * height; p++) outFrame[p * 3] = outFrame[p * 3 + 1] = outFrame[p * 3 + 2] = edges[p] > 127 ? 255 : 0;
      }
      await writeImage(req.outputPath, outFrame, width, height, req.signal);
      return { imagePath: req.outputPath };
    },

    /**
     * Two images → exactly `frames` frames: image 1 first, image 2 last, eased in between.
     * `modelPath`: a user RIFE-style ONNX with inputs `img0`, `img1` float32 [N,3,H,W] in 0..1 and
     * `timestep` float32 [N,1,1,1] (the eased position 0..1), first output [N,3,H,W] in 0..1.
     */
    async interpolate(req: InterpolateRequest) {
      const { width, height, frames: total, signal } = req;
      checkSize(width, height, total);
      const a = await imageToFrame(req.imagePath1, width, height, signal);
      const b = await imageToFrame(req.imagePath2, width, height, signal);
      const known = new Map<number, Buffer>([[0, a]]);
      if (total > 1) known.set(total - 1, b);
      const lossless = width % 2 !== 0 || height % 2 !== 0;
      const out = writeVideo(req.outputPath, { width, height, fps: req.fps, lossless, crf: 17, signal });
      try {
        if (req.modelPath) {
          const session = await sessions.get(req.modelPath, ['img0', 'img1', 'timestep'], 'interpolation (RIFE)');
          const plan = planFrames(Array.from({ length: total }, (_, i) => known.has(i)), synthEase);
          const per = batchSize(width * height * 3, 3);
          for (let s = 0; s < total; s += per) {
            throwIfAborted(signal);
            const slice = plan.slice(s, s + per);
            for (const f of await runRife(session, slice, known, width, height, req.modelPath)) await out.write(f);
          }
        } else {
          await synthesize(known, total, width, height, out, signal);
        }
        await out.close();
      } catch (err) {
        out.abort();
        throw translate(err, signal);
      }
      return { videoPath: req.outputPath, frames: total };
    },

    async close() {
      await sessions.close();
    },
  };
  return engine;
}

async function readScaled(file: string, width: number, height: number, count: number, signal: AbortSignal): Promise<Buffer[]> {
  const info = await probeVideo(file, signal);
  // Scale only when the sizes differ: a same-size scale pass could disturb the bit-exact kept frames.
  const size = info.width === width && info.height === height ? {} : { width, height };
  return readFrames(file, { ...size, count, signal });
}

async function runSynth(session: ort.InferenceSession, plan: FramePlan[], known: Map<number, Buffer>, width: number, height: number): Promise<Buffer[]> {
  const n = plan.length;
  const frameBytes = width * height * 3;
  const zero = Buffer.alloc(frameBytes);
  const pick = (i: number) => known.get(i) ?? zero;
  const dims = [n, height, width, 3];
  const r = await session.run({
    guide: new ort.Tensor('float32', packNhwc(plan.map((p) => (p.keep ? pick(p.prev) : zero)), frameBytes), dims),
    keep: new ort.Tensor('float32', Float32Array.from(plan, (p) => (p.keep ? 1 : 0)), [n, 1, 1, 1]),
    prev: new ort.Tensor('float32', packNhwc(plan.map((p) => pick(p.prev)), frameBytes), dims),
    next: new ort.Tensor('float32', packNhwc(plan.map((p) => pick(p.next)), frameBytes), dims),
    weight: new ort.Tensor('float32', Float32Array.from(plan, (p) => p.weight), [n, 1, 1, 1]),
  });
  const data = r[FRAME_SYNTH.output].data as Float32Array;
  return plan.map((_, k) => toBytes(data, k * frameBytes, frameBytes));
}

async function runUpscale(session: ort.InferenceSession, batch: Buffer[], width: number, height: number, factor: number) {
  const r = await session.run({
    frames: new ort.Tensor('float32', packNhwc(batch, width * height * 3), [batch.length, height, width, 3]),
    scale: new ort.Tensor('float32', new Float32Array([factor]), [1]),
  });
  const t = r[UPSCALE.output];
  const [, h, w] = t.dims as number[];
  const bytes = w * h * 3;
  const data = t.data as Float32Array;
  return { frames: batch.map((_, k) => toBytes(data, k * bytes, bytes)), w, h };
}

async function runUserImageModel(session: ort.InferenceSession, batch: Buffer[], width: number, height: number, modelPath: string) {
  if (session.inputNames.length !== 1) {
    throw new EngineError(`model ${modelPath} has inputs [${session.inputNames.join(', ')}]; smq feeds exactly one float32 [N,3,H,W] image input`);
  }
  let r: ort.InferenceSession.OnnxValueMapType;
  try {
    r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', packNchwUnit(batch, width, height), [batch.length, 3, height, width]) });
  } catch (err) {
    throw new EngineError(`model ${modelPath} failed on a [${batch.length},3,${height},${width}] input: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const t = r[session.outputNames[0]];
  const dims = t.dims as number[];
  if (dims.length !== 4 || (dims[1] !== 1 && dims[1] < 3)) throw new EngineError(`model ${modelPath} output has shape [${dims.join(',')}]; smq expects [N,C,H,W] with C = 1 or 3`);
  const [, c, h, w] = dims;
  const data = t.data as Float32Array;
  return { frames: batch.map((_, k) => unpackNchwUnit(data, k, c, w, h)), w, h };
}

async function runRife(session: ort.InferenceSession, plan: FramePlan[], known: Map<number, Buffer>, width: number, height: number, modelPath: string): Promise<Buffer[]> {
  const n = plan.length;
  const dims = [n, 3, height, width];
  let r: ort.InferenceSession.OnnxValueMapType;
  try {
    r = await session.run({
      img0: new ort.Tensor('float32', packNchwUnit(plan.map((p) => known.get(p.prev)!), width, height), dims),
      img1: new ort.Tensor('float32', packNchwUnit(plan.map((p) => known.get(p.next)!), width, height), dims),
      timestep: new ort.Tensor('float32', Float32Array.from(plan, (p) => p.weight), [n, 1, 1, 1]),
    });
  } catch (err) {
    throw new EngineError(`RIFE model ${modelPath} failed: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const data = r[session.outputNames[0]].data as Float32Array;
  // Known endpoints are written as they are, not as the model reproduces them.
  return plan.map((p, k) => (p.keep ? known.get(p.prev)! : unpackNchwUnit(data, k, 3, width, height)));
}

function checkSize(width: number, height: number, frames: number): void {
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new ValidationError('resolution', `must be positive integers WxH, got ${width}x${height}`);
  }
  if (!Number.isInteger(frames) || frames < 1) throw new ValidationError('frames', `must be a positive integer, got ${frames}`);
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError('onnx engine: aborted');
}

function translate(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted && !(err instanceof CancelledError)) return new CancelledError('onnx engine: aborted');
  return err;
}
