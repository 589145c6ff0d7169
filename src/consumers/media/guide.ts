/**
 * The guide a travel segment hands its generator (spec 02 §3.4), plus the mask the seed never
 * built: which frames the generator must keep as they are and which it must synthesize.
 *
 * Cases: first-from-scratch (a start anchor, no previous frames) and first-after-continue /
 * subsequent (the previous video's last overlap frames, no start anchor). Pure: frames in, frames out.
 */
import { ValidationError } from '../../core/errors.ts';
import { ease } from './easing.ts';
import { blend, brightness, clamp, desaturate, grayFrame } from './frame-ops.ts';

export interface FadeParams {
  lowPoint: number;
  highPoint: number;
  curveType: string;
  durationFactor: number;
}

export const DEFAULT_FADE: Readonly<FadeParams> = Object.freeze({ lowPoint: 0, highPoint: 1, curveType: 'ease_in_out', durationFactor: 0 });

/**
 * The seed's fade JSON (`{"low_point", "high_point", "curve_type", "duration_factor"}`). Anything
 * unparseable yields the defaults, as the seed's try/except did; missing keys take their default.
 */
export function parseFadeParams(json: string | null | undefined): FadeParams {
  if (json === null || json === undefined || json === '') return { ...DEFAULT_FADE };
  try {
    const o: unknown = JSON.parse(json);
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ...DEFAULT_FADE };
    const r = o as Record<string, unknown>;
    const num = (key: string, d: number) => {
      if (r[key] === undefined || r[key] === null) return d;
      const v = typeof r[key] === 'string' ? Number(r[key]) : r[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${key} is not a number`);
      return v;
    };
    return {
      lowPoint: num('low_point', DEFAULT_FADE.lowPoint),
      highPoint: num('high_point', DEFAULT_FADE.highPoint),
      curveType: typeof r.curve_type === 'string' ? r.curve_type : DEFAULT_FADE.curveType,
      durationFactor: num('duration_factor', DEFAULT_FADE.durationFactor),
    };
  } catch {
    return { ...DEFAULT_FADE };
  }
}

export interface GuideInput {
  width: number;
  height: number;
  /** T = segment_frames_target + frame_overlap_from_previous. */
  totalFrames: number;
  /** First-from-scratch only; null when the segment continues from previous frames. */
  startAnchor: Buffer | null;
  endAnchor: Buffer;
  /** The previous video's last overlap frames, already W×H (empty for first-from-scratch). */
  previousFrames: Buffer[];
  fadeIn: FadeParams;
  fadeOut: FadeParams;
  strengthAdjustment: number;
  desaturate: number;
  brightness: number;
  lastFrameDuplication: number;
}

export interface Guide {
  frames: Buffer[];
  /** true = the generator synthesizes this frame; false = it must keep the guide frame bit for bit. */
  generateMask: boolean[];
}

function check(input: GuideInput): void {
  const size = input.width * input.height * 3;
  if (!Number.isInteger(input.totalFrames) || input.totalFrames < 0) throw new ValidationError('totalFrames', `must be an integer ≥ 0, got ${input.totalFrames}`);
  if (!Number.isInteger(input.lastFrameDuplication) || input.lastFrameDuplication < 0) {
    throw new ValidationError('last_frame_duplication', `must be an integer ≥ 0, got ${input.lastFrameDuplication}`);
  }
  const sized = (f: Buffer | null, field: string) => {
    if (f !== null && f.length !== size) throw new ValidationError(field, `must be a ${input.width}x${input.height} rgb24 frame (${size} bytes), got ${f.length} bytes`);
  };
  sized(input.endAnchor, 'endAnchor');
  sized(input.startAnchor, 'startAnchor');
  input.previousFrames.forEach((f, i) => sized(f, `previousFrames[${i}]`));
  if (input.startAnchor !== null && input.previousFrames.length > 0) {
    throw new ValidationError('startAnchor', 'a segment that continues from previous frames has no start anchor (the overlap frames play that role); pass null');
  }
  if (input.startAnchor === null && input.previousFrames.length === 0) {
    throw new ValidationError('previousFrames', 'empty, and there is no start anchor: pass the previous video\'s last overlap frames, or a start anchor for a first segment');
  }
}

/**
 * End fade-in over frames lo..hi (spec 02 §3.4 A.3), blended over whatever is there so a start
 * fade and the end fade cross-dissolve. Marks touched frames as generated.
 */
function applyEndFadeIn(g: Guide, end: Buffer, fi: FadeParams, lo: number, hi: number): void {
  const span = Math.max(0, hi - lo + 1);
  const m = Math.trunc(span * fi.durationFactor);
  if (m > 0) {
    const s = Math.max(lo, hi - m + 1);
    for (let j = 1; j <= m; j++) {
      const idx = s + j - 1;
      if (idx > hi) break;
      g.frames[idx] = blend(g.frames[idx], end, fi.lowPoint + (fi.highPoint - fi.lowPoint) * ease(j / m, fi.curveType));
      g.generateMask[idx] = true;
    }
  } else if (fi.durationFactor > 0 && span > 0) {
    // The seed's edge case: a fade too short to have a single step shows the end anchor throughout.
    for (let idx = lo; idx <= hi; idx++) {
      g.frames[idx] = end;
      g.generateMask[idx] = true;
    }
  }
}

function adjustOverlapFrame(frame: Buffer, gray: Buffer, w: number, input: GuideInput): Buffer {
  let f = blend(gray, frame, clamp(w, 0, 1));
  if (input.desaturate > 0) f = desaturate(f, input.desaturate);
  if (Math.abs(input.brightness) >= 1e-6) f = brightness(f, input.brightness);
  return f;
}

export function buildGuideFrames(input: GuideInput): Guide {
  check(input);
  const T = input.totalFrames;
  const D = input.lastFrameDuplication + 1;
  const gray = grayFrame(input.width, input.height);
  const g: Guide = { frames: new Array<Buffer>(T).fill(gray), generateMask: new Array<boolean>(T).fill(true) };
  if (T === 0) return g;
  const fo = input.fadeOut;
  const fi = input.fadeIn;
  const hi = T - D - 1;

  if (input.startAnchor !== null) {
    const start = input.startAnchor;
    g.frames[0] = start;
    const P = T - D - 1;
    const k = Math.trunc(Math.max(0, P) * fo.durationFactor);
    for (let j = 1; j <= Math.min(k, P); j++) {
      g.frames[j] = blend(gray, start, fo.lowPoint + (fo.highPoint - fo.lowPoint) * ease(1 - j / k, fo.curveType));
    }
    applyEndFadeIn(g, input.endAnchor, fi, 1, hi);
  } else {
    const R = Math.min(input.previousFrames.length, T);
    for (let i = 0; i < R; i++) {
      g.frames[i] = input.previousFrames[i];
      g.generateMask[i] = false;
    }
    if (fo.durationFactor > 0) {
      const k = Math.min(Math.trunc(R * fo.durationFactor), R);
      for (let j = 1; j <= k; j++) {
        const w = fo.lowPoint + (fo.highPoint - fo.lowPoint) * ease(1 - j / k, fo.curveType) + input.strengthAdjustment;
        g.frames[j - 1] = adjustOverlapFrame(g.frames[j - 1], gray, w, input);
        g.generateMask[j - 1] = true;
      }
    } else {
      const w = clamp(fo.highPoint + input.strengthAdjustment, 0, 1);
      if (w !== 1 || input.desaturate > 0 || Math.abs(input.brightness) >= 1e-6) {
        for (let i = 0; i < R; i++) {
          g.frames[i] = adjustOverlapFrame(g.frames[i], gray, w, input);
          g.generateMask[i] = true;
        }
      }
    }
    applyEndFadeIn(g, input.endAnchor, fi, R, hi);
  }

  for (let i = Math.max(0, T - D); i < T; i++) {
    g.frames[i] = input.endAnchor;
    g.generateMask[i] = false;
  }
  if (input.startAnchor !== null) {
    g.frames[0] = input.startAnchor;
    g.generateMask[0] = false;
  }
  return g;
}
