import { ease } from '../../media/easing.ts';

/** The synthesizer's weight curve: the seed's ease_in_out, the curve its fades and cross-fades use. */
export function synthEase(t: number): number {
  return ease(t, 'ease_in_out');
}
