/**
 * The variational bound of a discrete-time diffusion model (Ho et al. 2020 eq. 5; Nichol &
 * Dhariwal 2021 eq. 4-6, 15):
 *
 *   L_vlb = L_T + sum_{t>=1} L_{t-1} + L_0,
 *   L_T     = KL(q(x_T | x_0) || N(0, I))                          (the prior term),
 *   L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),  t = 1..T-1 (0-based timesteps),
 *   L_0     = -log p(x_0 | x_1)                                    (the decoder, discretized_gaussian.ts).
 *
 * With 0-based timesteps t = 0..T-1 (diffusers' and improved-diffusion's), the term at t is the
 * KL for t > 0 and the decoder NLL at t = 0, exactly improved-diffusion's `_vb_terms_bpd`. All
 * terms are reported in bits per dimension (nats / ln 2 / number of dimensions of x_0).
 *
 * The model's reverse variance Sigma_t:
 * - fixed_small:   beta-tilde_t (log clipped at t = 0 to beta-tilde_1, as improved-diffusion);
 * - fixed_large:   beta_t, except beta-tilde_1 at t = 0 (improved-diffusion's convention, so the
 *                  decoder's variance is the posterior's, not beta_0);
 * - learned:       the model outputs Sigma itself in its second C channels (diffusers' DDPMScheduler
 *                  convention, so a model samples and evaluates alike; improved-diffusion's LEARNED
 *                  outputs log Sigma instead);
 * - learned_range: the model outputs v in [-1, 1]-ish; log Sigma = v' log beta_t + (1 - v') log
 *                  beta-tilde_t with v' = (v + 1) / 2 (Nichol & Dhariwal eq. 15).
 *
 * `vlbTerms` is one differentiable op (float64 inside): it returns the per-sample terms and its
 * backward writes the gradient into the model output's channels. With `stopGradMean` the mean
 * channels get none (the hybrid loss, sec. 3.1: L_vlb only trains the variance).
 */
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectShape, expectTensor } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { checkPredictionType, posteriorTables, type PosteriorTables, type PredictionType } from './forward.js';
import { normalKlGrad, normalKl } from './kl.js';
import { discretizedGaussianLogLikelihood } from './discretized_gaussian.js';

/** How the model's reverse-process variance is chosen (improved-diffusion's ModelVarType). */
export type VlbVarianceType = 'fixed_small' | 'fixed_large' | 'learned' | 'learned_range';
export const VLB_VARIANCE_TYPES: readonly VlbVarianceType[] = ['fixed_small', 'fixed_large', 'learned', 'learned_range'];

/** The decoder p(x_0 | x_1): 8-bit bins (images) or a plain Gaussian density (continuous data). */
export type VlbDecoder = 'discretized_8bit' | 'gaussian';

/** Whether the model outputs 2C channels (the prediction, then the variance values). */
export function learnsVariance(v: VlbVarianceType): boolean {
  switch (v) {
    case 'fixed_small':
    case 'fixed_large':
      return false;
    case 'learned':
    case 'learned_range':
      return true;
  }
}

/** Options of the bound. */
export interface VlbOptions {
  predictionType: PredictionType;
  varianceType: VlbVarianceType;
  /** Clip the predicted x_0 to [-1, 1] before the posterior mean (improved-diffusion's clip_denoised; default false). */
  clipDenoised?: boolean;
  /** Default 'discretized_8bit'. */
  decoder?: VlbDecoder;
  /** No gradient into the prediction channels (the hybrid loss's L_vlb term; default false). */
  stopGradMean?: boolean;
}

const LN2 = Math.LN2;
const LOG_2PI = Math.log(2 * Math.PI);

/** Coefficients of x_0 = a * output + b * x_t for a model of `type` at abar. */
function x0Affine(type: PredictionType, ab: number): [number, number] {
  switch (type) {
    case 'epsilon':
      return [-Math.sqrt(1 - ab) / Math.sqrt(ab), 1 / Math.sqrt(ab)];
    case 'sample':
      return [1, 0];
    case 'v_prediction':
      return [-Math.sqrt(1 - ab), Math.sqrt(ab)];
  }
}

/**
 * The bound of a model trained on `alphasCumprod` (float64 tables computed once).
 * @example
 * const vlb = new DiffusionVlb(alphasCumprod(betas), { predictionType: 'epsilon', varianceType: 'fixed_small' });
 * const bits = vlb.terms(model(xt, t), x0, xt, t); // (N,) bits/dim, differentiable
 */
export class DiffusionVlb {
  readonly alphasCumprod: Float64Array;
  readonly betas: Float64Array;
  readonly logBetas: Float64Array;
  readonly tables: PosteriorTables;
  /** log Sigma_t of fixed_large: log beta_t, with log beta-tilde_1 at t = 0. */
  readonly fixedLargeLogVariance: Float64Array;
  readonly options: Required<VlbOptions>;

