/**
 * Image resampling for super-resolution (SR3, Saharia et al. 2021): the low-resolution input is
 * made from a high-resolution image by area downsampling (the mean of each s x s block, i.e.
 * box filtering then decimation: no aliasing for integer factors, and exact for the block means),
 * and brought back to the high resolution by bicubic interpolation (Keys 1981, cubic convolution
 * with a = -0.5, the kernel of MATLAB's imresize and PIL's BICUBIC), with half-pixel centres
 * (output pixel centre (i + 0.5) / s - 0.5 in input pixels, as align_corners=False) and edge pixels
 * replicated beyond the border. Both work on (N, H, W, C) tensors of any dtype, without gradients.
 */
import { Tensor, allocStorage } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';

/** Keys' cubic-convolution parameter: -0.5 makes the interpolant third-order accurate (Keys 1981, sec. 3). */
export const BICUBIC_A = -0.5;

function checkImages(op: string, x: unknown): asserts x is Tensor {
  expectTensor(op, 'x', x);
  if (x.rank !== 4 || x.shape.some((d) => d < 1)) throw new ShapeError(`${op}: 'x' must be images (N, H, W, C), found shape ${fmtShape(x.shape)}`);
}

function checkFactor(op: string, factor: unknown): asserts factor is number {
  if (typeof factor !== 'number' || !Number.isInteger(factor) || factor < 1) throw new ArgumentError(`${op}: 'factor' must be an integer >= 1, found ${String(factor)}`);
}

/**
 * Area downsampling by an integer factor: output pixel (i, j) is the mean of the input block
 * rows s i .. s i + s - 1, columns s j .. s j + s - 1. H and W must be multiples of s.
 * @example areaDownsample(hr, 2) // (N, 28, 28, 1) -> (N, 14, 14, 1)
 */
export function areaDownsample(x: Tensor, factor: number): Tensor {
  const op = 'areaDownsample';
  checkImages(op, x);
  checkFactor(op, factor);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (h % factor !== 0 || w % factor !== 0) {
    throw new ShapeError(`${op}: image size ${h}x${w} (x ${fmtShape(x.shape)}) is not a multiple of the factor ${factor}; crop or resize the images to a multiple first`);
  }
  const ho = h / factor;
  const wo = w / factor;
  const src = x.toArray(x.dtype);
  const out = allocStorage(x.dtype, n * ho * wo * c); // (N, H/s, W/s, C)
  const inv = 1 / (factor * factor);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let k = 0; k < c; k++) {
          let s = 0;
          for (let di = 0; di < factor; di++) {
            const row = ((b * h + i * factor + di) * w + j * factor) * c + k;
            for (let dj = 0; dj < factor; dj++) s += src[row + dj * c]!;
          }
          out[((b * ho + i) * wo + j) * c + k] = s * inv;
        }
      }
    }
  }
  return new Tensor(out, [n, ho, wo, c]);
}

/** Keys' cubic kernel W(d) with parameter a. */
function cubic(d: number, a: number): number {
  const t = Math.abs(d);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/** For each of `out` output positions: the 4 input indices (edge-clamped) and their weights. */
function taps(inSize: number, out: number, a: number): { idx: Int32Array; wt: Float64Array } {
  const idx = new Int32Array(out * 4);
  const wt = new Float64Array(out * 4);
  const scale = inSize / out;
  for (let o = 0; o < out; o++) {
    const src = (o + 0.5) * scale - 0.5;
    const f = Math.floor(src);
    for (let k = 0; k < 4; k++) {
      const p = f - 1 + k;
      idx[o * 4 + k] = Math.min(inSize - 1, Math.max(0, p));
      wt[o * 4 + k] = cubic(src - p, a);
    }
  }
  return { idx, wt };
}

/**
 * Bicubic resize of (N, H, W, C) images to (N, outH, outW, C) (separable: rows, then columns).
 * Values may overshoot the input range slightly near edges, as bicubic interpolation does.
 * @example bicubicResize(lr, 28, 28) // (N, 14, 14, 1) -> (N, 28, 28, 1)
 */
export function bicubicResize(x: Tensor, outH: number, outW: number, a = BICUBIC_A): Tensor {
  const op = 'bicubicResize';
  checkImages(op, x);
  for (const [name, v] of [['outH', outH], ['outW', outW]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: '${name}' must be an integer >= 1, found ${String(v)}`);
  }
  if (typeof a !== 'number' || !Number.isFinite(a)) throw new ArgumentError(`${op}: 'a' must be a finite number, found ${String(a)}`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const src = x.toArray(x.dtype);
  const tx = taps(w, outW, a);
  const ty = taps(h, outH, a);
  // Horizontal pass: (N, H, outW, C) in float64.
  const mid = new Float64Array(n * h * outW * c);
  for (let r = 0; r < n * h; r++) {
    for (let j = 0; j < outW; j++) {
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = 0; t < 4; t++) s += tx.wt[j * 4 + t]! * src[(r * w + tx.idx[j * 4 + t]!) * c + k]!;
        mid[(r * outW + j) * c + k] = s;
      }
    }
  }
  // Vertical pass: (N, outH, outW, C).
  const out = allocStorage(x.dtype, n * outH * outW * c);
  const rowLen = outW * c;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < outH; i++) {
      const o = (b * outH + i) * rowLen;
      const m0 = (b * h + ty.idx[i * 4]!) * rowLen;
      const m1 = (b * h + ty.idx[i * 4 + 1]!) * rowLen;
      const m2 = (b * h + ty.idx[i * 4 + 2]!) * rowLen;
      const m3 = (b * h + ty.idx[i * 4 + 3]!) * rowLen;
      const [w0, w1, w2, w3] = [ty.wt[i * 4]!, ty.wt[i * 4 + 1]!, ty.wt[i * 4 + 2]!, ty.wt[i * 4 + 3]!];
      for (let q = 0; q < rowLen; q++) out[o + q] = w0 * mid[m0 + q]! + w1 * mid[m1 + q]! + w2 * mid[m2 + q]! + w3 * mid[m3 + q]!;
    }
  }
  return new Tensor(out, [n, outH, outW, c]);
}

/**
 * The SR3 conditioning of high-resolution images: area-downsample by `scale`, then bicubic back
 * up to the original size. Returns both the low-resolution images and their upsampled version.
 * @example const { lr, up } = degrade(hr, 2); // lr (N, 14, 14, 1), up (N, 28, 28, 1)
 */
export function degrade(hr: Tensor, scale: number): { lr: Tensor; up: Tensor } {
  const lr = areaDownsample(hr, scale);
  return { lr, up: bicubicResize(lr, hr.shape[1]!, hr.shape[2]!) };
}
