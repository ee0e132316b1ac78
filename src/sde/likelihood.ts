/**
 * Exact likelihood through the probability-flow ODE (Song et al. 2021, sec. 4.3 and appendix
 * D.2; Chen et al. 2018 and Grathwohl et al. 2019, FFJORD): along dx/dt = f~(x, t) = a(t) x -
 * 1/2 g(t)^2 s(x, t), the instantaneous change of variables gives
 *   log p_eps(x(eps)) = log p_T(x(T)) + int_eps^T div f~(x(t), t) dt,
 * so the state [x, delta logp] is integrated from eps to T with RK45 (rk45.ts) and the prior's
 * log-density added at the end. The divergence is Hutchinson's estimator E_v[v^T J v] with one
 * Rademacher or Gaussian probe v per image held fixed for the whole solve; v^T J is a
 * vector-Jacobian product through our autograd (x requires grad, drift.backward(v), then x.grad . v).
 * 'exact' takes the full trace by one backward per dimension (small data only: the tests use it to
 * separate Hutchinson's noise from the solver's error).
 *
 * 8-bit data are dequantized as in score_sde: y = 2 (pixel + u) / 256 - 1, u ~ U[0, 1), and the
 * bits/dim of the discrete data are bounded by -log p(y) / (D ln 2) + log2(128) (the change of
 * variables from [0, 256) pixel units to [-1, 1): 256 / 2 = 128 per dimension).
 */
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DiffuseError } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import { Generator } from '../tensor/random.js';
import { isGradEnabled, noGrad } from '../tensor/autograd.js';
import { tensor, zeros } from '../tensor/create.js';
import { add, mul } from '../ops/binary.js';
import { mulScalar } from '../ops/scalar.js';
import { sliceBatch } from '../ops/slice.js';
import { sum } from '../ops/reduce.js';
import { reshape } from '../ops/shape.js';
import { concat } from '../ops/concat.js';
import { cast } from '../ops/copy.js';
import { linearCombination } from '../ops/linear_combination.js';
import { SDE_T, type ScoreFn, type Sde } from './sde.js';
import { rk45Tensor } from './rk45.js';
import { scoreFromModel, withFrozenParameters, type ScoreModel } from './score.js';

/** How the divergence is computed. */
export type TraceEstimator = 'rademacher' | 'gaussian' | 'exact';
export const TRACE_ESTIMATORS: readonly TraceEstimator[] = ['rademacher', 'gaussian', 'exact'];

/** score_sde's likelihood eps (the lower end of the integral) and tolerances. */
export const LIKELIHOOD_DEFAULTS = Object.freeze({ rtol: 1e-5, atol: 1e-5, eps: 1e-5 });

/** log2(256 / 2): bits per dimension of the map from 8-bit pixel units to [-1, 1]. */
const DEQUANTIZATION_OFFSET_BITS = 7;

export interface OdeLikelihoodOptions {
  rtol?: number;
  atol?: number;
  /** The lower end of the integral (default 1e-5). */
  eps?: number;
  /** Divergence estimator (default 'rademacher'). */
  estimator?: TraceEstimator;
  /** Probes and dequantization noise (default new Generator(0)). */
  generator?: Generator;
  /**
   * x holds 8-bit images in [-1, 1] (pixel p at 2p/255 - 1): dequantize them uniformly and report
   * the bits/dim of the discrete data. Otherwise x is continuous data and bpd = -log p / (D ln 2).
   */
  dequantize?: boolean;
  /** Called after each accepted solver step. */
  onStep?: (t: number, nfe: number) => void;
  signal?: AbortSignal;
}

export interface OdeLikelihoodResult {
  /** Bits/dim per image. */
  bpd: Float64Array;
  /** log p(y) per image in nats, y the (dequantized) data in model space. */
  logp: Float64Array;
  /** log p_T(x(T)) per image. */
  priorLogp: Float64Array;
  /** int_eps^T div f~ dt per image. */
  deltaLogp: Float64Array;
  /** x(T), the data's latent. */
  z: Tensor;
  /** Drift evaluations (each a model forward and one backward per probe). */
  nfe: number;
  seconds: number;
}

/**
 * The uniformly dequantized version of 8-bit images in [-1, 1]: 2 (p + u) / 256 - 1.
 * Throws DataError-like ArgumentError when a value is not one of the 256 levels.
 */
export function dequantize(x: Tensor, gen: Generator): Tensor {
  expectTensor('dequantize', 'x', x);
  const u = gen.uniform(x.shape).toArray();
  const out = new Float32Array(x.size);
  const xs = x.toArray();
  for (let i = 0; i < x.size; i++) {
    const v = xs[i]!;
    const p = Math.round((v + 1) * 127.5);
    if (!(p >= 0 && p <= 255) || Math.abs((v + 1) * 127.5 - p) > 1e-3) {
      throw new ArgumentError(`dequantize: element ${i} is ${v}, which is not an 8-bit level 2p/255 - 1 (p in 0..255); pass dequantize: false for continuous data`);
    }
    out[i] = (2 * (p + u[i]!)) / 256 - 1;
  }
  return new Tensor(out, x.shape);
}

