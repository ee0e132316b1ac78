/**
 * Classifier guidance (Dhariwal & Nichol 2021, sec. 4.1-4.2, Algorithms 1 and 2): a
 * noise-conditional classifier p_phi(y | x_t, t) (nn/noisy_classifier.ts) steers any sampler
 * towards class y by the gradient g = grad_{x_t} log p_phi(y | x_t, t), taken by our autograd
 * (x_t requires gradients, the sum over the batch of the selected log-probabilities is
 * back-propagated; the classifier's weights are frozen meanwhile).
 *
 * Epsilon form (their eq. 14, "score-based conditioning trick"), for schedulers that consume the
 * model output at timestep t with abar = abar_t:
 *   eps' = eps - s sqrt(1 - abar) g.
 * A model predicting v or x_0 gets the same change expressed in its own parameterization, holding
 * x_t fixed (x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar), v = (eps - sqrt(1 - abar) x_t) / sqrt(abar)):
 *   v'   = v   - s sqrt(1 - abar) / sqrt(abar) g,
 *   x_0' = x_0 + s (1 - abar) / sqrt(abar) g.
 *
 * Denoiser form (the k-diffusion samplers): the denoiser sees x = x_t / sqrt(abar) at noise level
 * sigma = sqrt((1 - abar) / abar), and the classifier sees x_t = c_in x, c_in = sqrt(abar) =
 * 1 / sqrt(sigma^2 + 1), at t = t(sigma). By the chain rule
 *   grad_x log p(y | x, sigma) = c_in g,
 * and D = x - sigma eps (epsilon model) turns eps' into
 *   D' = x - sigma eps' = D + s sigma sqrt(1 - abar) g = D + s sigma^2 c_in g = D + s sigma^2 grad_x log p(y | x, sigma),
 * since sqrt(1 - abar) = sigma c_in. This is the brief's D' = D + s sigma^2 grad_x log p, and it is
 * the same update as the epsilon form whatever the model predicts (D is parameterization-free).
 *
 * With classifier-free guidance both apply: the classifier's term is added to the guided output
 * eps_u + w (eps_c - eps_u) (or to the guided denoiser). Scale 0 leaves sampling unchanged.
 */
import { Tensor } from '../tensor/tensor.js';
import { enableGrad, noGrad } from '../tensor/autograd.js';
import { combine } from '../diffusion/forward.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { NoisyClassifier } from '../nn/noisy_classifier.js';
import { softmaxCrossEntropy } from '../eval/cross_entropy.js';
import { DiscreteSchedule } from '../samplers/denoiser.js';
import type { Denoiser } from '../samplers/sampler.js';
import type { DiffusersConfig } from '../schedulers/scheduler.js';

/**
 * g = grad_{x_t} sum_i log p(y_i | x_t[i], t), (N, H, W, C): one forward and one backward of the
 * classifier, recorded even inside noGrad (enableGrad); the classifier's weights get no gradient.
 * @example const g = classifierLogProbGrad(clf, xt, 500, [3, 3]);
 */
export function classifierLogProbGrad(classifier: NoisyClassifier, xt: Tensor, t: number | readonly number[], labels: readonly number[]): Tensor {
  const op = 'classifierLogProbGrad';
  if (!(classifier instanceof NoisyClassifier)) throw new ArgumentError(`${op}: 'classifier' must be a NoisyClassifier, found ${classifier === null ? 'null' : typeof classifier}`);
  if (!(xt instanceof Tensor) || xt.rank !== 4) throw new ShapeError(`${op}: 'xt' must be images (N, H, W, C)${xt instanceof Tensor ? `, found shape ${fmtShape(xt.shape)}` : ''}`);
  const n = xt.shape[0]!;
  if (labels.length !== n) throw new ShapeError(`${op}: ${labels.length} labels for a batch of ${n}`);
  const params = classifier.parameters();
  const was = params.map((p) => p.requiresGrad);
  for (const p of params) p.requiresGrad = false;
  try {
    return enableGrad(() => {
      const x = noGrad(() => combine(op, 1, xt, 0, xt)).requireGrad(); // a copy, a leaf of its own graph
      // sum_i log p(y_i | x_i) = -N * mean cross-entropy.
      softmaxCrossEntropy(classifier.forward(x, typeof t === 'number' ? t : [...t]), labels).backward();
      const g = x.grad!;
      return noGrad(() => combine(op, -n, g, 0, g));
    });
  } finally {
    params.forEach((p, i) => (p.requiresGrad = was[i]!));
  }
}

