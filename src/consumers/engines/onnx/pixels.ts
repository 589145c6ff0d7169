/**
 * Conversions between rgb24 frames (what ffmpeg gives and takes) and float32 tensors.
 * NHWC float keeps the byte order, so packing is a plain widening copy.
 */

/** Copies frames (each width·height·3 bytes) into one NHWC float32 batch. */
export function packNhwc(frames: readonly Buffer[], frameBytes: number): Float32Array {
  const out = new Float32Array(frames.length * frameBytes);
  frames.forEach((f, i) => {
    const base = i * frameBytes;
    for (let j = 0; j < frameBytes; j++) out[base + j] = f[j];
  });
  return out;
}

/**
 * Float pixels → uint8, truncated like the seed's float32 blends (not rounded), so integer inputs
 * that pass through unchanged stay bit-exact.
 */
export function toBytes(data: Float32Array, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let j = 0; j < length; j++) {
    const v = data[offset + j];
    out[j] = v >= 255 ? 255 : v > 0 ? Math.floor(v) : 0;
  }
  return out;
}

/** rgb24 frames → NCHW float in 0..1 (the convention of RIFE / Real-ESRGAN / pose ONNX exports). */
export function packNchwUnit(frames: readonly Buffer[], width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(frames.length * 3 * plane);
  frames.forEach((f, n) => {
    const base = n * 3 * plane;
    for (let p = 0; p < plane; p++) {
      out[base + p] = f[p * 3] / 255;
      out[base + plane + p] = f[p * 3 + 1] / 255;
      out[base + 2 * plane + p] = f[p * 3 + 2] / 255;
    }
  });
  return out;
}

/** One NCHW 0..1 image (C = 1 or ≥3) of a batch → rgb24, rounded to nearest. */
export function unpackNchwUnit(data: Float32Array, index: number, channels: number, width: number, height: number): Buffer {
  const plane = width * height;
  const base = index * channels * plane;
  const out = Buffer.allocUnsafe(plane * 3);
  const clamp = (v: number) => (v >= 1 ? 255 : v > 0 ? Math.round(v * 255) : 0);
  for (let p = 0; p < plane; p++) {
    if (channels === 1) {
      const g = clamp(data[base + p]);
      out[p * 3] = g;
      out[p * 3 + 1] = g;
      out[p * 3 + 2] = g;
    } else {
      out[p * 3] = clamp(data[base + p]);
      out[p * 3 + 1] = clamp(data[base + plane + p]);
      out[p * 3 + 2] = clamp(data[base + 2 * plane + p]);
    }
  }
  return out;
}

/** Frames per session.run so one batch's input tensors stay near `budgetBytes`. */
export function batchSize(frameBytes: number, tensorsPerFrame: number, budgetBytes = 64 * 1024 * 1024): number {
  return Math.max(1, Math.floor(budgetBytes / (frameBytes * 4 * tensorsPerFrame)));
}
