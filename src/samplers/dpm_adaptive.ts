/**
 * Adaptive-step DPM-Solver (Lu et al. 2022, "DPM-Solver", sec. 3.3 and Alg. 4 / App. C;
 * k-diffusion's sample_dpm_adaptive). In lambda-time t = -log sigma with the noise prediction
 * eps = (x - D(x, sigma)) / sigma, each trial step h computes a lower- and a higher-order
 * DPM-Solver solution sharing model calls (orders 2/3 for order 3, 1/2 for order 2), the scaled
 * error E = ||(x_low - x_high) / max(atol, rtol max(|x_low|, |x_prev|))|| / sqrt(numel), and an
 * integral (PID) step-size controller accepts the step when its factor >= accept_safety.
 * Integrates from sigma_max = sigmas[0] to sigma_min = the smallest positive sigma; if the
 * schedule ends at 0 a last model call returns D(x, sigma_min). Reports its evaluations via onInfo.
 * The error norm spans the whole batch, so the steps taken depend on what is batched together.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { linearCombination } from '../ops/linear_combination.js';
import { abs, square } from '../ops/unary.js';
import { add, div, sub } from '../ops/binary.js';
import { clamp, mulScalar } from '../ops/scalar.js';
import { sum } from '../ops/reduce.js';
import { ancestralStep, checkSamplerArgs, denoise, lin, noiseLike, numberOption, type Denoiser, type SamplerOptions } from './sampler.js';

/** How an adaptive run went. */
export interface AdaptiveInfo {
  /** Trial steps (accepted + rejected). */
  steps: number;
  /** Model (function) evaluations, including the final denoise. */
  nfe: number;
  nAccept: number;
  nReject: number;
}

export interface DpmAdaptiveOptions extends SamplerOptions {
  /** 2 or 3 (default 3). */
  order?: number;
  /** Relative and absolute tolerances (defaults 0.05 and 0.0078, about 1/128 of the [-1, 1] range). */
  rtol?: number;
  atol?: number;
  /** First trial step in lambda-time (default 0.05). */
  hInit?: number;
  /** PID controller coefficients (defaults 0, 1, 0: an integral controller). */
  pcoeff?: number;
  icoeff?: number;
  dcoeff?: number;
  /** Accept a step when the controller's factor is at least this (default 0.81). */
  acceptSafety?: number;
  /** Ancestral noise scale (default 0: the ODE). */
  eta?: number;
  sNoise?: number;
  /** Receives the step and evaluation counts at the end. */
  onInfo?: (info: AdaptiveInfo) => void;
}

/** Guard against division by a zero error estimate. */
const ERROR_EPS = 1e-8;
/** Stop when within this much lambda-time of the end (k-diffusion's tolerance). */
const T_END_TOL = 1e-5;

