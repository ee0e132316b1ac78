/**
 * Bits/dim of images under a discrete-time diffusion model by its variational bound (Ho et al.
 * 2020 eq. 5; improved-diffusion's `calc_bpd_loop`): per image, the prior term plus the sum of the
 * T per-timestep terms of vlb.ts, each at a fresh x_t ~ q(x_t | x_0).
 *
 * The sum needs T model evaluations per image. Two estimators, both unbiased for E[L_vlb]:
 * - exact (timestepsPerImage = 'all'): every t = 0..T-1, one noise draw each (improved-diffusion's);
 * - stratified Monte-Carlo (timestepsPerImage = K >= 2): t = 0 (the decoder term, large and not
 *   worth sampling) always, and t = 1..T-1 cut into K - 1 contiguous strata, narrow at small t and
 *   geometrically wider towards T (vlbStrata); one t drawn uniformly in each stratum j, weighted by
 *   the stratum's size n_j:
 *   L ≈ L_T + L_0 + sum_j n_j L_{t_j}. E over the draws is the exact sum, so the per-image values
 *   are independent unbiased estimates, and mean ± 1.96 SE over images is a confidence interval
 *   that includes the timestep-sampling (and x_t-noise) variance.
 */
import { progressHandler, type ProgressHandler } from '../sampling/progress.js';
import type { Tensor } from '../tensor/tensor.js';
import { sliceBatch } from '../ops/slice.js';
import { cast } from '../ops/copy.js';
import { noGrad } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import type { Generator } from '../tensor/random.js';
import { addNoise } from './forward.js';
import type { DiffusionVlb } from './vlb.js';

/** The model as the bound sees it: output (N, H, W, C or 2C) for x_t at per-sample timesteps, no graph. */
export type VlbModelFn = (xt: Tensor, timesteps: Float64Array, batchStart: number) => Tensor;

export interface VlbBpdOptions {
  /** 'all' (exact sum over t) or K >= 2 timesteps per image (stratified estimate); default 'all'. */
  timestepsPerImage?: number | 'all';
  /** Draws the timesteps and the noise. */
  generator: Generator;
  /** Images per model call (default 32). */
  batchSize?: number;
  /** Called after each model call with { step: model calls done, total: model calls in all }. */
  onProgress?: ProgressHandler;
  signal?: AbortSignal;
}

export interface VlbBpdResult {
  /** Per image: the bound in bits/dim (its estimate under K < T). */
  bpd: Float64Array;
  /** Per image: the prior term L_T. */
  prior: Float64Array;
  /** Per image: the decoder term L_0 = -log p(x_0 | x_1) / (D ln 2). */
  decoder: Float64Array;
  /** Mean and 95% confidence half-width (1.96 SE) of bpd over the images. */
  mean: number;
  ci95: number;
  /** The strata [start, end) of t and the mean over images of L_t at the t drawn in each (bits/dim per t). */
  strata: { start: number; end: number; meanTerm: number }[];
  /** Model evaluations run. */
  modelCalls: number;
  timestepsPerImage: number;
}

/** Mean and the normal-approximation 95% half-width (1.96 sample SD / sqrt(n)); Infinity for n < 2. */
export function meanCi95(values: ArrayLike<number>): { mean: number; ci95: number } {
  const n = values.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i]!;
  m /= Math.max(n, 1);
  let s2 = 0;
  for (let i = 0; i < n; i++) s2 += (values[i]! - m) ** 2;
  return { mean: m, ci95: n > 1 ? (1.96 * Math.sqrt(s2 / (n - 1))) / Math.sqrt(n) : Infinity };
}

/**
 * The strata of the estimator: [0, 1) (the decoder), then K - 1 contiguous pieces of [1, T) whose
 * widths grow geometrically (boundaries near T^(j / (K - 1))): the terms L_t are largest and change
 * fastest at small t, so narrow strata there keep the estimate's variance down. With K = T every
 * stratum is one timestep (the exact sum).
 */
