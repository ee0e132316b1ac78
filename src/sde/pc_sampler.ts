/**
 * Predictor-corrector sampling (Song et al. 2021, sec. 4.2, Algorithm 1): from x ~ p_T, for each
 * time t_i = linspace(T, eps, N): a corrector update (MCMC at fixed t), then a predictor step of
 * the reverse SDE; the output is the last predictor mean (score_sde's noise removal). With
 * corrector 'none' it is a plain reverse-SDE solver; with predictor 'none', annealed MCMC.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { noGrad } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { linspace } from '../diffusion/schedules.js';
import type { ProgressHandler } from '../sampling/progress.js';
import { SDE_T, type ScoreFn, type Sde } from './sde.js';
import { predictorStep, PREDICTOR_NAMES, type NoiseOptions, type PredictorName } from './predictors.js';
import { correctorStep, CORRECTOR_NAMES, type CorrectorName } from './correctors.js';

/** score_sde's corrector signal-to-noise ratio (its CIFAR-10 configs). */
export const DEFAULT_SNR = 0.16;

/** score_sde's sampling eps: 1e-3 for VP and sub-VP, 1e-5 for VE. */
export function defaultSamplingEps(sde: Sde): number {
  return sde.name === 've' ? 1e-5 : 1e-3;
}

export interface PcOptions extends NoiseOptions {
  predictor?: PredictorName;
  corrector?: CorrectorName;
  /** Signal-to-noise ratio of the corrector (default 0.16). */
  snr?: number;
  /** Corrector steps per time step (default 1). */
  correctorSteps?: number;
  /** Number of time steps (default the SDE's N). */
  steps?: number;
  /** The last time (default defaultSamplingEps(sde)). */
  eps?: number;
  /** Return the last step's mean instead of the noisy sample (default true). */
  denoise?: boolean;
  /** Called after each time step with the one ProgressEvent (x0Preview: the step's mean). */
  onProgress?: ProgressHandler;
  /**
   * Called after each time step.
   * @deprecated Use onProgress(event): event.step = i + 1, event.x, event.x0Preview = xMean.
   */
  callback?: (p: { i: number; t: number; x: Tensor; xMean: Tensor }) => void;
  signal?: AbortSignal;
}

/** The sample and the number of score evaluations it took. */
export interface SdeSampleResult {
  x: Tensor;
  nfe: number;
}

/**
 * Samples the reverse SDE from xT (a draw from the prior, e.g. sde.priorSample(shape, gen)).
 * @example
 * const gen = new Generator(0);
 * const { x } = pcSample(sde, score, sde.priorSample([16, 28, 28, 1], gen), { predictor: 'reverse_diffusion', corrector: 'langevin', snr: 0.16, generator: gen });
 */
export function pcSample(sde: Sde, score: ScoreFn, xT: Tensor, options: PcOptions = {}): SdeSampleResult {
  const op = 'pcSample';
  expectTensor(op, 'xT', xT);
  if (typeof score !== 'function') throw new ArgumentError(`${op}: 'score' must be a function (x, t) => score, found ${typeof score}`);
  const predictor = options.predictor ?? 'reverse_diffusion';
  const corrector = options.corrector ?? 'langevin';
  if (!PREDICTOR_NAMES.includes(predictor)) throw new ArgumentError(`${op}: predictor must be one of ${PREDICTOR_NAMES.join(', ')}, found ${JSON.stringify(predictor)}`);
  if (!CORRECTOR_NAMES.includes(corrector)) throw new ArgumentError(`${op}: corrector must be one of ${CORRECTOR_NAMES.join(', ')}, found ${JSON.stringify(corrector)}`);
  if (predictor === 'none' && corrector === 'none') throw new ArgumentError(`${op}: predictor and corrector are both 'none'; nothing would move the prior sample`);
  if (predictor === 'ancestral' && sde.name === 'subvp') throw new ArgumentError(`${op}: the ancestral predictor needs a VP or VE SDE (sub-VP has no discrete ancestor); use reverse_diffusion or euler_maruyama`);
  const steps = options.steps ?? sde.N;
  if (!Number.isInteger(steps) || steps < 1) throw new ArgumentError(`${op}: steps must be an integer >= 1, found ${String(steps)}`);
  const eps = options.eps ?? defaultSamplingEps(sde);
  if (typeof eps !== 'number' || !(eps > 0 && eps < SDE_T)) throw new ArgumentError(`${op}: eps must be in (0, ${SDE_T}), found ${String(eps)}`);
  const snr = options.snr ?? DEFAULT_SNR;
  const nSteps = options.correctorSteps ?? 1;
  const noise: NoiseOptions = {
    ...(options.generator === undefined ? {} : { generator: options.generator }),
    ...(options.noise === undefined ? {} : { noise: options.noise }),
  };
  if (noise.generator === undefined && noise.noise === undefined) throw new ArgumentError(`${op}: PC sampling draws noise; pass options.generator (new Generator(seed)) or options.noise`);
  // Scores only feed the sampler: no graph.
  const s: ScoreFn = (x, t) => noGrad(() => score(x, t));
  let nfe = 0;
  const counted: ScoreFn = (x, t) => {
    options.signal?.throwIfAborted();
    nfe++;
    return s(x, t);
  };
  // The discretisation (reverse diffusion, ancestral, Langevin's alpha) follows the sampling steps.
  const disc = steps === sde.N ? sde : sde.withSteps(steps);
  const ts = linspace(SDE_T, eps, steps);
  // score_sde's Euler-Maruyama step: dt = -T / N for each of the N grid times.
  const dt = -SDE_T / steps;
  let x = xT;
  let xMean = xT;
  for (let i = 0; i < steps; i++) {
    const t = ts[i]!;
    ({ x, xMean } = correctorStep(corrector, disc, counted, x, t, { snr, nSteps, ...noise }));
    ({ x, xMean } = predictorStep(predictor, disc, counted, x, t, dt, noise));
    options.callback?.({ i, t, x, xMean });
    options.onProgress?.({ step: i + 1, total: steps, x, x0Preview: xMean });
  }
  return { x: options.denoise === false ? x : xMean, nfe };
}
