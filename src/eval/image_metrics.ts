/**
 * Full-reference image quality for super-resolution, on images with values in [0, L] (L = 1 here):
 * - PSNR = 10 log10(L^2 / MSE) (infinite for identical images).
 * - SSIM (Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error visibility
 *   to structural similarity", eq. 13 and sec. III-C): local statistics under an 11x11 circular
 *   Gaussian window of standard deviation 1.5 (normalised to sum 1),
 *     SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
 *   C1 = (K1 L)^2, C2 = (K2 L)^2, K1 = 0.01, K2 = 0.03, evaluated at every window position that
 *   fits inside the image (MATLAB's ssim_index 'valid' filtering; no padding), averaged over
 *   positions and channels (MSSIM). Images smaller than the window are an error.
 * Statistics are computed in float64.
 */
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/** SSIM's window: 11x11 Gaussian, sigma 1.5 (Wang et al. 2004, sec. III-C). */
export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
/** SSIM's stabilising constants' factors (Wang et al. 2004: K1 = 0.01, K2 = 0.03). */
export const SSIM_K1 = 0.01;
export const SSIM_K2 = 0.03;

/**
 * PSNR in dB of `x` against the reference `y` (same length), values in [0, dataRange].
 * @example psnr([0.5, 0.5], [0.6, 0.6]) // 20 dB (MSE 0.01)
 */
export function psnr(x: ArrayLike<number>, y: ArrayLike<number>, dataRange = 1): number {
  if (x.length !== y.length || x.length === 0) throw new ShapeError(`psnr: the images have ${x.length} and ${y.length} values; expected the same, non-zero count`);
  if (!(dataRange > 0)) throw new ArgumentError(`psnr: dataRange must be > 0, found ${dataRange}`);
  let se = 0;
  for (let i = 0; i < x.length; i++) se += (x[i]! - y[i]!) ** 2;
  const mse = se / x.length;
  return mse === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / mse);
}

/** The normalised 1-D Gaussian (the 2-D window is its outer product). */
function gaussian1d(size: number, sigma: number): Float64Array {
  const g = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) s += g[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < size; i++) g[i]! /= s;
  return g;
}

/** Valid separable filtering of one channel plane (h, w) -> (h - k + 1, w - k + 1). */
function filterValid(p: Float64Array, h: number, w: number, g: Float64Array): Float64Array {
  const k = g.length;
  const wo = w - k + 1;
  const ho = h - k + 1;
  const rows = new Float64Array(h * wo);
  for (let i = 0; i < h; i++) for (let j = 0; j < wo; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += g[t]! * p[i * w + j + t]!;
    rows[i * wo + j] = s;
  }
  const out = new Float64Array(ho * wo);
  for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += g[t]! * rows[(i + t) * wo + j]!;
    out[i * wo + j] = s;
  }
  return out;
}

/**
 * Mean SSIM of one image `x` against the reference `y`, both (H, W, C) row-major, values in [0, dataRange].
 * @example ssim(a, b, 28, 28, 1) // 1 for identical images
 */
export function ssim(x: ArrayLike<number>, y: ArrayLike<number>, h: number, w: number, c: number, dataRange = 1): number {
  const op = 'ssim';
  if (x.length !== h * w * c || y.length !== h * w * c) throw new ShapeError(`${op}: the images have ${x.length} and ${y.length} values, expected ${h}x${w}x${c} = ${h * w * c}`);
  if (h < SSIM_WINDOW || w < SSIM_WINDOW) throw new ShapeError(`${op}: images of ${h}x${w} are smaller than the ${SSIM_WINDOW}x${SSIM_WINDOW} window`);
  if (!(dataRange > 0)) throw new ArgumentError(`${op}: dataRange must be > 0, found ${dataRange}`);
  const g = gaussian1d(SSIM_WINDOW, SSIM_SIGMA);
  const c1 = (SSIM_K1 * dataRange) ** 2;
  const c2 = (SSIM_K2 * dataRange) ** 2;
  let total = 0;
  let count = 0;
  for (let ch = 0; ch < c; ch++) {
    const px = new Float64Array(h * w);
    const py = new Float64Array(h * w);
    for (let i = 0; i < h * w; i++) {
      px[i] = x[i * c + ch]!;
      py[i] = y[i * c + ch]!;
    }
    const mx = filterValid(px, h, w, g);
    const my = filterValid(py, h, w, g);
    const xx = filterValid(px.map((v) => v * v), h, w, g);
    const yy = filterValid(py.map((v) => v * v), h, w, g);
    const xy = filterValid(px.map((v, i) => v * py[i]!), h, w, g);
    for (let i = 0; i < mx.length; i++) {
      const ux = mx[i]!;
      const uy = my[i]!;
      const vx = xx[i]! - ux * ux;
      const vy = yy[i]! - uy * uy;
      const cxy = xy[i]! - ux * uy;
      total += ((2 * ux * uy + c1) * (2 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
      count++;
    }
  }
  return total / count;
}

/** Per-image PSNR and SSIM of a batch against references. */
export interface ImageQuality {
  psnr: number[];
  ssim: number[];
}

/**
 * PSNR and SSIM of each image of `x` against the same image of `reference`, both (N, H, W, C)
 * in the model range [-1, 1], measured on [0, 1] ((v + 1) / 2, clamped).
 * @example const q = imageQuality(sr, hr); mean(q.psnr)
 */
export function imageQuality(x: Tensor, reference: Tensor): ImageQuality {
  const op = 'imageQuality';
  if (!(x instanceof Tensor) || !(reference instanceof Tensor) || x.rank !== 4 || x.shape.join() !== reference.shape.join()) {
    throw new ShapeError(`${op}: expected two image batches (N, H, W, C) of the same shape, found ${x instanceof Tensor ? fmtShape(x.shape) : typeof x} and ${reference instanceof Tensor ? fmtShape(reference.shape) : typeof reference}`);
  }
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const per = h * w * c;
  const unit = (v: number): number => Math.min(1, Math.max(0, (v + 1) / 2));
  const out: ImageQuality = { psnr: [], ssim: [] };
  const xs = x.toArray();
  const rs = reference.toArray();
  for (let i = 0; i < n; i++) {
    const a = Float64Array.from(xs.subarray(i * per, (i + 1) * per), unit);
    const b = Float64Array.from(rs.subarray(i * per, (i + 1) * per), unit);
    out.psnr.push(psnr(a, b));
    out.ssim.push(ssim(a, b, h, w, c));
  }
  return out;
}
