/**
 * Frame arithmetic of a travel (spec 02 §5, README decision 2): segment i generates F_i + P_i
 * frames, each join's overlap is cross-faded once, so the stitched total is Σ F_i.
 */
import { ValidationError } from '../../core/errors.ts';

function nonNegInt(field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new ValidationError(field, `must be an integer ≥ 0, got ${v}`);
  return v;
}

/** Frames segment i generates: its own F_i plus the P_i overlap frames carried from the previous one. */
export function segmentTotalFrames(segmentFrames: number, overlapFromPrevious: number): number {
  return nonNegInt('segment_frames', segmentFrames) + nonNegInt('overlap_from_previous', overlapFromPrevious);
}

/**
 * Checks that every overlap fits in the videos it joins (a middle video must hold both of its
 * overlaps) and returns Σ lengths − Σ overlaps.
 */
export function stitchedFrameCount(lengths: number[], overlaps: number[]): number {
  if (lengths.length === 0) throw new ValidationError('inputs', 'need at least one video to stitch');
  if (overlaps.length !== lengths.length - 1) {
    throw new ValidationError('overlaps', `need one overlap per join (${lengths.length - 1} for ${lengths.length} videos), got ${overlaps.length}`);
  }
  lengths.forEach((l, i) => nonNegInt(`lengths[${i}]`, l));
  overlaps.forEach((o, j) => nonNegInt(`overlaps[${j}]`, o));
  for (let i = 0; i < lengths.length; i++) {
    const before = i > 0 ? overlaps[i - 1] : 0;
    const after = i < overlaps.length ? overlaps[i] : 0;
    if (before + after > lengths[i]) {
      throw new ValidationError(
        `overlaps[${i > 0 ? i - 1 : i}]`,
        `video ${i} has ${lengths[i]} frames but its joins overlap ${before} + ${after} of them; lower the overlap or lengthen the segment`,
      );
    }
  }
  return lengths.reduce((a, b) => a + b, 0) - overlaps.reduce((a, b) => a + b, 0);
}

/** Cross-fade weight of blended frame k (0-based) in a join of c frames: rises from ≈0 to exactly 1. */
export function crossfadeAlpha(k: number, c: number): number {
  return (1 - Math.cos((Math.PI * (k + 1)) / c)) / 2;
}

/** The next Wan-friendly length 4k+1 that is ≥ x (engines ask for it and trim back). */
export function wanLength(x: number): number {
  if (!Number.isFinite(x) || x <= 1) return 1;
  return 4 * Math.ceil((x - 1) / 4) + 1;
}
