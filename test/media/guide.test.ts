import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGuideFrames, parseFadeParams, DEFAULT_FADE, type GuideInput } from '../../src/consumers/media/guide.ts';
import { blend, brightness, desaturate, solidFrame } from '../../src/consumers/media/frame-ops.ts';
import { ease } from '../../src/consumers/media/easing.ts';
import { crossfadeAlpha, segmentTotalFrames, stitchedFrameCount, wanLength } from '../../src/consumers/media/frame-math.ts';
import { ValidationError } from '../../src/core/errors.ts';

const W = 4, H = 2;
const px = (f: Buffer) => [f[0], f[1], f[2]];
const solid = (r: number, g: number, b: number) => solidFrame(W, H, r, g, b);
const START = solid(200, 100, 0);
const END = solid(0, 50, 250);

function input(over: Partial<GuideInput>): GuideInput {
  return {
    width: W, height: H, totalFrames: 6, startAnchor: START, endAnchor: END, previousFrames: [],
    fadeIn: { ...DEFAULT_FADE }, fadeOut: { ...DEFAULT_FADE }, strengthAdjustment: 0, desaturate: 0, brightness: 0, lastFrameDuplication: 0,
    ...over,
  };
}

function assertUniform(f: Buffer, rgb: number[], msg: string) {
  for (let i = 0; i < f.length; i += 3) assert.deepEqual([f[i], f[i + 1], f[i + 2]], rgb, msg);
}

test('easing curves and pixel ops follow the seed (truncating blend, rounding desaturate/brightness)', () => {
  assert.equal(ease(0.25, 'linear'), 0.25);
  assert.equal(ease(0.5, 'ease_in'), 0.25);
  assert.equal(ease(0.5, 'ease_out'), 0.75);
  assert.equal(ease(0.25, 'ease_in_out'), 0.25 * 0.25 * 2.5);
  assert.equal(ease(0.75, 'nonsense'), 1 - 0.25 / 2);
  // 128·0.7 + 201·0.3 = 149.9: truncated, not rounded.
  assert.deepEqual(px(blend(solid(128, 128, 128), solid(201, 0, 255), 0.3)), [149, 89, 166]);
  assert.deepEqual(px(blend(solid(10, 10, 10), solid(90, 90, 90), 7)), [90, 90, 90], 'w clipped to 1');
  // luma(200,100,0) = 118 (cv2 fixed point); mix at 0.5 rounds.
  assert.deepEqual(px(desaturate(START, 0.5)), [159, 109, 59]);
  assert.deepEqual(px(brightness(solid(101, 50, 255), 0.5)), [50, 25, 128], '×0.5, ties to even');
  assert.deepEqual(px(brightness(solid(100, 50, 200), 2)), [5, 3, 10], 'clamped to 0.95');
  assert.deepEqual(px(brightness(solid(100, 50, 200), -0.5)), [150, 75, 255], 'negative brightens, saturates');
});

test('first-from-scratch with defaults: start anchor, gray filler, end anchor; anchors kept', () => {
  const g = buildGuideFrames(input({}));
  assert.equal(g.frames.length, 6);
  assertUniform(g.frames[0], [200, 100, 0], 'frame 0 = start');
  for (let i = 1; i <= 4; i++) assertUniform(g.frames[i], [128, 128, 128], `frame ${i} gray`);
  assertUniform(g.frames[5], [0, 50, 250], 'last = end');
  assert.deepEqual(g.generateMask, [false, true, true, true, true, false]);
});

test('first-from-scratch: linear start fade-out and an end fade-in that cross-dissolves over it', () => {
  const g = buildGuideFrames(input({
    fadeOut: { lowPoint: 0, highPoint: 1, curveType: 'linear', durationFactor: 1 },
    fadeIn: { lowPoint: 0, highPoint: 1, curveType: 'linear', durationFactor: 0.5 },
  }));
  // P = 4, k = 4: weights 0.75, 0.5, 0.25, 0 of the start over gray.
  assertUniform(g.frames[1], [182, 107, 32], 'w=.75');
  assertUniform(g.frames[2], [164, 114, 64], 'w=.5');
  // m = 2 over frames 3..4: frame 3 = blend(start-fade w=.25, end, .5), frame 4 = end.
  const f3 = blend(blend(solid(128, 128, 128), START, 0.25), END, 0.5);
  assert.deepEqual(px(g.frames[3]), px(f3));
  // start fade w=.25 gives (146,121,96); halfway to (0,50,250), truncated.
  assert.deepEqual(px(g.frames[3]), [73, 85, 173]);
  assertUniform(g.frames[4], [0, 50, 250], 'fade-in ends at the end anchor');
  assert.deepEqual(g.generateMask, [false, true, true, true, true, false]);
});

test('fade-in too short for one step shows the end anchor over the whole free range (seed edge case)', () => {
  const g = buildGuideFrames(input({ fadeIn: { lowPoint: 0, highPoint: 1, curveType: 'linear', durationFactor: 0.2 } }));
  for (let i = 1; i <= 5; i++) assertUniform(g.frames[i], [0, 50, 250], `frame ${i}`);
});