  constructor(alphasCumprod: Float64Array, options: VlbOptions) {
    const op = 'DiffusionVlb';
    if (!(alphasCumprod instanceof Float64Array) || alphasCumprod.length < 2) {
      throw new ArgumentError(`${op}: alphasCumprod must be a Float64Array of at least 2 timesteps, found ${alphasCumprod instanceof Float64Array ? `length ${alphasCumprod.length}` : typeof alphasCumprod}`);
    }
    if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: options must be an object`);
    checkPredictionType(op, options.predictionType);
    if (!VLB_VARIANCE_TYPES.includes(options.varianceType)) {
      throw new ArgumentError(`${op}: varianceType must be one of ${VLB_VARIANCE_TYPES.join(', ')}, found ${JSON.stringify(options.varianceType)}`);
    }
    const decoder = options.decoder ?? 'discretized_8bit';
    if (decoder !== 'discretized_8bit' && decoder !== 'gaussian') throw new ArgumentError(`${op}: decoder must be 'discretized_8bit' or 'gaussian', found ${JSON.stringify(decoder)}`);
    this.options = { clipDenoised: options.clipDenoised ?? false, stopGradMean: options.stopGradMean ?? false, decoder, predictionType: options.predictionType, varianceType: options.varianceType };
    this.alphasCumprod = alphasCumprod;
    this.betas = alphasCumprod.map((a, t) => 1 - a / (t === 0 ? 1 : alphasCumprod[t - 1]!));
    this.logBetas = this.betas.map(Math.log);
    this.tables = posteriorTables(alphasCumprod);
    this.fixedLargeLogVariance = this.logBetas.map((lb, t) => (t === 0 ? Math.log(this.tables.posteriorVariance[1]!) : lb));
  }

  /** Number of training timesteps T. */
  get numTimesteps(): number {
    return this.alphasCumprod.length;
  }

  /** Channels the model outputs for data with C channels. */
  outputChannels(C: number): number {
    return learnsVariance(this.options.varianceType) ? 2 * C : C;
  }

  /**
   * log Sigma_t of the model and d log Sigma / d v for a variance value `v` (ignored for the fixed types).
   * @example vlb.modelLogVariance(500, -1) // learned_range: log beta-tilde_500
   */
  modelLogVariance(t: number, v = 0): [number, number] {
    switch (this.options.varianceType) {
      case 'fixed_small':
        return [this.tables.posteriorLogVarianceClipped[t]!, 0];
      case 'fixed_large':
        return [this.fixedLargeLogVariance[t]!, 0];
      case 'learned':
        return [Math.log(v), 1 / v];
      case 'learned_range': {
        const maxLog = this.logBetas[t]!;
        const minLog = this.tables.posteriorLogVarianceClipped[t]!;
        const frac = (v + 1) / 2;
        return [frac * maxLog + (1 - frac) * minLog, 0.5 * (maxLog - minLog)];
      }
    }
  }

  /**
   * The bound's term at each sample's timestep, in bits/dim: KL(q(x_{t-1}|x_t,x_0) || p(x_{t-1}|x_t))
   * for t > 0, -log p(x_0 | x_1) for t = 0. Shape (N,), differentiable in `modelOutput`.
   * `modelOutput` is (N, H, W, C) for the fixed variances, (N, H, W, 2C) for the learned ones.
   */
  terms(modelOutput: Tensor, x0: Tensor, xt: Tensor, timesteps: ArrayLike<number>): Tensor {
    const op = 'DiffusionVlb.terms';
    expectTensor(op, 'x0', x0);
    expectTensor(op, 'xt', xt);
    expectTensor(op, 'modelOutput', modelOutput);
    if (x0.rank < 2) throw new ShapeError(`${op}: input 'x0' must be (N, ..., C), found shape ${fmtShape(x0.shape)}`);
    expectShape(op, 'xt', xt, x0.shape);
    const C = x0.shape[x0.rank - 1]!;
    const outC = this.outputChannels(C);
    expectShape(op, 'modelOutput', modelOutput, [...x0.shape.slice(0, -1), outC]);
    const N = x0.shape[0]!;
    const T = this.numTimesteps;
    if (timesteps === null || typeof timesteps !== 'object' || timesteps.length !== N) {
      throw new ShapeError(`${op}: 'timesteps' must hold one timestep per sample (${N}), found ${timesteps === null || typeof timesteps !== 'object' ? String(timesteps) : `${timesteps.length} values`}`);
    }
    for (let n = 0; n < N; n++) {
      const t = timesteps[n]!;
      if (!Number.isInteger(t) || t < 0 || t >= T) throw new ArgumentError(`${op}: timesteps[${n}] = ${t} must be an integer in [0, ${T})`);
    }
    const { predictionType, clipDenoised, decoder, stopGradMean } = this.options;
    const learned = learnsVariance(this.options.varianceType);
    const rows = x0.size / C; // pixels in the batch
    const perSample = x0.size / N; // dimensions D of one x_0
    // The terms are computed on the host in double (a training-time auxiliary loss, elementwise).
    const out = modelOutput.toArray('float64');
    const xs = x0.toArray('float64');
    const xts = xt.toArray('float64');
    const values = new Float64Array(N);
    const grad = modelOutput.requiresGrad ? new Float64Array(modelOutput.size) : null;
    const rowsPerSample = rows / N;
    const scale = 1 / (LN2 * perSample); // nats summed over D -> bits/dim
    for (let n = 0; n < N; n++) {
      const t = timesteps[n]!;
      const ab = this.alphasCumprod[t]!;
      const [a, b] = x0Affine(predictionType, ab);
      const coef1 = this.tables.posteriorMeanCoef1[t]!;
      const coef2 = this.tables.posteriorMeanCoef2[t]!;
      const trueLogVar = this.tables.posteriorLogVarianceClipped[t]!;
      let total = 0;
      for (let r = n * rowsPerSample; r < (n + 1) * rowsPerSample; r++) {
        for (let c = 0; c < C; c++) {
          const i = r * C + c;
          const oMean = r * outC + c;
          const x0i = xs[i]!;
          const xti = xts[i]!;
          let x0hat = a * out[oMean]! + b * xti;
          let clipGrad = 1;
          if (clipDenoised && (x0hat > 1 || x0hat < -1)) {
            x0hat = x0hat > 1 ? 1 : -1;
            clipGrad = 0;
          }
          const mean = coef1 * x0hat + coef2 * xti;
          const [logVar, dLogVarDv] = this.modelLogVariance(t, learned ? out[oMean + C]! : 0);
          let value: number;
          let dMean: number;
          let dLogVar: number;
          if (t > 0) {
            const trueMean = coef1 * x0i + coef2 * xti;
            const k = normalKlGrad(trueMean, trueLogVar, mean, logVar);
            value = k.value;
            dMean = k.dMean2;
            dLogVar = k.dLogVar2;
          } else if (decoder === 'discretized_8bit') {
            const l = discretizedGaussianLogLikelihood(x0i, mean, logVar);
            value = -l.value;
            dMean = -l.dMean;
            dLogVar = -l.dLogVariance;
          } else {
            // -log N(x0; mean, e^logVar) = 0.5 (log 2 pi + logVar + (x0 - mean)^2 e^-logVar).
            const d = x0i - mean;
            const iv = Math.exp(-logVar);
            value = 0.5 * (LOG_2PI + logVar + d * d * iv);
            dMean = -d * iv;
            dLogVar = 0.5 * (1 - d * d * iv);
          }
          total += value;
          if (grad !== null) {
            if (!stopGradMean) grad[oMean] = dMean * coef1 * a * clipGrad * scale;
            if (learned) grad[oMean + C] = dLogVar * dLogVarDv * scale;
          }
        }
      }
      values[n] = total * scale;
    }
    const device = modelOutput.device;
    const result = tensor(values, [N], { dtype: modelOutput.dtype, device });
    return recordOp(op, result, [modelOutput], (g) => {
      if (grad === null) return [null];
      const gi = modelOutput.dtype === 'float64' ? new Float64Array(modelOutput.size) : new Float32Array(modelOutput.size);
      const per = modelOutput.size / N;
      const gs = g.toArray('float64');
      for (let n = 0; n < N; n++) {
        const gn = gs[n]!;
        for (let i = n * per; i < (n + 1) * per; i++) gi[i] = gn * grad[i]!;
      }
      return [new Tensor(gi, modelOutput.shape).to(device)];
    });
  }

  /**
   * The prior term KL(q(x_T | x_0) || N(0, I)) per sample, in bits/dim (no model involved).
   * @example vlb.priorBpd(x0) // ~1e-5 for the linear schedule with T = 1000
   */
  priorBpd(x0: Tensor): Float64Array {
    expectTensor('DiffusionVlb.priorBpd', 'x0', x0);
    const N = x0.shape[0]!;
    const per = x0.size / N;
    const abT = this.alphasCumprod[this.numTimesteps - 1]!;
    const m = Math.sqrt(abT);
    const lv = Math.log1p(-abT);
    const out = new Float64Array(N);
    const xs = x0.toArray('float64');
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let i = n * per; i < (n + 1) * per; i++) s += normalKl(m * xs[i]!, lv, 0, 0);
      out[n] = s / (LN2 * per);
    }
    return out;
  }
}