export function vlbStrata(T: number, K: number): { start: number; end: number }[] {
  if (!Number.isInteger(K) || K < 2 || K > T) throw new ArgumentError(`vlbStrata: timesteps per image must be an integer in [2, T = ${T}], found ${String(K)}`);
  const m = K - 1;
  const bounds = [1];
  for (let j = 1; j <= m; j++) {
    const geometric = Math.round(T ** (j / m));
    // Strictly increasing, and room left for the strata still to come.
    bounds.push(Math.min(T - (m - j), Math.max(bounds[j - 1]! + 1, geometric)));
  }
  const out = [{ start: 0, end: 1 }];
  for (let j = 0; j < m; j++) out.push({ start: bounds[j]!, end: bounds[j + 1]! });
  return out;
}

/**
 * The variational bound of each image of x0 (N, H, W, C), in bits/dim.
 * @example
 * const r = vlbBitsPerDim((xt, t) => noGrad(() => unet.forward(xt, Float32Array.from(t), nullLabels)), vlb, images, { generator: new Generator(0), timestepsPerImage: 50 });
 * console.log(`${r.mean.toFixed(3)} ± ${r.ci95.toFixed(3)} bits/dim`);
 */
export function vlbBitsPerDim(model: VlbModelFn, vlb: DiffusionVlb, x0: Tensor, options: VlbBpdOptions): VlbBpdResult {
  const op = 'vlbBitsPerDim';
  expectTensor(op, 'x0', x0);
  if (x0.rank !== 4) throw new ShapeError(`${op}: input 'x0' must be (N, H, W, C), found shape ${fmtShape(x0.shape)}`);
  const T = vlb.numTimesteps;
  const K = options.timestepsPerImage === undefined || options.timestepsPerImage === 'all' ? T : options.timestepsPerImage;
  const strata = vlbStrata(T, K);
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError(`${op}: batchSize must be an integer >= 1, found ${String(batchSize)}`);
  const gen = options.generator;
  const N = x0.shape[0]!;
  const bpd = vlb.priorBpd(x0);
  const prior = Float64Array.from(bpd);
  const decoder = new Float64Array(N);
  const stratumSum = new Float64Array(strata.length);
  const total = Math.ceil(N / batchSize) * strata.length;
  let calls = 0;
  const emit = progressHandler('vlbBitsPerDim', options);
  noGrad(() => {
    for (let s = 0; s < N; s += batchSize) {
      const e = Math.min(N, s + batchSize);
      const n = e - s;
      const xb = sliceBatch(x0, s, e); // (n, H, W, C)
      // Largest t first, as improved-diffusion's loop (the order does not change the estimate).
      for (let j = strata.length - 1; j >= 0; j--) {
        if (options.signal?.aborted === true) throw new ArgumentError(`${op}: aborted`);
        const { start, end } = strata[j]!;
        const width = end - start;
        const u = width > 1 ? gen.uniform([n]).toArray() : null;
        const t = Float64Array.from({ length: n }, (_, i) => (u === null ? start : Math.min(end - 1, start + Math.floor(u[i]! * width))));
        const z = gen.normal(xb.shape); // float32 draws (the native generator's), widened for float64 data
        const noise = xb.dtype === 'float32' ? z : cast(z, 'float64');
        const xt = addNoise(vlb.alphasCumprod, xb, noise, t);
        const out = model(xt, t, s);
        const terms = vlb.terms(out, xb, xt, t).toArray('float64');
        for (let i = 0; i < n; i++) {
          bpd[s + i]! += width * terms[i]!;
          stratumSum[j]! += terms[i]!;
          if (j === 0) decoder[s + i] = terms[i]!;
        }
        calls++;
        emit?.({ step: calls, total });
      }
    }
  });
  const { mean, ci95 } = meanCi95(bpd);
  return {
    bpd,
    prior,
    decoder,
    mean,
    ci95,
    strata: strata.map((st, j) => ({ ...st, meanTerm: stratumSum[j]! / N })),
    modelCalls: calls,
    timestepsPerImage: K,
  };
}
