/**
 * Score models: a U-Net trained by denoising score matching (or a DDPM epsilon model) adapted to
 * the one contract the samplers and the likelihood use, s(x, t) ~ grad_x log p_t(x). Following
 * score_sde's parameterisation (get_score_fn):
 *   VP, sub-VP:  the model predicts the noise z of x(t) = m(t) x(0) + std(t) z, s = -F / std(t)
 *   VE:          the model predicts -z, s = F / sigma(t)  (NCSN's output scaled by 1 / sigma)
 * The model's timestep input is t (N - 1), i.e. t * 999 for N = 1000: for VP the discrete DDPM
 * index (so a DDPM model is a VP score model), for VE log sigma(t) mapped affinely onto [0, N - 1]
 * (log sigma is linear in t), which keeps the U-Net's sinusoidal embedding in its usual range.
 */
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import { mulScalar } from '../ops/scalar.js';
import type { UNet2DModel } from '../nn/unet_2d.js';
import { checkTime, type ScoreFn, type Sde } from './sde.js';

/** What the score adapter needs of a model: F(x, timesteps, labels). */
export type ScoreModel = Pick<UNet2DModel, 'forward'>;

/** The model's timestep input at time t: t (N - 1). */
export function modelTimeInput(sde: Sde, t: number): number {
  return t * (sde.N - 1);
}

/**
 * The factor c(t) with s(x, t) = c(t) F(x, t (N - 1)): -1/std(t) for VP and sub-VP, 1/sigma(t) for VE.
 */
export function scoreScale(sde: Sde, t: number): number {
  const { std } = sde.marginal(checkTime('scoreScale', t));
  switch (sde.name) {
    case 'vp':
    case 'subvp':
      return -1 / std;
    case 've':
      return 1 / std;
  }
}

/** Options of scoreFromModel. */
export interface ScoreFromModelOptions {
  /** One class per image (length N), or null/undefined for an unconditional model. */
  classLabels?: Int32Array | readonly number[] | null;
}

/**
 * The score function of a trained model. Gradients flow through it (the likelihood's divergence
 * needs them); wrap calls in noGrad() when sampling.
 * @example
 * const score = scoreFromModel(new VpSde(), UNet2DModel.fromPretrained('models/fashion-mnist/unet'));
 * const s = noGrad(() => score(x, 0.5)); // (N, 28, 28, 1)
 */
export function scoreFromModel(sde: Sde, model: ScoreModel, options: ScoreFromModelOptions = {}): ScoreFn {
  if (model === null || typeof model !== 'object' || typeof model.forward !== 'function') throw new ArgumentError(`scoreFromModel: 'model' must be a UNet2DModel (something with forward(x, timesteps, labels)), found ${model === null ? 'null' : typeof model}`);
  const labels = options.classLabels ?? null;
  return (x: Tensor, t: number): Tensor => {
    expectTensor('score', 'x', x);
    const n = x.shape[0]!;
    if (labels !== null && labels.length !== n) throw new ArgumentError(`score: ${labels.length} class labels for a batch of ${n} images; give one label per image`);
    const timesteps = new Float32Array(n).fill(modelTimeInput(sde, t));
    const out = model.forward(x, timesteps, labels);
    return mulScalar(out, scoreScale(sde, t));
  };
}

/**
 * Sets requiresGrad off on every parameter while `fn` runs (the likelihood differentiates the
 * model with respect to its input only; weight gradients would double the backward's cost and
 * accumulate in .grad), then restores the flags.
 */
export function withFrozenParameters<T>(model: { parameters(): Tensor[] }, fn: () => T): T {
  const params = model.parameters();
  const flags = params.map((p) => p.requiresGrad);
  for (const p of params) p.requiresGrad = false;
  try {
    return fn();
  } finally {
    params.forEach((p, i) => (p.requiresGrad = flags[i]!));
  }
}
