import onnxProto from 'onnx-proto';
import { encodeModel, floatInput, floatTensor, int64Tensor, node, type Dim, type ValueInfoProto } from './onnx-graph.ts';

/**
 * The three graphs smq ships in models/, written from code (no weights are downloaded).
 * All tensors are float32 pixel values 0..255 in NHWC (frames × height × width × rgb), the layout
 * frames come out of ffmpeg in, so no host-side transposes are needed.
 * Input/output names here are the contract onnx-engine.ts relies on.
 */
export const FRAME_SYNTH = {
  file: 'frame_synth.onnx',
  inputs: ['guide', 'keep', 'prev', 'next', 'weight'],
  output: 'frames',
} as const;
export const UPSCALE = { file: 'upscale.onnx', inputs: ['frames', 'scale'], output: 'upscaled' } as const;
export const STRUCTURE = { file: 'structure.onnx', inputs: ['frames', 'threshold'], output: 'edges' } as const;

const OPSET = 13;

/**
 * VACE-like synthesizer: out = keep·guide + (1−keep)·(prev·(1−w) + next·w).
 * With keep = 1 the second term is exactly 0 and 1·guide is exact in float32, so kept frames come
 * out bit-for-bit; the eased weights and the nearest known frames are chosen on the host.
 */
export function frameSynthModel(): Uint8Array {
  const frame = ['T', 'H', 'W', 3];
  const perFrame = ['T', 1, 1, 1];
  return encodeModel({
    name: 'smq_frame_synth',
    doc: 'smq frame synthesizer: keep*guide + (1-keep)*(prev*(1-weight) + next*weight)',
    opset: OPSET,
    inputs: [floatInput('guide', frame), floatInput('keep', perFrame), floatInput('prev', frame), floatInput('next', frame), floatInput('weight', perFrame)],
    outputs: [floatInput('frames', frame)],
    initializers: [floatTensor('one', [], [1])],
    nodes: [
      node('Sub', ['one', 'weight'], ['inv_weight']),
      node('Mul', ['prev', 'inv_weight'], ['prev_part']),
      node('Mul', ['next', 'weight'], ['next_part']),
      node('Add', ['prev_part', 'next_part'], ['synth']),
      node('Sub', ['one', 'keep'], ['inv_keep']),
      node('Mul', ['keep', 'guide'], ['kept_part']),
      node('Mul', ['inv_keep', 'synth'], ['synth_part']),
      node('Add', ['kept_part', 'synth_part'], ['frames']),
    ],
  });
}

/** Bicubic upscaler; `scale` is a one-element tensor so one model serves every factor. */
export function upscaleModel(): Uint8Array {
  return encodeModel({
    name: 'smq_upscale',
    doc: 'smq resize-based upscaler (cubic, half_pixel), clipped to 0..255',
    opset: OPSET,
    inputs: [floatInput('frames', ['N', 'H', 'W', 3]), floatInput('scale', [1])],
    outputs: [floatInput('upscaled', ['N', 'H_out', 'W_out', 3])],
    initializers: [floatTensor('unit_scales', [2], [1, 1]), floatTensor('lo', [], [0]), floatTensor('hi', [], [255])],
    nodes: [
      node('Transpose', ['frames'], ['nchw'], { perm: [0, 3, 1, 2] }),
      node('Concat', ['unit_scales', 'scale', 'scale'], ['scales'], { axis: 0 }),
      node('Resize', ['nchw', '', 'scales'], ['resized'], { mode: 'cubic', coordinate_transformation_mode: 'half_pixel' }),
      node('Clip', ['resized', 'lo', 'hi'], ['clipped']),
      node('Transpose', ['clipped'], ['upscaled'], { perm: [0, 2, 3, 1] }),
    ],
  });
}

/**
 * Structure guide: BT.601 luma, Sobel gradients (edge-padded so image borders are not edges),
 * gradient magnitude, thresholded to 0/255. One channel out.
 */
