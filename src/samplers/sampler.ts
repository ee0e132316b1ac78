/**
 * The contract every k-diffusion-style sampler shares (Karras et al. 2022, "Elucidating the Design
 * Space of Diffusion-Based Generative Models", sec. 2): data x_0, noised x = x_0 + sigma * n, and a
 * denoiser D(x, sigma) ~ E[x_0 | x] (denoiser.ts adapts trained models to it). A sampler is a pure
 * function `(denoiser, x, sigmas, options) => x` integrating the probability-flow ODE
 *   dx/dsigma = (x - D(x, sigma)) / sigma                                   (EDM eq. 3 with s = 1)
 * or its SDE twin from sigmas[0] down to sigmas[last] (usually 0). This file holds the options
 * (seeded noise, progress callback, abort signal), argument checks and the few tensor helpers the
 * samplers are written in (float64-coefficient linear combinations through the linearCombination op).
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { linearCombination } from '../ops/linear_combination.js';
import { mulScalar } from '../ops/scalar.js';
import { reshape } from '../ops/shape.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';

/** D(x, sigma): the denoised estimate of x_0 from x = x_0 + sigma * n, shaped like x. */
export type Denoiser = (x: Tensor, sigma: number) => Tensor;

/** A source of standard normal noise shaped like `shape` (e.g. per-image seeded streams). */
export type NoiseSampler = (shape: readonly number[]) => Tensor;

/** What the progress callback receives after each step's (first) model call. */
export interface SamplerProgress {
  /** Step index, 0-based (sigmas[i] -> sigmas[i + 1]). */
  i: number;
  /** sigmas[i]. */
  sigma: number;
  /** The sigma the model saw (sigma * (1 + gamma) after churn; otherwise sigma). */
  sigmaHat: number;
  /** The current sample (at sigmaHat). */
  x: Tensor;
  /** D(x, sigmaHat): the current estimate of x_0 (for previews). */
  denoised: Tensor;
}

/** Options every sampler takes. */
export interface SamplerOptions {
  /** Seeded generator for the noise of stochastic samplers (injected, never global). */
  generator?: Generator;
  /** Or a noise source (takes precedence over `generator`). */
  noise?: NoiseSampler;
  /** Called once per step with the current sample and x_0 estimate. */
  callback?: (progress: SamplerProgress) => void;
  /** Aborts between model calls (throws the signal's reason). */
  signal?: AbortSignal;
}

/** A sampler: integrates from sigmas[0] to sigmas[sigmas.length - 1]. */
export type Sampler<O extends SamplerOptions = SamplerOptions> = (denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options?: O) => Tensor;

/**
 * Checks a sampler's arguments; returns the sigmas as float64. Sigmas must be finite and >= 0,
 * at least two of them (one step).
 */
