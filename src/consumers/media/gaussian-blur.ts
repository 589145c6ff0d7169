/**
 * Separable Gaussian blur on interleaved float RGB, matching cv2.GaussianBlur((0,0), σ) on float32:
 * the auto kernel size round(σ·8+1)|1 (25 taps at σ=3) and BORDER_REFLECT_101 edges.
 */
const kernels = new Map<number, Float32Array>();

export function gaussianKernel(sigma: number): Float32Array {
  let k = kernels.get(sigma);
  if (k) return k;
  const size = Math.round(sigma * 8 + 1) | 1;
  const r = (size - 1) / 2;
  const d = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    d[i] = Math.exp(-((i - r) * (i - r)) / (2 * sigma * sigma));
    sum += d[i];
  }
  k = new Float32Array(size);
  for (let i = 0; i < size; i++) k[i] = d[i] / sum;
  kernels.set(sigma, k);
  return k;
}

/** Mirror index into [0, n) without repeating the edge sample (reflect-101). */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

/** Blur `src` (width*height*3 floats) into `out`; `tmp` is scratch of the same size. */
export function gaussianBlurRgb(src: Float32Array, out: Float32Array, tmp: Float32Array, width: number, height: number, sigma: number): void {
  const k = gaussianKernel(sigma);
  const ks = k.length;
  const r = (ks - 1) >> 1;
  const rs = width * 3;
  for (let y = 0; y < height; y++) {
    const row = y * rs;
    for (let x = 0; x < width; x++) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      if (x >= r && x < width - r) {
        // Interior: no border arithmetic in the hot loop.
        let p = row + (x - r) * 3;
        for (let t = 0; t < ks; t++, p += 3) {
          const kv = k[t];
          a0 += kv * src[p];
          a1 += kv * src[p + 1];
          a2 += kv * src[p + 2];
        }
      } else {
        for (let t = 0; t < ks; t++) {
          const p = row + reflect101(x + t - r, width) * 3;
          const kv = k[t];
          a0 += kv * src[p];
          a1 += kv * src[p + 1];
          a2 += kv * src[p + 2];
        }
      }
      const q = row + x * 3;
      tmp[q] = a0;
      tmp[q + 1] = a1;
      tmp[q + 2] = a2;
    }
  }
  // Vertical pass row by row, so the inner loop walks memory contiguously.
  out.fill(0);
  for (let y = 0; y < height; y++) {
    const o = y * rs;
    for (let t = 0; t < ks; t++) {
      const s = reflect101(y + t - r, height) * rs;
      const kv = k[t];
      for (let i = 0; i < rs; i++) out[o + i] += kv * tmp[s + i];
    }
  }
}