/** @example const x0 = dpmAdaptive(denoiser, xT, [80, 0.002, 0], { rtol: 0.01, onInfo: (i) => console.log(i.nfe) }); */
export function dpmAdaptive(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: DpmAdaptiveOptions = {}): Tensor {
  const op = 'dpm_adaptive';
  const sg = checkSamplerArgs(op, denoiser, x, sigmas, options);
  const order = options.order ?? 3;
  if (order !== 2 && order !== 3) throw new ArgumentError(`${op}: option 'order' must be 2 or 3, found ${String(order)}`);
  const rtol = numberOption(op, 'rtol', options.rtol, 0.05);
  const atol = numberOption(op, 'atol', options.atol, 0.0078);
  const hInit = numberOption(op, 'hInit', options.hInit, 0.05);
  const pcoeff = numberOption(op, 'pcoeff', options.pcoeff, 0);
  const icoeff = numberOption(op, 'icoeff', options.icoeff, 1);
  const dcoeff = numberOption(op, 'dcoeff', options.dcoeff, 0);
  const acceptSafety = numberOption(op, 'acceptSafety', options.acceptSafety, 0.81);
  const eta = numberOption(op, 'eta', options.eta, 0);
  const sNoise = numberOption(op, 'sNoise', options.sNoise, 1);
  const sigmaMax = sg[0]!;
  const positive = Array.from(sg).filter((v) => v > 0);
  const sigmaMin = Math.min(...positive);
  if (!(sigmaMax > 0) || !(sigmaMax > sigmaMin)) throw new ArgumentError(`${op}: needs sigmas[0] > the smallest positive sigma > 0 (e.g. [80, 0.002, 0]), found ${JSON.stringify(Array.from(sg))}`);

  const info: AdaptiveInfo = { steps: 0, nfe: 0, nAccept: 0, nReject: 0 };
  const sigmaOf = (t: number) => Math.exp(-t);
  const tOf = (sigma: number) => -Math.log(sigma);
  // eps(x, t) = (x - D(x, sigma(t))) / sigma(t), each evaluation counted.
  const epsAt = (xx: Tensor, t: number): Tensor => {
    info.nfe++;
    const sigma = sigmaOf(t);
    return lin([1 / sigma, xx], [-1 / sigma, denoise(op, denoiser, xx, sigma, options)]);
  };

  // The PID step-size controller (k-diffusion's PIDStepSizeController): its order is the
  // lower solver's (1.5 for the SDE).
  const ctrlOrder = eta > 0 ? 1.5 : order;
  const b1 = (pcoeff + icoeff + dcoeff) / ctrlOrder;
  const b2 = -(pcoeff + 2 * dcoeff) / ctrlOrder;
  const b3 = dcoeff / ctrlOrder;
  let errs: [number, number, number] | null = null;
  let h = hInit;
  const proposeStep = (error: number): boolean => {
    const inv = 1 / (error + ERROR_EPS);
    if (errs === null) errs = [inv, inv, inv];
    errs[0] = inv;
    const factor = 1 + Math.atan(errs[0] ** b1 * errs[1] ** b2 * errs[2] ** b3 - 1); // a soft limiter
    const accept = factor >= acceptSafety;
    if (accept) {
      errs[2] = errs[1];
      errs[1] = errs[0];
    }
    h *= factor;
    return accept;
  };

  const tEnd = tOf(sigmaMin);
  let s = tOf(sigmaMax);
  let xPrev = x;
  let i = 0;
  while (s < tEnd - T_END_TOL) {
    const t = Math.min(tEnd, s + h);
    let tTarget = t;
    let sigmaUp = 0;
    if (eta > 0) {
      const { sigmaDown } = ancestralStep(sigmaOf(s), sigmaOf(t), eta);
      tTarget = Math.min(tEnd, tOf(sigmaDown));
      sigmaUp = Math.sqrt(Math.max(0, sigmaOf(t) ** 2 - sigmaOf(tTarget) ** 2));
    }
    const hh = tTarget - s;
    const eps = epsAt(x, s);
    if (options.callback !== undefined) {
      options.callback({ i, sigma: sigmaOf(s), sigmaHat: sigmaOf(s), x, denoised: lin([1, x], [-sigmaOf(s), eps]) });
    }
    const sigT = sigmaOf(tTarget);
    // DPM-Solver-1 (DDIM): x - sigma_t (e^h - 1) eps.
    const solver1 = () => lin([1, x], [-sigT * Math.expm1(hh), eps]);
    // DPM-Solver-2 with intermediate point s + r1 h (eq. in Alg. 1); returns the result and eps(u1).
    const solver2 = (r1: number): [Tensor, Tensor] => {
      const s1 = s + r1 * hh;
      const u1 = lin([1, x], [-sigmaOf(s1) * Math.expm1(r1 * hh), eps]);
      const epsR1 = epsAt(u1, s1);
      const coef = (sigT / (2 * r1)) * Math.expm1(hh);
      return [lin([1, x], [-sigT * Math.expm1(hh) + coef, eps], [-coef, epsR1]), epsR1];
    };
    let xLow: Tensor;
    let xHigh: Tensor;
    if (order === 2) {
      xLow = solver1();
      xHigh = solver2(1 / 2)[0];
    } else {
      // DPM-Solver-3 (Alg. 2, r1 = 1/3, r2 = 2/3) sharing eps(u1) with the order-2 solution.
      const r1 = 1 / 3;
      const r2 = 2 / 3;
      const [x2, epsR1] = solver2(r1);
      xLow = x2;
      const s2 = s + r2 * hh;
      const sig2 = sigmaOf(s2);
      const u2 = lin([1, x], [-sig2 * Math.expm1(r2 * hh), eps], [-sig2 * (r2 / r1) * (Math.expm1(r2 * hh) / (r2 * hh) - 1), epsR1], [sig2 * (r2 / r1) * (Math.expm1(r2 * hh) / (r2 * hh) - 1), eps]);
      const epsR2 = epsAt(u2, s2);
      const c = (sigT / r2) * (Math.expm1(hh) / hh - 1);
      xHigh = lin([1, x], [-sigT * Math.expm1(hh) + c, eps], [-c, epsR2]);
    }
    // Scaled error between the two solutions (the RMS of (x_low - x_high) / delta, delta =
    // max(atol, rtol max(|x_low|, |x_prev|))), in float64. Accepting or rejecting the step
    // depends on this one number, so it is read back to the host: the only read per step.
    const low64 = linearCombination([[1, xLow]], 'float64');
    const absLow = abs(low64);
    const absPrev = abs(linearCombination([[1, xPrev]], 'float64'));
    // max(a, b) = b + max(a - b, 0).
    const larger = add(absPrev, clamp(sub(absLow, absPrev), 0, Infinity));
    const delta = clamp(mulScalar(larger, rtol), atol, Infinity);
    const scaled = div(linearCombination([[1, low64], [-1, xHigh]], 'float64'), delta);
    const error = Math.sqrt(sum(square(scaled)).item()) / Math.sqrt(xLow.size);
    info.steps++;
    if (proposeStep(error)) {
      xPrev = xLow;
      x = sigmaUp > 0 ? lin([1, xHigh], [sigmaUp * sNoise, noiseLike(op, xHigh, options)]) : xHigh;
      s = t;
      info.nAccept++;
      i++;
    } else {
      info.nReject++;
    }
  }
  // A schedule ending at 0: the denoised estimate at sigma_min is the x_0 estimate.
  if (sg[sg.length - 1] === 0) {
    info.nfe++;
    x = denoise(op, denoiser, x, sigmaMin, options);
  }
  options.onInfo?.(info);
  return x;
}
