/**
 * The discrete forward process of DDPM (Ho et al. 2020) and the quantities built on it:
 * - q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)  (eq. 4): `addNoise` (a.k.a. qSample);
 * - the velocity v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0 (Salimans & Ho 2022, "Progressive
 *   Distillation", sec. 4): `getVelocity`;
 * - the posterior q(x_{t-1} | x_t, x_0) = N(coef1 x_0 + coef2 x_t, posteriorVariance) (eq. 6-7),
 *   with improved-diffusion's names (posteriorMeanCoef1/2, posteriorVariance,
 *   posteriorLogVarianceClipped), also between non-adjacent timesteps t -> s for skipping samplers;
 * - conversions between the model parameterizations epsilon, sample (x_0) and v_prediction.
 * Coefficients come from float64 schedules; tensors keep their dtype. Every tensor formula here is
 * out[n] = a[n] x[n] + b[n] y[n] with per-sample scalars a, b (n = batch index, axis 0), one
 * differentiable op (`combine`), so gradients flow through all of them.
 */
import { Tensor } from '../tensor/tensor.js';
import { expectShape, expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { linearCombination } from '../ops/linear_combination.js';

/** What a denoising model predicts. */
export type PredictionType = 'epsilon' | 'sample' | 'v_prediction';
export const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'sample', 'v_prediction'];

/** One scalar for the whole batch, or one per batch element (axis 0). */
export type PerSample = number | ArrayLike<number>;

/** Discrete timesteps: one for the whole batch, or one per batch element. */
export type Timesteps = number | ArrayLike<number>;

/** Throws unless `p` is a known prediction type. */
export function checkPredictionType(op: string, p: unknown): asserts p is PredictionType {
  if (typeof p !== 'string' || !(PREDICTION_TYPES as readonly string[]).includes(p)) {
    throw new ArgumentError(`${op}: prediction type must be one of ${PREDICTION_TYPES.join(', ')}, found ${JSON.stringify(p)}`);
  }
}

/** The batch size (axis 0) of a rank >= 1 tensor. */
function batchOf(op: string, name: string, t: Tensor): number {
  if (t.rank < 1) throw new ShapeError(`${op}: input '${name}' must have a batch axis (rank >= 1, e.g. (N, H, W, C)), found shape ${fmtShape(t.shape)}`);
  return t.shape[0]!;
}

/** `c` expanded to one float64 value per batch element; a length-1 array broadcasts. */
function perSample(op: string, name: string, c: PerSample, batch: number): Float64Array {
  if (typeof c === 'number') return new Float64Array(batch).fill(c);
  if (c === null || typeof c !== 'object' || typeof c.length !== 'number') {
    throw new ArgumentError(`${op}: '${name}' must be a number or an array of numbers, found ${c === null ? 'null' : typeof c}`);
  }
  if (c.length === 1) return new Float64Array(batch).fill(c[0]!);
  if (c.length !== batch) {
    throw new ShapeError(`${op}: '${name}' has ${c.length} values, expected 1 or one per batch element (${batch})`);
  }
  return Float64Array.from(c);
}

/**
 * out[n, ...] = a[n] x[n, ...] + b[n] y[n, ...] with float64 per-sample coefficients; x and y
 * share shape and dtype. Differentiable in x and y: dx[n] = a[n] g[n], dy[n] = b[n] g[n].
 * @example combine('addNoise', sqrtAbar, x0, sqrtOneMinusAbar, noise)
 */
export function combine(op: string, a: PerSample, x: Tensor, b: PerSample, y: Tensor, names: readonly [string, string] = ['x', 'y']): Tensor {
  expectTensor(op, names[0], x);
  expectTensor(op, names[1], y);
  const batch = batchOf(op, names[0], x);
  expectShape(op, names[1], y, x.shape);
  const named = { [names[0]]: x, [names[1]]: y };
  sameDType(op, named);
  sameDevice(op, named);
  const ca = perSample(op, 'coefficients', a, batch);
  const cb = perSample(op, 'coefficients', b, batch);
  // Evaluated in float64 and stored in the output's precision; a zero coefficient drops its term
  // (so x_0 = 1 * out + 0 * x_t stays finite where x_t is not): the linearCombination op.
  return linearCombination([[ca, x], [cb, y]]);
}

