/**
 * The correctors of predictor-corrector sampling (Song et al. 2021, appendix G, Algorithms 4-5):
 * MCMC steps that move x towards p_t at fixed t, using only the score s = s(x, t).
 *   langevin (Alg. 4): step = 2 alpha (r ||z|| / ||s||)^2 with the signal-to-noise ratio r (snr),
 *                      norms per image averaged over the batch;  x <- x + step s + sqrt(2 step) z
 *   ald (annealed Langevin, Song & Ermon 2019, Alg. 1): step = 2 alpha (r std(t))^2, the same update
 * alpha = 1 - beta_i for the VP SDE (the DDPM step's alpha_i), 1 for sub-VP and VE, as in score_sde.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { lin, noiseLike } from '../samplers/sampler.js';
import { rowSumSquares } from '../ops/optim.js';
import { reshape } from '../ops/shape.js';
import type { ScoreFn, Sde } from './sde.js';
import type { VpSde } from './vp.js';
import type { NoiseOptions, PcStep } from './predictors.js';

export type CorrectorName = 'langevin' | 'ald' | 'none';
export const CORRECTOR_NAMES: readonly CorrectorName[] = ['langevin', 'ald', 'none'];

export interface CorrectorOptions extends NoiseOptions {
  /** The signal-to-noise ratio r (score_sde: 0.16 for VE on CIFAR-10, 0.01-0.17 elsewhere). */
  snr: number;
  /** Corrector steps per time step (score_sde's n_steps; default 1). */
  nSteps?: number;
}

/** The mean over the batch (axis 0) of the per-image L2 norms. */
function meanNorm(t: Tensor): number {
  const n = t.shape[0] ?? 1;
  // The step size is a host scalar: read the N per-image sums, not the images.
  const sums = rowSumSquares(t.rank === 0 ? reshape(t, [1]) : t).toArray('float64');
  let total = 0;
  for (let b = 0; b < n; b++) total += Math.sqrt(sums[b]!);
  return total / n;
}

function alphaOf(sde: Sde, t: number): number {
  return sde.name === 'vp' ? 1 - (sde as VpSde).discreteBeta(sde.stepIndex(t)) : 1;
}

function checkOptions(op: string, o: CorrectorOptions): number {
  if (typeof o.snr !== 'number' || !Number.isFinite(o.snr) || !(o.snr > 0)) throw new ArgumentError(`${op}: snr must be a number > 0 (e.g. 0.16), found ${String(o.snr)}`);
  const n = o.nSteps ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`${op}: nSteps must be an integer >= 1, found ${String(n)}`);
  return n;
}

/** Langevin MCMC with the step size set by the signal-to-noise ratio (Alg. 4). */
export function langevinCorrector(sde: Sde, score: ScoreFn, x: Tensor, t: number, o: CorrectorOptions): PcStep {
  const nSteps = checkOptions('langevin', o);
  const alpha = alphaOf(sde, t);
  let xMean = x;
  for (let k = 0; k < nSteps; k++) {
    const s = score(x, t);
    const z = noiseLike('langevin', x, o);
    const step = 2 * alpha * ((o.snr * meanNorm(z)) / meanNorm(s)) ** 2;
    xMean = lin([1, x], [step, s]);
    x = lin([1, xMean], [Math.sqrt(2 * step), z]);
  }
  return { x, xMean };
}

/** Annealed Langevin dynamics: the step size from the marginal std instead of the norms (Alg. 5). */
export function annealedLangevinCorrector(sde: Sde, score: ScoreFn, x: Tensor, t: number, o: CorrectorOptions): PcStep {
  const nSteps = checkOptions('ald', o);
  const alpha = alphaOf(sde, t);
  const { std } = sde.marginal(t);
  const step = 2 * alpha * (o.snr * std) ** 2;
  let xMean = x;
  for (let k = 0; k < nSteps; k++) {
    const s = score(x, t);
    const z = noiseLike('ald', x, o);
    xMean = lin([1, x], [step, s]);
    x = lin([1, xMean], [Math.sqrt(2 * step), z]);
  }
  return { x, xMean };
}

/** One corrector update by name ('none' returns x unchanged). */
export function correctorStep(name: CorrectorName, sde: Sde, score: ScoreFn, x: Tensor, t: number, o: CorrectorOptions): PcStep {
  switch (name) {
    case 'langevin':
      return langevinCorrector(sde, score, x, t, o);
    case 'ald':
      return annealedLangevinCorrector(sde, score, x, t, o);
    case 'none':
      return { x, xMean: x };
    default:
      throw new ArgumentError(`corrector must be one of ${CORRECTOR_NAMES.join(', ')}, found ${JSON.stringify(name)}`);
  }
}
