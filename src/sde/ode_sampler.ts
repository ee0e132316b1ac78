/**
 * Sampling by the probability-flow ODE (Song et al. 2021, sec. 4.3, eq. 13):
 *   dx/dt = a(t) x - 1/2 g(t)^2 s(x, t),
 * integrated from t = T down to eps by the adaptive Dormand-Prince RK45 solver (rk45.ts), as
 * score_sde's ode_sampler does with scipy's solve_ivp; optionally a last denoising step (the
 * reverse-diffusion predictor's mean at eps). The solver's step count, hence the number of score
 * evaluations (NFE), adapts to rtol/atol.
 */
import type { ProgressHandler } from '../sampling/progress.js';

/** Units of an ODE run's progress: thousandths of the time interval [eps, T]. */
export const ODE_PROGRESS_UNITS = 1000;
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { noGrad } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { lin } from '../samplers/sampler.js';
import { SDE_T, type ScoreFn, type Sde } from './sde.js';
import { cast } from '../ops/copy.js';
import { rk45Tensor } from './rk45.js';
import { defaultSamplingEps, type SdeSampleResult } from './pc_sampler.js';

/** score_sde's RK45 tolerance, relative and absolute. */
export const DEFAULT_ODE_TOLERANCE = 1e-5;

export interface OdeSampleOptions {
  /** Relative and absolute tolerance of RK45 (default 1e-5 each, score_sde's). */
  rtol?: number;
  atol?: number;
  /** The last time (default defaultSamplingEps(sde)). */
  eps?: number;
  /** A final reverse-diffusion denoising step at eps (default true; one more NFE). */
  denoise?: boolean;
  /**
   * Called after each accepted solver step with the one ProgressEvent: step of total =
   * thousandths of [eps, T] done, and nfe, the score evaluations so far.
   */
  onProgress?: ProgressHandler;
  /**
   * Called after each accepted solver step.
   * @deprecated Use onProgress(event).
   */
  onStep?: (t: number, nfe: number) => void;
  signal?: AbortSignal;
}

/** The probability-flow drift a(t) x - 1/2 g(t)^2 s(x, t) (eq. 13), no graph. */
export function probabilityFlowDrift(sde: Sde, score: ScoreFn, x: Tensor, t: number): Tensor {
  const { xCoef, scoreCoef } = sde.reverseDriftCoefs(t, true);
  const s = noGrad(() => score(x, t));
  return lin([xCoef, x], [scoreCoef, s]);
}

/**
 * @example const { x, nfe } = odeSample(sde, score, sde.priorSample([16, 28, 28, 1], gen), { rtol: 1e-5, atol: 1e-5 });
 */
export function odeSample(sde: Sde, score: ScoreFn, xT: Tensor, options: OdeSampleOptions = {}): SdeSampleResult {
  const op = 'odeSample';
  expectTensor(op, 'xT', xT);
  if (typeof score !== 'function') throw new ArgumentError(`${op}: 'score' must be a function (x, t) => score, found ${typeof score}`);
  const eps = options.eps ?? defaultSamplingEps(sde);
  if (typeof eps !== 'number' || !(eps > 0 && eps < SDE_T)) throw new ArgumentError(`${op}: eps must be in (0, ${SDE_T}), found ${String(eps)}`);
  // The solver's state is float64 on xT's device; the score sees it in xT's dtype.
  const dtype = xT.dtype;
  const asInput = (y: Tensor): Tensor => (y.dtype === dtype ? y : noGrad(() => cast(y, dtype)));
  const sol = rk45Tensor(
    (t, y) => probabilityFlowDrift(sde, score, asInput(y), t),
    SDE_T,
    eps,
    noGrad(() => cast(xT, 'float64')),
    {
      rtol: options.rtol ?? DEFAULT_ODE_TOLERANCE,
      atol: options.atol ?? DEFAULT_ODE_TOLERANCE,
      ...(options.onStep === undefined && options.onProgress === undefined
        ? {}
        : {
            onStep: (t: number, _y: Tensor, nfe: number) => {
              options.onStep?.(t, nfe);
              options.onProgress?.({ step: Math.round(ODE_PROGRESS_UNITS * (1 - t / SDE_T)), total: ODE_PROGRESS_UNITS, nfe });
            },
          }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    },
  );
  let x = asInput(sol.y);
  let nfe = sol.nfe;
  if (options.denoise ?? true) {
    // The reverse-diffusion predictor's mean at eps: x - f_i(x) + G_i^2 s.
    const { fCoef, scoreCoef } = sde.reverseDiscretize(eps, false);
    const s = noGrad(() => score(x, eps));
    x = lin([1 - fCoef, x], [-scoreCoef, s]);
    nfe++;
  }
  return { x, nfe };
}