/**
 * abar_t for each batch element: alphasCumprod[t] with t an integer in [0, T).
 * @example alphaBarAt(acp, [999, 10], 2) // Float64Array [acp[999], acp[10]]
 */
export function alphaBarAt(alphasCumprod: Float64Array, timesteps: Timesteps, batch: number, op = 'alphaBarAt'): Float64Array {
  const ts = perSample(op, 'timesteps', timesteps, batch);
  const T = alphasCumprod.length;
  return ts.map((t, n) => {
    if (!Number.isInteger(t) || t < 0 || t >= T) {
      throw new ArgumentError(`${op}: timesteps[${n}] = ${t} must be an integer in [0, num_train_timesteps = ${T})`);
    }
    return alphasCumprod[t]!;
  });
}

/**
 * Samples q(x_t | x_0): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise, per batch element
 * (diffusers' `add_noise`).
 * @example const xt = addNoise(alphasCumprod(betas), x0, gen.normal(x0.shape), [999, 500]);
 */
export function addNoise(alphasCumprod: Float64Array, x0: Tensor, noise: Tensor, timesteps: Timesteps): Tensor {
  expectTensor('addNoise', 'x0', x0);
  const abar = alphaBarAt(alphasCumprod, timesteps, batchOf('addNoise', 'x0', x0), 'addNoise');
  return combine('addNoise', abar.map(Math.sqrt), x0, abar.map((a) => Math.sqrt(1 - a)), noise, ['x0', 'noise']);
}

/** Ho et al.'s name for `addNoise`. */
export const qSample = addNoise;

/**
 * The v-prediction target v = sqrt(abar_t) noise - sqrt(1 - abar_t) x_0 (diffusers' `get_velocity`).
 * @example const v = getVelocity(acp, x0, noise, t);
 */
export function getVelocity(alphasCumprod: Float64Array, x0: Tensor, noise: Tensor, timesteps: Timesteps): Tensor {
  expectTensor('getVelocity', 'x0', x0);
  const abar = alphaBarAt(alphasCumprod, timesteps, batchOf('getVelocity', 'x0', x0), 'getVelocity');
  return combine('getVelocity', abar.map((a) => -Math.sqrt(1 - a)), x0, abar.map(Math.sqrt), noise, ['x0', 'noise']);
}

/** The posterior q(x_s | x_t, x_0) between two timesteps s < t of the chain. */
export interface PosteriorStep {
  /** abar_t. */
  alphaBar: number;
  /** abar_s (1 before the first step, or the scheduler's final value). */
  alphaBarPrev: number;
  /** The effective beta of the jump: 1 - abar_t / abar_s. */
  beta: number;
  /** Coefficient of x_0 in the mean: sqrt(abar_s) beta / (1 - abar_t). */
  posteriorMeanCoef1: number;
  /** Coefficient of x_t in the mean: sqrt(abar_t / abar_s) (1 - abar_s) / (1 - abar_t). */
  posteriorMeanCoef2: number;
  /** (1 - abar_s) / (1 - abar_t) beta: Ho et al.'s beta-tilde. */
  posteriorVariance: number;
}

/**
 * q(x_s | x_t, x_0) for the jump t -> s = prevT (prevT < 0 means "to x_0", where abar_s is
 * `finalAlphaBar`, 1 by default). With prevT = t - 1 this is Ho et al. eq. 7.
 * @example const { posteriorMeanCoef1, posteriorVariance } = posteriorStep(acp, 980, 960);
 */
export function posteriorStep(alphasCumprod: Float64Array, t: number, prevT = t - 1, finalAlphaBar = 1): PosteriorStep {
  const T = alphasCumprod.length;
  if (!Number.isInteger(t) || t < 0 || t >= T) throw new ArgumentError(`posteriorStep: t = ${t} must be an integer in [0, num_train_timesteps = ${T})`);
  if (!Number.isInteger(prevT) || prevT >= t) throw new ArgumentError(`posteriorStep: prevT = ${prevT} must be an integer below t = ${t}`);
  const alphaBar = alphasCumprod[t]!;
  const alphaBarPrev = prevT >= 0 ? alphasCumprod[prevT]! : finalAlphaBar;
  const alpha = alphaBar / alphaBarPrev;
  const beta = 1 - alpha;
  return {
    alphaBar,
    alphaBarPrev,
    beta,
    posteriorMeanCoef1: (Math.sqrt(alphaBarPrev) * beta) / (1 - alphaBar),
    posteriorMeanCoef2: (Math.sqrt(alpha) * (1 - alphaBarPrev)) / (1 - alphaBar),
    posteriorVariance: ((1 - alphaBarPrev) / (1 - alphaBar)) * beta,
  };
}