/**
 * Anything that gives grad_{x_t} sum_i log p(y_i | x_t[i], t) for classes 0..numClasses-1: a
 * NoisyClassifier, or a function (e.g. a classifier with a closed-form log-probability, in tests).
 */
export type GuidingClassifier = NoisyClassifier | { numClasses: number; logProbGrad(xt: Tensor, t: number, labels: readonly number[]): Tensor };

/** y = a + k g, elementwise (a new tensor, evaluated in float64 and rounded once). */
function axpy(a: Tensor, k: number, g: Tensor): Tensor {
  return combine('classifierGuide', 1, a, k, g, ['output', 'gradient']);
}

/** Classifier guidance for one generate() call: its targets and the two wrappers. */
export interface ClassifierGuide {
  readonly classifier: GuidingClassifier;
  readonly scale: number;
  readonly schedule: DiscreteSchedule;
  /** The class each image is steered towards. */
  readonly targets: readonly number[];
  /**
   * A step-wise scheduler's model output (eps, v or x_0, per the schedule's prediction type) at
   * timestep t for model input x_t, guided towards targets[start .. start + B).
   */
  modelOutput(out: Tensor, xt: Tensor, t: number, start: number): Tensor;
  /** A denoiser D(x, sigma) guided towards targets[start .. start + B): D + s sigma^2 grad_x log p. */
  denoiser<D extends Denoiser>(d: D, start: number): D;
}

/**
 * The guide for a classifier and scale on the schedule of `schedulerConfig`.
 * @example const guide = classifierGuide(clf, 2, [3, 3, 7], readSchedulerConfig(dir));
 */
export function classifierGuide(classifier: GuidingClassifier, scale: number, targets: readonly number[], schedulerConfig: DiffusersConfig = {}): ClassifierGuide {
  const op = 'classifierGuide';
  const isFn = classifier !== null && typeof classifier === 'object' && !(classifier instanceof NoisyClassifier) && typeof classifier.logProbGrad === 'function';
  if (!(classifier instanceof NoisyClassifier) && !isFn) {
    throw new ArgumentError(`${op}: 'classifier' must be a NoisyClassifier (NoisyClassifier.fromPretrained(dir)) or { numClasses, logProbGrad }, found ${classifier === null ? 'null' : typeof classifier}`);
  }
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new ArgumentError(`${op}: the classifier scale must be a finite number, found ${String(scale)}`);
  const k = classifier instanceof NoisyClassifier ? classifier.config.numClasses : classifier.numClasses;
  targets.forEach((y, i) => {
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new ArgumentError(`${op}: the target class of image ${i} is ${String(y)}, but the classifier knows classes 0..${k - 1} (num_classes = ${k})`);
  });
  const schedule = DiscreteSchedule.fromConfig(schedulerConfig);
  const T = schedule.numTrainTimesteps;
  const grad = (xt: Tensor, t: number, start: number): Tensor => {
    const y = targets.slice(start, start + xt.shape[0]!);
    return classifier instanceof NoisyClassifier ? classifierLogProbGrad(classifier, xt, t, y) : classifier.logProbGrad(xt, t, y);
  };
  return {
    classifier,
    scale,
    schedule,
    targets: [...targets],
    modelOutput(out, xt, t, start) {
      if (scale === 0) return out;
      if (out.size !== xt.size) throw new ShapeError(`classifier guidance: the model output ${fmtShape(out.shape)} does not match its input x_t ${fmtShape(xt.shape)} (models with learned variances are not supported)`);
      const sigma = schedule.tToSigma(Math.min(T - 1, Math.max(0, t)));
      const abar = 1 / (1 + sigma * sigma);
      const g = grad(xt, t, start);
      switch (schedule.predictionType) {
        case 'epsilon':
          return axpy(out, -scale * Math.sqrt(1 - abar), g);
        case 'v_prediction':
          return axpy(out, (-scale * Math.sqrt(1 - abar)) / Math.sqrt(abar), g);
        case 'sample':
          return axpy(out, (scale * (1 - abar)) / Math.sqrt(abar), g);
      }
    },
    denoiser(d, start) {
      if (scale === 0) return d;
      const guided = (x: Tensor, sigma: number): Tensor => {
        const den = d(x, sigma);
        const cIn = 1 / Math.sqrt(sigma * sigma + 1);
        const xt = combine('classifierGuide', cIn, x, 0, x); // x_t = sqrt(abar) x
        return axpy(den, scale * sigma * sigma * cIn, grad(xt, schedule.sigmaToT(sigma), start));
      };
      return Object.assign(guided, d) as typeof d;
    },
  };
}
