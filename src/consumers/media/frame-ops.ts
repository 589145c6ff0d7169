/**
 * Pixel operations on rgb24 frames (Buffers of width*height*3), with the seed's exact rounding:
 * the strength blend and the cross-fade truncate (float32 maths then a uint8 cast), while the
 * desaturation and brightness round and saturate (cv2 addWeighted / convertScaleAbs on uint8).
 */
import { ValidationError } from '../../core/errors.ts';
import { gaussianBlurRgb } from './gaussian-blur.ts';

export const GRAY_LEVEL = 128;

const f32 = Math.fround;

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** cvRound: to nearest, ties to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function saturateRound(v: number): number {
  return clamp(roundHalfEven(v), 0, 255);
}

export function solidFrame(width: number, height: number, r: number, g: number, b: number): Buffer {
  const f = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0; i < f.length; i += 3) {
    f[i] = r;
    f[i + 1] = g;
    f[i + 2] = b;
  }
  return f;
}

/** The seed's filler: solid (128,128,128); also what the strength blend mixes towards. */
export function grayFrame(width: number, height: number): Buffer {
  return Buffer.alloc(width * height * 3, GRAY_LEVEL);
}

function sameSize(a: Buffer, b: Buffer, what: string): void {
  if (a.length !== b.length) throw new ValidationError(what, `frames differ in size (${a.length} vs ${b.length} bytes); resize them to the segment's W×H first`);
}

/** base·(1−w) + over·w in float32, w clipped to [0,1], truncated to uint8. */
export function blend(base: Buffer, over: Buffer, w: number): Buffer {
  sameSize(base, over, 'blend');
  const wf = f32(clamp(w, 0, 1));
  const inv = f32(1 - wf);
  const out = Buffer.allocUnsafe(base.length);
  for (let i = 0; i < base.length; i++) {
    const v = f32(f32(base[i] * inv) + f32(over[i] * wf));
    out[i] = v >= 255 ? 255 : v <= 0 ? 0 : Math.trunc(v);
  }
  return out;
}

/** BT.601 luma as cv2's fixed-point RGB→GRAY computes it. */
function luma(r: number, g: number, b: number): number {
  return (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14;
}

/** frame·(1−dz) + luma·dz, rounded and saturated. dz ≤ 0 returns an unchanged copy. */
export function desaturate(frame: Buffer, dz: number): Buffer {
  const out = Buffer.from(frame);
  if (!(dz > 0)) return out;
  const a = 1 - dz;
  for (let i = 0; i < frame.length; i += 3) {
    const y = luma(frame[i], frame[i + 1], frame[i + 2]) * dz;
    out[i] = saturateRound(frame[i] * a + y);
    out[i + 1] = saturateRound(frame[i + 1] * a + y);
    out[i + 2] = saturateRound(frame[i + 2] * a + y);
  }
  return out;
}

/** pixel·(1 − clamp(br, −0.95, 0.95)), rounded and saturated; positive darkens, |br| < 1e-6 is a no-op. */
export function brightness(frame: Buffer, br: number): Buffer {
  if (!(Math.abs(br) >= 1e-6)) return Buffer.from(frame);
  const k = 1 - clamp(br, -0.95, 0.95);
  const out = Buffer.allocUnsafe(frame.length);
  for (let i = 0; i < frame.length; i++) out[i] = saturateRound(frame[i] * k);
  return out;
}

/** Reusable float scratch for cross-fades, so a long stitch does not allocate three arrays a frame. */
export class CrossfadeScratch {
  readonly base: Float32Array;
  readonly blur: Float32Array;
  readonly tmp: Float32Array;
  constructor(readonly width: number, readonly height: number) {
    const n = width * height * 3;
    this.base = new Float32Array(n);
    this.blur = new Float32Array(n);
    this.tmp = new Float32Array(n);
  }
}

/**
 * One cross-faded frame (spec 02 §4.3): base = A(1−α) + Bα in float32, then an unsharp mask
 * base·(1+sα) − G(base)·sα with a σ=3 Gaussian (skipped when s ≤ 0), clipped and truncated.
 */
export function crossfadeFrame(a: Buffer, b: Buffer, alpha: number, sharpAmt: number, scratch: CrossfadeScratch): Buffer {
  sameSize(a, b, 'crossfade');
  if (a.length !== scratch.base.length) throw new ValidationError('crossfade', `frame is ${a.length} bytes but the scratch is for ${scratch.width}x${scratch.height}`);
  const af = f32(alpha);
  const inv = f32(1 - af);
  const base = scratch.base;
  for (let i = 0; i < a.length; i++) base[i] = a[i] * inv + b[i] * af;
  const out = Buffer.allocUnsafe(a.length);
  const amt = sharpAmt * alpha;
  if (!(sharpAmt > 0)) {
    for (let i = 0; i < a.length; i++) {
      const v = base[i];
      out[i] = v >= 255 ? 255 : v <= 0 ? 0 : Math.trunc(v);
    }
    return out;
  }
  gaussianBlurRgb(base, scratch.blur, scratch.tmp, scratch.width, scratch.height, 3);
  const blur = scratch.blur;
  const gain = 1 + amt;
  for (let i = 0; i < a.length; i++) {
    const v = base[i] * gain - blur[i] * amt;
    out[i] = v >= 255 ? 255 : v <= 0 ? 0 : Math.trunc(v);
  }
  return out;
}