/** improved-diffusion's per-timestep posterior tables (GaussianDiffusion.__init__), float64. */
export interface PosteriorTables {
  posteriorMeanCoef1: Float64Array;
  posteriorMeanCoef2: Float64Array;
  posteriorVariance: Float64Array;
  /** log of posteriorVariance with the t = 0 entry (which is 0) replaced by the t = 1 entry. */
  posteriorLogVarianceClipped: Float64Array;
}

/**
 * The one-step posterior q(x_{t-1} | x_t, x_0) for every t (abar_{-1} = 1), as in
 * improved-diffusion (Nichol & Dhariwal 2021).
 * @example const { posteriorVariance } = posteriorTables(alphasCumprod(betas));
 */
export function posteriorTables(alphasCumprod: Float64Array): PosteriorTables {
  const T = alphasCumprod.length;
  const tables: PosteriorTables = {
    posteriorMeanCoef1: new Float64Array(T),
    posteriorMeanCoef2: new Float64Array(T),
    posteriorVariance: new Float64Array(T),
    posteriorLogVarianceClipped: new Float64Array(T),
  };
  for (let t = 0; t < T; t++) {
    const p = posteriorStep(alphasCumprod, t);
    tables.posteriorMeanCoef1[t] = p.posteriorMeanCoef1;
    tables.posteriorMeanCoef2[t] = p.posteriorMeanCoef2;
    tables.posteriorVariance[t] = p.posteriorVariance;
  }
  for (let t = 0; t < T; t++) {
    // The variance at t = 0 is 0; its log is clipped to the next value, as improved-diffusion does.
    const v = t === 0 && T > 1 ? tables.posteriorVariance[1]! : tables.posteriorVariance[t]!;
    tables.posteriorLogVarianceClipped[t] = Math.log(v);
  }
  return tables;
}

/**
 * The posterior mean coef1 x_0 + coef2 x_t of q(x_{t-1} | x_t, x_0) for per-sample timesteps.
 * @example const mean = qPosteriorMean(acp, x0, xt, [500, 20]);
 */
export function qPosteriorMean(alphasCumprod: Float64Array, x0: Tensor, xt: Tensor, timesteps: Timesteps): Tensor {
  expectTensor('qPosteriorMean', 'x0', x0);
  const ts = perSample('qPosteriorMean', 'timesteps', timesteps, batchOf('qPosteriorMean', 'x0', x0));
  alphaBarAt(alphasCumprod, ts, ts.length, 'qPosteriorMean'); // validates the timesteps
  const steps = Array.from(ts, (t) => posteriorStep(alphasCumprod, t));
  return combine('qPosteriorMean', steps.map((p) => p.posteriorMeanCoef1), x0, steps.map((p) => p.posteriorMeanCoef2), xt, ['x0', 'xt']);
}

/** The affine map modelOutput -> target given x_t: target = a modelOutput + b x_t. */
interface Affine {
  a: number;
  b: number;
}

/** Coefficients of x_0 as a function of the model output and x_t at abar = `ab`. */
function x0Coefs(type: PredictionType, ab: number): Affine {
  switch (type) {
    case 'epsilon': // x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)
      return { a: -Math.sqrt(1 - ab) / Math.sqrt(ab), b: 1 / Math.sqrt(ab) };
    case 'sample':
      return { a: 1, b: 0 };
    case 'v_prediction': // x_0 = sqrt(abar) x_t - sqrt(1 - abar) v
      return { a: -Math.sqrt(1 - ab), b: Math.sqrt(ab) };
  }
}

/** Coefficients of eps as a function of the model output and x_t at abar = `ab`. */
function epsCoefs(type: PredictionType, ab: number): Affine {
  switch (type) {
    case 'epsilon':
      return { a: 1, b: 0 };
    case 'sample': // eps = (x_t - sqrt(abar) x_0) / sqrt(1 - abar)
      return { a: -Math.sqrt(ab) / Math.sqrt(1 - ab), b: 1 / Math.sqrt(1 - ab) };
    case 'v_prediction': // eps = sqrt(abar) v + sqrt(1 - abar) x_t
      return { a: Math.sqrt(ab), b: Math.sqrt(1 - ab) };
  }
}

