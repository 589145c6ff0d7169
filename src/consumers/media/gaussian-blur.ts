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

/**
 * Blur `src` (width*height*3 floats) into `out`; `tmp` is scratch of the same size. Each row is
 * first copied with its reflected border into a padded line, so the hot loops have no border
 * branches, and the symmetric kernel halves the multiplies.
 */
export function gaussianBlurRgb(src: Float32Array, out: Float32Array, tmp: Float32Array, width: number, height: number, sigma: number): void {
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) >> 1;
  const rs = width * 3;
  const kc = k[r];
  const pad = padLine(rs + 6 * r);
  for (let y = 0; y < height; y++) {
    const row = y * rs;
    for (let x = -r; x < width + r; x++) {
      const p = (x + r) * 3;
      const q = row + reflect101(x, width) * 3;
      pad[p] = src[q];
      pad[p + 1] = src[q + 1];
      pad[p + 2] = src[q + 2];
    }
    for (let i = 0; i < rs; i++) {
      const c = i + r * 3;
      let acc = kc * pad[c];
      for (let t = 1; t <= r; t++) acc += k[r + t] * (pad[c - 3 * t] + pad[c + 3 * t]);
      tmp[row + i] = acc;
    }
  }
  // Vertical pass row by row, so the inner loops walk memory contiguously.
  for (let y = 0; y < height; y++) {
    const o = y * rs;
    for (let i = 0; i < rs; i++) out[o + i] = kc * tmp[o + i];
    for (let t = 1; t <= r; t++) {
      const a = reflect101(y - t, height) * rs;
      const b = reflect101(y + t, height) * rs;
      const kv = k[r + t];
      for (let i = 0; i < rs; i++) out[o + i] += kv * (tmp[a + i] + tmp[b + i]);
    }
  }
}

let padScratch = new Float32Array(0);
function padLine(n: number): Float32Array {
  if (padScratch.length < n) padScratch = new Float32Array(n);
  return padScratch;
}
