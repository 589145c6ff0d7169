import { z } from 'zod';
import { ValidationError } from '../core/errors.ts';
import { commonShape, parseOptions, smqShape } from './common-args.ts';
import { parseResolution } from './resolution.ts';

/**
 * `travel_between_images` options and the e88631f validation/expansion rules (spec 01 §2.2–2.4,
 * 02 §1). Pure: no file system, no clock. File checks happen in the API before anything is queued.
 */

const intList = (what: string) =>
  z.array(z.number({ error: `must be integers (${what})` }).int({ error: `must be integers (${what})` })).min(1, { error: `needs at least one value (${what})` });

export const SEGMENT_MODES = ['chained', 'independent'] as const;
export type SegmentMode = (typeof SEGMENT_MODES)[number];

export const travelOptionsSchema = z.strictObject({
  ...commonShape,
  input_images: z
    .array(z.string().min(1, { error: 'contains an empty path' }), { error: 'is required: give the anchor image paths' })
    .min(1, { error: 'needs at least one image path' }),
  base_prompts: z
    .array(z.string(), { error: 'is required: give one prompt, or one per segment' })
    .min(1, { error: 'needs at least one prompt' }),
  negative_prompts: z.array(z.string()).min(1, { error: 'needs at least one value (use "" for none)' }).default(['']),
  frame_overlap: intList('frames shared with the next segment').default([16]),
  segment_frames: intList('frames per segment').default([81]),
  upscale_factor: z.number().finite().nonnegative({ error: 'must be >= 0 (0 = no upscale)' }).default(0.0),
  continue_from_video: z.string().min(1).nullable().default(null),
  segment_mode: z.enum(SEGMENT_MODES, { error: 'must be chained or independent' }).default('chained'),
  ...smqShape,
});

/** What a caller passes (defaults optional). */
export type TravelInput = z.input<typeof travelOptionsSchema>;
/** Fully defaulted options. */
export type TravelOptions = z.output<typeof travelOptionsSchema>;

export interface TravelExpansion {
  numSegments: number;
  resolution: [number, number];
  base_prompts_expanded: string[];
  negative_prompts_expanded: string[];
  segment_frames_expanded: number[];
  frame_overlap_expanded: number[];
}

export function parseTravelOptions(input: unknown): TravelOptions {
  return parseOptions(travelOptionsSchema, input);
}

/** Segments to generate: one per image with a continued video (each image ends one), else images − 1. */
export function segmentCount(opts: Pick<TravelOptions, 'input_images' | 'continue_from_video'>): number {
  if (opts.continue_from_video) {
    if (opts.input_images.length < 1) {
      throw new ValidationError('--input_images', 'At least one input image is required with --continue_from_video; give the image(s) the video should travel to');
    }
    return opts.input_images.length;
  }
  if (opts.input_images.length < 2) {
    throw new ValidationError(
      '--input_images',
      `At least two input images are required without --continue_from_video (got ${opts.input_images.length}); give two or more images, or add --continue_from_video`,
    );
  }
  return opts.input_images.length - 1;
}

/** One value → repeated for every segment; exactly n → kept; anything else is refused naming both counts. */
export function expandPerSegment<T>(values: readonly T[], n: number, flag: string): T[] {
  if (values.length === 1) return Array.from({ length: n }, () => values[0] as T);
  if (values.length === n) return [...values];
  throw new ValidationError(
    flag,
    `got ${values.length} values for ${n} segment${n === 1 ? '' : 's'}; give one value (used for every segment) or exactly ${n} (one per segment)`,
  );
}

/** Human name of segment i's two anchors, for messages (a continued video is its own anchor). */
export function segmentAnchors(opts: Pick<TravelOptions, 'input_images' | 'continue_from_video'>, i: number): [string, string] {
  const imgs = opts.input_images;
  if (opts.continue_from_video) return [i === 0 ? 'the continued video' : (imgs[i - 1] as string), imgs[i] as string];
  return [imgs[i] as string, imgs[i + 1] as string];
}

/** Applies every e88631f rule and returns the expanded per-segment lists. */
export function expandTravel(opts: TravelOptions): TravelExpansion {
  const resolution = parseResolution(opts.resolution);
  const n = segmentCount(opts);
  const base = expandPerSegment(opts.base_prompts, n, '--base_prompts');
  const neg = expandPerSegment(opts.negative_prompts, n, '--negative_prompts');
  const frames = expandPerSegment(opts.segment_frames, n, '--segment_frames');
  const overlaps = expandPerSegment(opts.frame_overlap, n, '--frame_overlap');
  frames.forEach((f, i) => {
    if (f <= 0) throw new ValidationError('--segment_frames', `segment ${i} has ${f} frames; every value must be > 0`);
  });
  overlaps.forEach((o, i) => {
    if (o < 0) throw new ValidationError('--frame_overlap', `segment ${i} has overlap ${o}; every value must be >= 0 (0 = no overlap)`);
  });
  for (let i = 0; i < n; i++) {
    const f = frames[i] as number;
    const o = overlaps[i] as number;
    if (o > 0 && f <= o) {
      const [a, b] = segmentAnchors(opts, i);
      throw new ValidationError(
        '--segment_frames',
        `segment ${i} (from ${a} to ${b}) has --segment_frames ${f}, which must be greater than its --frame_overlap ${o}; raise --segment_frames or lower --frame_overlap`,
      );
    }
  }
  return {
    numSegments: n,
    resolution,
    base_prompts_expanded: base,
    negative_prompts_expanded: neg,
    segment_frames_expanded: frames,
    frame_overlap_expanded: overlaps,
  };
}