/** Coefficients of the model output as a function of x_0 and x_t (inverse of x0Coefs). */
function outputFromX0Coefs(type: PredictionType, ab: number): Affine {
  switch (type) {
    case 'epsilon': // eps = (x_t - sqrt(abar) x_0) / sqrt(1 - abar)
      return { a: -Math.sqrt(ab) / Math.sqrt(1 - ab), b: 1 / Math.sqrt(1 - ab) };
    case 'sample':
      return { a: 1, b: 0 };
    case 'v_prediction': // v = (sqrt(abar) x_t - x_0) / sqrt(1 - abar)
      return { a: -1 / Math.sqrt(1 - ab), b: Math.sqrt(ab) / Math.sqrt(1 - ab) };
  }
}

/** Coefficients of the model output as a function of eps and x_t (inverse of epsCoefs). */
function outputFromEpsCoefs(type: PredictionType, ab: number): Affine {
  switch (type) {
    case 'epsilon':
      return { a: 1, b: 0 };
    case 'sample': // x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)
      return { a: -Math.sqrt(1 - ab) / Math.sqrt(ab), b: 1 / Math.sqrt(ab) };
    case 'v_prediction': // v = (eps - sqrt(1 - abar) x_t) / sqrt(abar)
      return { a: 1 / Math.sqrt(ab), b: -Math.sqrt(1 - ab) / Math.sqrt(ab) };
  }
}

function convert(op: string, coefs: (type: PredictionType, ab: number) => Affine, input: Tensor, xt: Tensor, alphaBar: PerSample, type: PredictionType, names: readonly [string, string]): Tensor {
  expectTensor(op, names[0], input);
  checkPredictionType(op, type);
  const ab = perSample(op, 'alphaBar', alphaBar, batchOf(op, names[0], input));
  ab.forEach((a, n) => {
    if (!(a >= 0 && a <= 1)) throw new ArgumentError(`${op}: alphaBar[${n}] = ${a} must be in [0, 1]`);
  });
  const cs = Array.from(ab, (a) => coefs(type, a));
  return combine(op, cs.map((c) => c.a), input, cs.map((c) => c.b), xt, names);
}

/**
 * The predicted x_0 from a model output of `type` at x_t with signal level abar (per sample).
 * @example const x0 = predictX0(epsPred, xt, alphaBarAt(acp, t, n), 'epsilon');
 */
export function predictX0(modelOutput: Tensor, xt: Tensor, alphaBar: PerSample, type: PredictionType): Tensor {
  return convert('predictX0', x0Coefs, modelOutput, xt, alphaBar, type, ['modelOutput', 'xt']);
}

/**
 * The predicted noise eps from a model output of `type` at x_t with signal level abar.
 * @example const eps = predictEpsilon(vPred, xt, 0.5, 'v_prediction');
 */
export function predictEpsilon(modelOutput: Tensor, xt: Tensor, alphaBar: PerSample, type: PredictionType): Tensor {
  return convert('predictEpsilon', epsCoefs, modelOutput, xt, alphaBar, type, ['modelOutput', 'xt']);
}

/**
 * The model output of `type` that predicts `x0` at x_t (inverse of predictX0).
 * @example const v = modelOutputFromX0(x0, xt, 0.5, 'v_prediction');
 */
export function modelOutputFromX0(x0: Tensor, xt: Tensor, alphaBar: PerSample, type: PredictionType): Tensor {
  return convert('modelOutputFromX0', outputFromX0Coefs, x0, xt, alphaBar, type, ['x0', 'xt']);
}

/**
 * The model output of `type` that predicts noise `eps` at x_t (inverse of predictEpsilon).
 * @example const x0 = modelOutputFromEpsilon(eps, xt, 0.5, 'sample');
 */
export function modelOutputFromEpsilon(eps: Tensor, xt: Tensor, alphaBar: PerSample, type: PredictionType): Tensor {
  return convert('modelOutputFromEpsilon', outputFromEpsCoefs, eps, xt, alphaBar, type, ['eps', 'xt']);
}