export function structureModel(): Uint8Array {
  const sobelX = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
  const sobelY = [-1, -2, -1, 0, 0, 0, 1, 2, 1];
  return encodeModel({
    name: 'smq_structure',
    doc: 'smq structure extractor: luma -> Sobel magnitude -> threshold (0/255)',
    opset: OPSET,
    inputs: [floatInput('frames', ['N', 'H', 'W', 3]), floatInput('threshold', [1])],
    outputs: [floatInput('edges', ['N', 'H', 'W', 1])],
    initializers: [
      floatTensor('luma_w', [1, 3, 1, 1], [0.299, 0.587, 0.114]),
      floatTensor('sobel_w', [2, 1, 3, 3], [...sobelX, ...sobelY]),
      int64Tensor('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1]),
      int64Tensor('channel_axis', [1], [1]),
      floatTensor('white', [], [255]),
    ],
    nodes: [
      node('Transpose', ['frames'], ['nchw'], { perm: [0, 3, 1, 2] }),
      node('Conv', ['nchw', 'luma_w'], ['luma']),
      node('Pad', ['luma', 'pads'], ['padded'], { mode: 'edge' }),
      node('Conv', ['padded', 'sobel_w'], ['grads']),
      node('Mul', ['grads', 'grads'], ['grads_sq']),
      node('ReduceSum', ['grads_sq', 'channel_axis'], ['mag_sq'], { keepdims: 1 }),
      node('Sqrt', ['mag_sq'], ['magnitude']),
      node('Greater', ['magnitude', 'threshold'], ['is_edge']),
      node('Cast', ['is_edge'], ['edge_f'], { to: 1 }),
      node('Mul', ['edge_f', 'white'], ['edges_nchw']),
      node('Transpose', ['edges_nchw'], ['edges'], { perm: [0, 2, 3, 1] }),
    ],
  });
}

/** Every shipped model, file name → bytes (what `npm run models` writes). */
export function allModels(): Record<string, Uint8Array> {
  return {
    [FRAME_SYNTH.file]: frameSynthModel(),
    [UPSCALE.file]: upscaleModel(),
    [STRUCTURE.file]: structureModel(),
    [CROSSFADE.file]: crossfadeModel(),
  };
}

/**
 * The stitch's cross-fade (spec 02 §4.3), every frame of one join in one run:
 *   base = A(1−α) + Bα;  out = floor(clip(base·(1+sα) − G(base)·sα, 0, 255))
 * G is a σ=3 Gaussian with 25 taps (OpenCV's getGaussianKernel(25, 3)) and reflect-101 borders
 * (ONNX Pad 'reflect' does not repeat the edge sample, which is what reflect-101 means).
 * Frames go in and out as rgb24 bytes (uint8 NHWC), so the host copies bytes instead of widening
 * and narrowing every pixel in JS; the layout changes happen on uint8, a quarter of the traffic.
 */
export const CROSSFADE = { file: 'crossfade.onnx', inputs: ['A', 'B', 'alpha', 's'], output: 'out' } as const;

/**
 * Planes per depthwise convolution. onnxruntime's CPU Conv is fastest in its blocked 8-channel
 * layout, where a 1- or 3-channel image is padded to 8 channels and most of the work is wasted;
 * 24 planes = 8 frames × rgb fill it exactly. Callers feed a multiple of CROSSFADE_BATCH_MULTIPLE
 * frames (padding the batch with repeats).
 */
const PLANES = 24;
export const CROSSFADE_BATCH_MULTIPLE = PLANES / 3;

/** getGaussianKernel(size, sigma) in double precision, normalised to sum 1. */
export function gaussianTaps(size: number, sigma: number): number[] {
  const r = (size - 1) / 2;
  const d = Array.from({ length: size }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = d.reduce((a, b) => a + b, 0);
  return d.map((v) => v / sum);
}

function uint8Input(name: string, dims: Dim[]): ValueInfoProto {
  const v = floatInput(name, dims);
  v.type!.tensorType!.elemType = onnxProto.onnx.TensorProto.DataType.UINT8;
  return v;
}

export function crossfadeModel(): Uint8Array {
  const taps = gaussianTaps(25, 3);
  const r = (taps.length - 1) / 2;
  const perPlane = (t: number[]) => Array.from({ length: PLANES }, () => t).flat();
  const frame = ['N', 'H', 'W', 3];
  return encodeModel({
    name: 'smq_crossfade',
    doc: 'smq stitch cross-fade: floor(clip(base + (base - gauss25_sigma3_reflect101(base))*s*alpha, 0, 255)), base = A + (B - A)*alpha; uint8 NHWC in and out',
    opset: OPSET,
    inputs: [uint8Input('A', frame), uint8Input('B', frame), floatInput('alpha', ['N', 1, 1, 1]), floatInput('s', [1])],
    outputs: [uint8Input('out', frame)],
    initializers: [
      floatTensor('lo', [], [0]),
      floatTensor('hi', [], [255]),
      floatTensor('taps_w', [PLANES, 1, 1, taps.length], perPlane(taps)),
      floatTensor('taps_h', [PLANES, 1, taps.length, 1], perPlane(taps)),
      int64Tensor('pads', [8], [0, 0, r, r, 0, 0, r, r]),
      int64Tensor('planes_shape', [4], [-1, PLANES, 0, 0]),
    ],
    nodes: [
      node('Transpose', ['A'], ['a_nchw_u8'], { perm: [0, 3, 1, 2] }),
      node('Transpose', ['B'], ['b_nchw_u8'], { perm: [0, 3, 1, 2] }),
      node('Cast', ['a_nchw_u8'], ['a_nchw'], { to: 1 }),
      node('Cast', ['b_nchw_u8'], ['b_nchw'], { to: 1 }),
      node('Sub', ['b_nchw', 'a_nchw'], ['b_minus_a']),
      node('Mul', ['b_minus_a', 'alpha'], ['towards_b']),
      node('Add', ['a_nchw', 'towards_b'], ['base']),
      // Both borders padded at once, so the two convolutions are adjacent and stay in the blocked layout.
      node('Shape', ['base'], ['nchw_shape']),
      node('Reshape', ['base', 'planes_shape'], ['planes']),
      node('Pad', ['planes', 'pads'], ['padded'], { mode: 'reflect' }),
      node('Conv', ['padded', 'taps_w'], ['blur_w'], { group: PLANES }),
      node('Conv', ['blur_w', 'taps_h'], ['blur_planes'], { group: PLANES }),
      node('Reshape', ['blur_planes', 'nchw_shape'], ['blur']),
      node('Sub', ['base', 'blur'], ['detail']),
      node('Mul', ['s', 'alpha'], ['amt']),
      node('Mul', ['detail', 'amt'], ['boost']),
      node('Add', ['base', 'boost'], ['sharpened']),
      node('Clip', ['sharpened', 'lo', 'hi'], ['clipped']),
      node('Floor', ['clipped'], ['floored']),
      node('Cast', ['floored'], ['out_nchw'], { to: 2 }),
      node('Transpose', ['out_nchw'], ['out'], { perm: [0, 2, 3, 1] }),
    ],
  });
}
