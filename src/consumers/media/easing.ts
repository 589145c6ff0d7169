/**
 * The seed's easing curves (spec 02 §3.4). Unknown names fall back to ease_in_out, as the seed did,
 * so a typo in a fade JSON changes the curve rather than failing the segment.
 */
export type CurveType = 'linear' | 'ease_in' | 'ease_out' | 'ease_in_out';

export function ease(t: number, curve: string): number {
  switch (curve) {
    case 'linear':
      return t;
    case 'ease_in':
      return t * t;
    case 'ease_out':
      return t * (2 - t);
    default:
      // Smoothstep below 0.5, quadratic above: continuous, with a slope jump at 0.5 (the seed's hybrid).
      return t < 0.5 ? t * t * (3 - 2 * t) : 1 - ((2 - 2 * t) * (2 - 2 * t)) / 2;
  }
}
