/**
 * Which frames the synthesizer keeps and how it fills the rest — pure, so it is tested without
 * onnxruntime. A generated frame i lies between the nearest known frames p < i < n and gets
 * weight w = ease((i − p)/(n − p)) towards n; with a known frame on one side only it holds that
 * frame (w = 0). Frames with no known frame anywhere cannot be planned (the caller supplies
 * endpoints first, from image refs or a seed-driven gradient).
 */
export interface FramePlan {
  keep: boolean;
  /** Index of the known frame blended from (equals `next` when holding). */
  prev: number;
  next: number;
  /** Weight of `next`, 0..1. */
  weight: number;
}

export function planFrames(known: readonly boolean[], ease: (t: number) => number): FramePlan[] {
  const n = known.length;
  const prevKnown = new Array<number>(n).fill(-1);
  const nextKnown = new Array<number>(n).fill(-1);
  for (let i = 0, last = -1; i < n; i++) {
    if (known[i]) last = i;
    prevKnown[i] = last;
  }
  for (let i = n - 1, last = -1; i >= 0; i--) {
    if (known[i]) last = i;
    nextKnown[i] = last;
  }
  if (n > 0 && prevKnown[n - 1] === -1) throw new Error('planFrames: no known frame to synthesize from');
  return known.map((k, i) => {
    if (k) return { keep: true, prev: i, next: i, weight: 0 };
    const p = prevKnown[i];
    const q = nextKnown[i];
    if (p === -1) return { keep: false, prev: q, next: q, weight: 0 };
    if (q === -1) return { keep: false, prev: p, next: p, weight: 0 };
    return { keep: false, prev: p, next: q, weight: clamp01(ease((i - p) / (q - p))) };
  });
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * Keep flags from the mask video's frames (smq's convention: black = keep, white = generate),
 * decided per frame by mean intensity. Frames beyond the mask are generated.
 */
export function keepFromMask(maskFrames: readonly Buffer[], total: number): boolean[] {
  return Array.from({ length: total }, (_, i) => {
    const f = maskFrames[i];
    if (!f) return false;
    let sum = 0;
    for (let j = 0; j < f.length; j++) sum += f[j];
    return sum / f.length < 128;
  });
}

/**
 * A seed-driven diagonal colour gradient (rgb24): what the engine starts from when there is
 * neither a guide nor an image ref. Deterministic per seed, so a retry reproduces the file.
 */
export function seededGradient(seed: number, width: number, height: number, salt: number): Buffer {
  let s = (Math.imul(seed | 0, 2654435761) ^ Math.imul(salt + 1, 40503)) >>> 0;
  const rand = () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x6d2b79f5) >>> 0;
    s ^= s >>> 13;
    return (s >>> 0) / 4294967296;
  };
  const a = [rand(), rand(), rand()].map((v) => 40 + v * 175);
  const b = [rand(), rand(), rand()].map((v) => 40 + v * 175);
  const out = Buffer.allocUnsafe(width * height * 3);
  const span = Math.max(1, width + height - 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / span;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = Math.floor(a[c] * (1 - t) + b[c] * t);
    }
  }
  return out;
}