export function checkSamplerArgs(op: string, denoiser: unknown, x: unknown, sigmas: unknown, options: unknown): Float64Array {
  if (typeof denoiser !== 'function') throw new ArgumentError(`${op}: 'denoiser' must be a function (x, sigma) => x0 estimate (see denoiserFromModel), found ${denoiser === null ? 'null' : typeof denoiser}`);
  expectTensor(op, 'x', x);
  if (sigmas === null || typeof sigmas !== 'object' || typeof (sigmas as ArrayLike<number>).length !== 'number') {
    throw new ArgumentError(`${op}: 'sigmas' must be an array of noise levels (e.g. karrasSigmas(20, 0.002, 80)), found ${sigmas === null ? 'null' : typeof sigmas}`);
  }
  const s = Float64Array.from(sigmas as ArrayLike<number>);
  if (s.length < 2) throw new ArgumentError(`${op}: 'sigmas' needs at least 2 values (one step), found ${s.length}`);
  s.forEach((v, i) => {
    if (!Number.isFinite(v) || v < 0) throw new ArgumentError(`${op}: sigmas[${i}] = ${v}; every sigma must be a finite number >= 0`);
  });
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new ArgumentError(`${op}: 'options' must be an object, found ${options === null ? 'null' : typeof options}`);
  const o = (options ?? {}) as SamplerOptions;
  if (o.generator !== undefined && !(o.generator instanceof Generator)) throw new ArgumentError(`${op}: 'generator' must be a Generator (new Generator(seed)), found ${typeof o.generator}`);
  if (o.noise !== undefined && typeof o.noise !== 'function') throw new ArgumentError(`${op}: 'noise' must be a function (shape) => Tensor, found ${typeof o.noise}`);
  if (o.callback !== undefined && typeof o.callback !== 'function') throw new ArgumentError(`${op}: 'callback' must be a function, found ${typeof o.callback}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new ArgumentError(`${op}: 'signal' must be an AbortSignal`);
  return s;
}

/** Checks a non-negative finite option (eta, s_noise, ...) and returns it or its default. */
export function numberOption(op: string, name: string, v: unknown, def: number, min = 0): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || v === -Infinity) throw new ArgumentError(`${op}: option '${name}' must be a number >= ${min}, found ${String(v)}`);
  return v;
}

/** Calls the denoiser after checking the abort signal; checks the output's shape. */
export function denoise(op: string, denoiser: Denoiser, x: Tensor, sigma: number, options: SamplerOptions | undefined): Tensor {
  options?.signal?.throwIfAborted();
  const out = denoiser(x, sigma);
  if (!(out instanceof Tensor) || out.rank !== x.rank || out.shape.some((d, i) => d !== x.shape[i])) {
    const found = out instanceof Tensor ? `shape ${fmtShape(out.shape)}` : typeof out;
    throw new ShapeError(`${op}: the denoiser returned ${found} at sigma ${sigma}, expected a Tensor shaped like x ${fmtShape(x.shape)}`);
  }
  return out;
}

/** Standard normal noise shaped like x, in x's dtype, from options.noise or options.generator. */
export function noiseLike(op: string, x: Tensor, options: SamplerOptions | undefined): Tensor {
  let z: Tensor;
  if (options?.noise !== undefined) z = options.noise(x.shape);
  else if (options?.generator !== undefined) z = options.generator.normal(x.shape);
  else throw new ArgumentError(`${op}: this sampler adds noise; pass options.generator (new Generator(seed)) or options.noise`);
  if (!(z instanceof Tensor) || z.size !== x.size) throw new ShapeError(`${op}: the noise source returned ${z instanceof Tensor ? `shape ${fmtShape(z.shape)}` : typeof z}, expected ${fmtShape(x.shape)}`);
  // A noise source may return x's size in another shape (a flat stream) or dtype.
  const shaped = z.shape.length === x.rank && z.shape.every((d, i) => d === x.shape[i]) ? z : reshape(z, x.shape);
  return shaped.dtype === x.dtype ? shaped : linearCombination([[1, shaped]], x.dtype);
}

/**
 * sum_k c_k * t_k, elementwise, in the first tensor's dtype (coefficients in float64), through the
 * linearCombination op. The running sum is rounded to that dtype after each term, as the samplers
 * always computed it, so float32 runs keep their exact bits; `x + c d` (leading coefficient 1, the
 * usual step) is one fused pass. Terms with coefficient 0 after the first are skipped. Like the
 * samplers, it records no autograd graph.
 * @example const xNext = lin([1, x], [dt, d]); // x + dt * d
 */
export function lin(...terms: readonly (readonly [number, Tensor])[]): Tensor {
  const first = terms[0];
  if (first === undefined) throw new ArgumentError('lin: needs at least one term');
  return noGrad(() => {
    const [c0, t0] = first;
    const rest = terms.slice(1).filter(([c]) => c !== 0);
    // In float64 rounding after each term is the double accumulation itself: one fused pass.
    if (c0 !== 0 && t0.dtype === 'float64') return linearCombination([first, ...rest]);
    let out: Tensor;
    if (c0 === 1 && rest.length > 0) out = linearCombination([first, rest.shift()!]);
    else if (c0 === 0) out = mulScalar(t0, 0); // 0 * t0 (NaN stays NaN), as the plain product
    else out = linearCombination([first]);
    for (const term of rest) out = linearCombination([[1, out], term]);
    return out;
  });
}

/** The ODE's derivative d = (x - D(x, sigma)) / sigma (EDM eq. 3; k-diffusion's to_d). */
export function toD(x: Tensor, sigma: number, denoised: Tensor): Tensor {
  return lin([1 / sigma, x], [-1 / sigma, denoised]);
}

/**
 * An ancestral step from sigmaFrom to sigmaTo split into a deterministic step to sigmaDown and
 * fresh noise of std sigmaUp, with sigmaDown^2 + sigmaUp^2 = sigmaTo^2 (k-diffusion's
 * get_ancestral_step; eta = 1 is DDPM's posterior noise, eta = 0 the ODE).
 */
export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): { sigmaDown: number; sigmaUp: number } {
  if (eta === 0 || sigmaFrom === 0) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  const sigmaUp = Math.min(sigmaTo, eta * Math.sqrt(Math.max(0, (sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2)));
  const sigmaDown = Math.sqrt(Math.max(0, sigmaTo ** 2 - sigmaUp ** 2));
  return { sigmaDown, sigmaUp };
}

/** Stochastic churn of EDM Alg. 2 (s_churn, s_tmin, s_tmax, s_noise). */
export interface ChurnOptions {
  /** Total churn S_churn over the run (default 0: the deterministic ODE). */
  sChurn?: number;
  /** Churn only where s_tmin <= sigma <= s_tmax. */
  sTmin?: number;
  sTmax?: number;
  /** Std of the added noise relative to N(0, 1) (default 1). */
  sNoise?: number;
}

/**
 * EDM Alg. 2 lines 4-6: gamma = min(S_churn / steps, sqrt 2 - 1) inside [s_tmin, s_tmax], raise the
 * noise level to sigmaHat = sigma (1 + gamma) by adding noise of std sqrt(sigmaHat^2 - sigma^2).
 */
export function churn(op: string, x: Tensor, sigma: number, steps: number, o: ChurnOptions & SamplerOptions): { x: Tensor; sigmaHat: number } {
  const sChurn = numberOption(op, 'sChurn', o.sChurn, 0);
  const sTmin = numberOption(op, 'sTmin', o.sTmin, 0);
  const sTmax = numberOption(op, 'sTmax', o.sTmax, Infinity);
  const sNoise = numberOption(op, 'sNoise', o.sNoise, 1);
  const gamma = sChurn > 0 && sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / steps, Math.SQRT2 - 1) : 0;
  const sigmaHat = sigma * (1 + gamma);
  if (gamma === 0) return { x, sigmaHat };
  const eps = noiseLike(op, x, o);
  return { x: lin([1, x], [sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2), eps]), sigmaHat };
}