function probe(kind: TraceEstimator, shape: readonly number[], gen: Generator): Tensor | null {
  switch (kind) {
    case 'rademacher': {
      const u = gen.uniform(shape).toArray();
      for (let i = 0; i < u.length; i++) u[i] = u[i]! < 0.5 ? -1 : 1;
      return new Tensor(u, shape);
    }
    case 'gaussian':
      return gen.normal(shape);
    case 'exact':
      return null;
  }
}

/**
 * log-likelihood and bits/dim of a batch x (N, H, W, C) under the probability-flow ODE of `sde`
 * with the score `score` (which must be differentiable in x: built from tensor ops, e.g.
 * scoreFromModel; freeze the model's parameters with withFrozenParameters to skip weight grads).
 * @example
 * const r = odeLikelihood(sde, score, images, { dequantize: true, generator: new Generator(0) });
 * r.bpd; r.nfe;
 */
export function odeLikelihood(sde: Sde, score: ScoreFn, x: Tensor, options: OdeLikelihoodOptions = {}): OdeLikelihoodResult {
  const op = 'odeLikelihood';
  expectTensor(op, 'x', x);
  if (typeof score !== 'function') throw new ArgumentError(`${op}: 'score' must be a function (x, t) => score, found ${typeof score}`);
  if (x.rank < 2 || x.shape[0]! < 1) throw new ArgumentError(`${op}: x must be a batch (N, ...) with N >= 1, found shape [${x.shape.join(', ')}]`);
  if (!isGradEnabled()) throw new DiffuseError(`${op}: the divergence needs gradients; do not call it inside noGrad()`);
  const estimator = options.estimator ?? 'rademacher';
  if (!TRACE_ESTIMATORS.includes(estimator)) throw new ArgumentError(`${op}: estimator must be one of ${TRACE_ESTIMATORS.join(', ')}, found ${JSON.stringify(estimator)}`);
  const eps = options.eps ?? LIKELIHOOD_DEFAULTS.eps;
  if (typeof eps !== 'number' || !(eps > 0 && eps < SDE_T)) throw new ArgumentError(`${op}: eps must be in (0, ${SDE_T}), found ${String(eps)}`);
  const gen = options.generator ?? new Generator(0);
  const start = performance.now();
  const n = x.shape[0]!;
  const shape = x.shape;
  const size = x.size;
  const D = size / n;
  const y0 = options.dequantize === true ? dequantize(x, gen) : x;
  const v = probe(estimator, shape, gen);

  // The augmented state [x (N D), delta logp (N)]: one flat float64 tensor on x's device.
  const axes = shape.slice(1).map((_, i) => i + 1);
  const xPart = (state: Tensor): Tensor => reshape(sliceBatch(state, 0, size), shape);
  const flat64 = (t: Tensor): Tensor => reshape(cast(t, 'float64'), [size]);
  const state0 = noGrad(() => concat([flat64(y0), zeros([n], { dtype: 'float64', device: x.device })], 0));
  // The probe in float64: v^T J v per image is summed in double (as the product of two float32
  // values is exact in double).
  const v64 = v === null ? null : noGrad(() => cast(v, 'float64'));
  const f = (t: number, state: Tensor): Tensor => {
    const xt = noGrad(() => cast(xPart(state), 'float32')).requireGrad();
    const { xCoef, scoreCoef } = sde.reverseDriftCoefs(t, true);
    const drift = add(mulScalar(xt, xCoef), mulScalar(score(xt, t), scoreCoef)); // (N, H, W, C)
    let divergence: Tensor;
    if (v !== null && v64 !== null) {
      // v^T J v per image: x.grad = J^T v (the batch's images do not interact).
      drift.backward(v);
      const g = xt.grad!;
      divergence = noGrad(() => sum(mul(cast(g, 'float64'), v64), axes));
    } else {
      // The exact trace: one vector-Jacobian product per dimension, the graph kept between them;
      // (J^T e_j)_j, the diagonal entry, is picked out by multiplying with e_j.
      const e = new Float32Array(size);
      let diagonal = zeros(shape, { dtype: 'float64', device: x.device });
      for (let j = 0; j < D; j++) {
        for (let b = 0; b < n; b++) e[b * D + j] = 1;
        const ej = tensor(e, shape, { device: x.device });
        xt.grad = null;
        drift.backward(ej, { retainGraph: j < D - 1 });
        const g = xt.grad!;
        diagonal = noGrad(() => linearCombination([[1, diagonal], [1, mul(g, ej)]], 'float64'));
        for (let b = 0; b < n; b++) e[b * D + j] = 0;
      }
      divergence = noGrad(() => sum(diagonal, axes));
    }
    return noGrad(() => concat([flat64(drift.detach()), divergence], 0));
  };
  const sol = rk45Tensor(f, eps, SDE_T, state0, {
    rtol: options.rtol ?? LIKELIHOOD_DEFAULTS.rtol,
    atol: options.atol ?? LIKELIHOOD_DEFAULTS.atol,
    ...(options.onStep === undefined ? {} : { onStep: (t: number, _y: Tensor, nfe: number) => options.onStep!(t, nfe) }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const xT = xPart(sol.y);
  const z = noGrad(() => cast(xT, 'float32'));
  const priorLogp = sde.priorLogp(xT);
  const deltaLogp = sliceBatch(sol.y, size, size + n).toArray('float64');
  const logp = priorLogp.map((p, b) => p + deltaLogp[b]!);
  const offset = options.dequantize === true ? DEQUANTIZATION_OFFSET_BITS : 0;
  const bpd = logp.map((l) => -l / (D * Math.LN2) + offset);
  return { bpd, logp, priorLogp, deltaLogp, z, nfe: sol.nfe, seconds: (performance.now() - start) / 1000 };
}

/** Mean and the normal-approximation 95% confidence half-width of per-image values. */
export function meanWithCi(values: ArrayLike<number>): { mean: number; ci95: number; std: number; n: number } {
  const n = values.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i]!;
  m /= Math.max(n, 1);
  let s2 = 0;
  for (let i = 0; i < n; i++) s2 += (values[i]! - m) ** 2;
  const std = n > 1 ? Math.sqrt(s2 / (n - 1)) : 0;
  return { mean: m, ci95: n > 1 ? (1.96 * std) / Math.sqrt(n) : Infinity, std, n };
}

export interface ModelLikelihoodOptions extends Omit<OdeLikelihoodOptions, 'onStep'> {
  /** Images per ODE solve (one shared step size per batch, as score_sde; default 16). */
  batchSize?: number;
  /** One class per image for a class-conditional model (e.g. its null class for p(x)), or null. */
  classLabels?: Int32Array | null;
  /** Called after each batch with the images done so far. */
  onBatch?: (done: number, total: number, batch: OdeLikelihoodResult) => void;
}

export interface ModelLikelihoodResult {
  /** Bits/dim per image. */
  bpd: Float64Array;
  /** Their mean and 95% confidence half-width. */
  mean: number;
  ci95: number;
  /** Mean NFE per batch solve, and each batch's. */
  meanNfe: number;
  nfe: number[];
  seconds: number;
  rtol: number;
  atol: number;
  estimator: TraceEstimator;
}

/**
 * ODE bits/dim of a trained score model on images (N, H, W, C), in batches, with the model's
 * weights frozen (gradients flow to the input only). What `diffuse eval --bpd --method ode` runs.
 * @example
 * const sde = sdeFromConfig(readSchedulerConfig(schedulerDir));
 * const r = odeLikelihoodOfModel(sde, UNet2DModel.fromPretrained(unetDir), images, { dequantize: true, classLabels });
 * console.log(r.mean, '+-', r.ci95, 'bits/dim,', r.meanNfe, 'NFE');
 */
export function odeLikelihoodOfModel(sde: Sde, model: ScoreModel & { parameters(): Tensor[] }, images: Tensor, options: ModelLikelihoodOptions = {}): ModelLikelihoodResult {
  const op = 'odeLikelihoodOfModel';
  expectTensor(op, 'images', images);
  const n = images.shape[0]!;
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError(`${op}: batchSize must be an integer >= 1, found ${String(batchSize)}`);
  const labels = options.classLabels ?? null;
  if (labels !== null && labels.length !== n) throw new ArgumentError(`${op}: ${labels.length} class labels for ${n} images`);
  const gen = options.generator ?? new Generator(0);
  const { batchSize: _b, classLabels: _c, onBatch, ...rest } = options;
  const start = performance.now();
  const bpd = new Float64Array(n);
  const nfe: number[] = [];
  withFrozenParameters(model, () => {
    for (let s = 0; s < n; s += batchSize) {
      const e = Math.min(n, s + batchSize);
      const score = scoreFromModel(sde, model, { classLabels: labels === null ? null : labels.subarray(s, e) });
      const r = odeLikelihood(sde, score, sliceBatch(images, s, e), { ...rest, generator: gen });
      bpd.set(r.bpd, s);
      nfe.push(r.nfe);
      onBatch?.(e, n, r);
    }
  });
  const { mean, ci95 } = meanWithCi(bpd);
  return {
    bpd, mean, ci95, nfe,
    meanNfe: nfe.reduce((a, b) => a + b, 0) / Math.max(nfe.length, 1),
    seconds: (performance.now() - start) / 1000,
    rtol: options.rtol ?? LIKELIHOOD_DEFAULTS.rtol,
    atol: options.atol ?? LIKELIHOOD_DEFAULTS.atol,
    estimator: options.estimator ?? 'rademacher',
  };
}
