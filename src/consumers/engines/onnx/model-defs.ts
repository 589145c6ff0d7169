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
 * The stitch's cross-fade (spec 02 §4.3), CROSSFADE_FRAMES frame pairs per run:
 *   base = A(1−α) + Bα;  out = trunc(clip(base·(1+sα) − G(base)·sα, 0, 255))
 * G is a σ=3 Gaussian with 25 taps (OpenCV's getGaussianKernel(25, 3)) and reflect-101 borders
 * (ONNX Pad 'reflect' does not repeat the edge sample, which is what reflect-101 means).
 * Frames go in and out as rgb24 bytes (uint8 NHWC) and stay in that layout: each frame is one
 * plane of H × 3W interleaved samples, blurred horizontally with a dilation of 3 (so red only
 * meets red) and vertically as is. No transposes, and 8 planes fill onnxruntime's blocked
 * 8-channel convolution layout exactly. The batch is fixed (Conv's group must be), and 8 frames
 * keep the float intermediates small enough to stay fast (a 16-frame batch ran 1.5–3× slower
 * per frame and held 600 MB at 640×360). The uint8 Cast truncates, which is the floor here since
 * the value is already clipped to ≥ 0.
 */
export const CROSSFADE = { file: 'crossfade.onnx', inputs: ['A', 'B', 'alpha', 's'], output: 'out' } as const;
export const CROSSFADE_FRAMES = 8;

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
  const G = CROSSFADE_FRAMES;
  const perPlane = (t: number[]) => Array.from({ length: G }, () => t).flat();
  const frame = [G, 'H', 'W', 3];
  return encodeModel({
    name: 'smq_crossfade',
    doc: 'smq stitch cross-fade: trunc(clip(base + (base - gauss25_sigma3_reflect101(base))*s*alpha, 0, 255)), base = A + (B - A)*alpha; 8 frames, uint8 NHWC in and out',
    opset: OPSET,
    inputs: [uint8Input('A', frame), uint8Input('B', frame), floatInput('alpha', [G, 1, 1, 1]), floatInput('s', [1])],
    outputs: [uint8Input('out', frame)],
    initializers: [
      floatTensor('lo', [], [0]),
      floatTensor('hi', [], [255]),
      floatTensor('taps_w', [G, 1, 1, taps.length], perPlane(taps)),
      floatTensor('taps_h', [G, 1, taps.length, 1], perPlane(taps)),
      // Pixel-level reflect-101 on H and W of NHWC (padding the interleaved row would mix channels).
      int64Tensor('pads', [8], [0, r, r, 0, 0, r, r, 0]),
      // [G, H+2r, W+2r, 3] → [G, H+2r, (W+2r)·3]: one plane per frame.
      int64Tensor('planes_shape', [3], [0, 0, -1]),
      int64Tensor('batch_axis', [1], [0]),
    ],
    nodes: [
      node('Cast', ['A'], ['a'], { to: 1 }),
      node('Cast', ['B'], ['b'], { to: 1 }),
      node('Sub', ['b', 'a'], ['b_minus_a']),
      node('Mul', ['b_minus_a', 'alpha'], ['towards_b']),
      node('Add', ['a', 'towards_b'], ['base']),
      node('Shape', ['base'], ['frame_shape']),
      node('Pad', ['base', 'pads'], ['padded'], { mode: 'reflect' }),
      node('Reshape', ['padded', 'planes_shape'], ['planes3']),
      node('Unsqueeze', ['planes3', 'batch_axis'], ['planes']),
      node('Conv', ['planes', 'taps_w'], ['blur_w'], { group: G, dilations: [1, 3] }),
      node('Conv', ['blur_w', 'taps_h'], ['blur_planes'], { group: G }),
      node('Reshape', ['blur_planes', 'frame_shape'], ['blur']),
      node('Sub', ['base', 'blur'], ['detail']),
      node('Mul', ['s', 'alpha'], ['amt']),
      node('Mul', ['detail', 'amt'], ['boost']),
      node('Add', ['base', 'boost'], ['sharpened']),
      node('Clip', ['sharpened', 'lo', 'hi'], ['clipped']),
      node('Cast', ['clipped'], ['out'], { to: 2 }),
    ],
  });
}