test('subsequent: overlap frames carried untouched and kept; duplication extends the end anchor', () => {
  const prev = [solid(10, 20, 30), solid(40, 50, 60), solid(70, 80, 90)];
  const g = buildGuideFrames(input({ startAnchor: null, previousFrames: prev, totalFrames: 8, lastFrameDuplication: 1 }));
  for (let i = 0; i < 3; i++) assert.ok(g.frames[i].equals(prev[i]), `overlap ${i} bit-exact`);
  for (let i = 3; i <= 5; i++) assertUniform(g.frames[i], [128, 128, 128], `frame ${i} gray`);
  assertUniform(g.frames[6], [0, 50, 250], 'D=2: frame 6');
  assertUniform(g.frames[7], [0, 50, 250], 'D=2: frame 7');
  assert.deepEqual(g.generateMask, [false, false, false, true, true, true, false, false]);
});

test('subsequent: strength, desaturation and brightness apply to every overlap frame when there is no fade', () => {
  const prev = [solid(200, 100, 0), solid(100, 100, 100)];
  const g = buildGuideFrames(input({ startAnchor: null, previousFrames: prev, totalFrames: 5, strengthAdjustment: -0.5, desaturate: 0.5, brightness: 0.5 }));
  // blend(gray, (200,100,0), .5) = (164,114,64); luma = 123; desat .5 → (143.5,118.5,93.5) → ties to even (144,118,94); ×0.5 → (72,59,47).
  const expect0 = brightness(desaturate(blend(solid(128, 128, 128), prev[0], 0.5), 0.5), 0.5);
  assert.deepEqual(px(g.frames[0]), px(expect0));
  assert.deepEqual(px(g.frames[0]), [72, 59, 47]);
  assertUniform(g.frames[1], [57, 57, 57], 'a gray frame stays gray through desaturation, then halves');
  assert.deepEqual(g.generateMask, [true, true, true, true, false]);
});

test('subsequent: an ease_in_out fade-out over the overlap reaches gray at k, later frames untouched', () => {
  const prev = [solid(0, 0, 0), solid(0, 0, 0), solid(255, 255, 255)];
  const g = buildGuideFrames(input({ startAnchor: null, previousFrames: prev, totalFrames: 6, fadeOut: { lowPoint: 0, highPoint: 1, curveType: 'ease_in_out', durationFactor: 0.7 } }));
  // R=3, k=int(2.1)=2: j=1 → w=e(.5)=.5 → 64; j=2 → w=0 → gray; frame 2 untouched.
  assertUniform(g.frames[0], [64, 64, 64], 'half faded');
  assertUniform(g.frames[1], [128, 128, 128], 'faded to gray');
  assert.ok(g.frames[2].equals(prev[2]));
  assert.deepEqual(g.generateMask.slice(0, 3), [true, true, false]);
});

test('guide input errors name the field', () => {
  assert.throws(() => buildGuideFrames(input({ startAnchor: null })), (e: unknown) => e instanceof ValidationError && e.field === 'previousFrames');
  assert.throws(() => buildGuideFrames(input({ endAnchor: Buffer.alloc(3) })), (e: unknown) => e instanceof ValidationError && e.field === 'endAnchor');
  assert.throws(() => buildGuideFrames(input({ previousFrames: [START] })), (e: unknown) => e instanceof ValidationError && e.field === 'startAnchor');
  assert.equal(buildGuideFrames(input({ totalFrames: 0 })).frames.length, 0);
});

test('parseFadeParams: defaults on bad JSON, missing keys default, numbers from strings', () => {
  assert.deepEqual(parseFadeParams(null), DEFAULT_FADE);
  assert.deepEqual(parseFadeParams('{oops'), DEFAULT_FADE);
  assert.deepEqual(parseFadeParams('{"low_point": "x"}'), DEFAULT_FADE);
  assert.deepEqual(parseFadeParams('{"duration_factor": 0.5, "curve_type": "linear", "high_point": "0.8"}'), { lowPoint: 0, highPoint: 0.8, curveType: 'linear', durationFactor: 0.5 });
});

test('frame arithmetic: Σ lengths − Σ overlaps, the README sample is 60, Wan lengths, cosine weights', () => {
  assert.equal(segmentTotalFrames(30, 10), 40);
  assert.equal(stitchedFrameCount([29, 41], [10]), 60);
  assert.equal(stitchedFrameCount([81, 97, 97], [16, 16]), 243);
  assert.equal(stitchedFrameCount([5, 5], [0]), 10);
  assert.throws(() => stitchedFrameCount([10, 5, 10], [3, 3]), (e: unknown) => e instanceof ValidationError && /video 1 has 5 frames/.test(e.message));
  assert.throws(() => stitchedFrameCount([10, 10], []), ValidationError);
  assert.deepEqual([1, 2, 5, 29, 30, 33].map(wanLength), [1, 5, 5, 29, 33, 33]);
  assert.equal(crossfadeAlpha(9, 10), 1);
  assert.ok(Math.abs(crossfadeAlpha(0, 10) - 0.0245) < 1e-4);
  assert.ok(crossfadeAlpha(3, 10) < crossfadeAlpha(4, 10));
});
