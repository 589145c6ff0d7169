/** The media pipeline's public surface: frames IO, pixel ops, guides, the stitch, whole-file ops. */
export { probeVideo, imageToFrame, readFrames, decodeFrames, writeVideo, writeImage } from './frames-io.ts';
export type { VideoInfo, DecodeOptions, WriteVideoOptions, VideoWriter } from './frames-io.ts';
export { ease } from './easing.ts';
export { blend, desaturate, brightness, grayFrame, solidFrame, crossfadeFrame, CrossfadeScratch, GRAY_LEVEL } from './frame-ops.ts';
export { buildGuideFrames, parseFadeParams, DEFAULT_FADE } from './guide.ts';
export type { FadeParams, GuideInput, Guide } from './guide.ts';
export { stitchVideos } from './stitch.ts';
export { stitchVideosCopying } from './stitch-copy.ts';
export { encodeForStitch, segmentKeyframes } from './stitch-encode.ts';
export type { StitchOptions } from './stitch.ts';
export { adjustSaturation, scaleVideo, extractFrame, concatVideos } from './ops.ts';
export { segmentTotalFrames, stitchedFrameCount, crossfadeAlpha, wanLength } from './frame-math.ts';
