/**
 * The model side of every reverse process, composed once: a U-Net with its class labels,
 * classifier-free guidance (Ho & Salimans 2022, eq. 6; conditional and unconditional halves in
 * one forward of 2B, null class = num_class_embeds - 1), classifier guidance (Dhariwal & Nichol
 * 2021; sampling/classifier_guidance.ts), extra conditioning channels concatenated to every input
 * (SR3's upsampled low-resolution image, Saharia et al. 2021), and a learned-variance model's
 * variance channels (Nichol & Dhariwal 2021) dropped unless the method consumes them. The engine's
 * adapters see it in the two forms they need: the model output at a timestep (schedulers) and the
 * denoiser D(x, sigma) (samplers, samplers/denoiser.ts's contract).
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { concat, split } from '../ops/concat.js';
import type { UNet2DModel } from '../nn/unet_2d.js';
import { classifierFreeGuidance } from '../diffusion/classifier_free_guidance.js';
import { denoiserFromModel, type DiscreteSchedule } from '../samplers/denoiser.js';
import type { Denoiser } from '../samplers/sampler.js';
import type { ClassifierGuide } from './classifier_guidance.js';

/** What a chunk of images is conditioned on. */
export interface ConditionedModelOptions {
  /** The denoiser (eval mode). */
  model: UNet2DModel;
  /** One class per image of the chunk, or null for an unconditional model. */
  labels: readonly number[] | null;
  /** Classifier-free guidance weight w (1: the conditional model alone). */
  guidance: number;
  /** The null class of guidance (num_class_embeds - 1). */
  nullClass: number;
  /** Extra input channels (B, H, W, Cc) concatenated to x_t (SR3), or null. */
  conditioning: Tensor | null;
  /** The channels C of the images (the model's in_channels less the conditioning's). */
  channels: number;
  /** Whether the method consumes a learned variance (DDPM with variance_type learned*). */
  keepVariance: boolean;
  /** Classifier guidance, or null. */
  classifier: ClassifierGuide | null;
  /** Index of the chunk's first image (the classifier's targets are per image). */
  start: number;
}

/** A conditioned model in the two forms the engine's adapters use. */
export interface ConditionedModel {
  /** The model output (eps, v or x_0, per its training) at timestep t for the input x_t (B, H, W, C). */
  output(xt: Tensor, t: number): Tensor;
  /** D(x, sigma) on `schedule` (x = x_0 + sigma n), classifier guidance in its denoiser form. */
  denoiser(schedule: DiscreteSchedule): Denoiser;
}

/**
 * Composes labels, classifier-free and classifier guidance, conditioning channels and the variance
 * split around `model`, run without gradients.
 * @example
 * const m = conditionedModel({ model, labels: [3, 3], guidance: 2, nullClass: 10, conditioning: null, channels: 1, keepVariance: false, classifier: null, start: 0 });
 * const eps = m.output(xt, 500);
 */
export function conditionedModel(o: ConditionedModelOptions): ConditionedModel {
  const { model, labels, guidance, nullClass, conditioning, channels, classifier, start } = o;
  const guided = labels !== null && guidance !== 1;
  const dropsVariance = model.config.outChannels === 2 * channels && !o.keepVariance;
  // Guidance: conditional labels first, then the null class, one forward of 2B samples.
  const modelLabels = labels === null ? null : guided ? [...labels, ...new Array<number>(labels.length).fill(nullClass)] : [...labels];
  const guidedOutput = (xt: Tensor, t: number): Tensor =>
    noGrad(() => {
      const b = xt.shape[0]!;
      const x = guided ? concat([xt, xt], 0) : xt;
      const input = conditioning === null ? x : concat([x, guided ? concat([conditioning, conditioning], 0) : conditioning], -1);
      let out = model.forward(input, t, modelLabels);
      if (dropsVariance) out = split(out, [channels, channels], -1)[0]!;
      return guided ? classifierFreeGuidance(out, b, guidance) : out;
    });
  return {
    output: (xt, t) => (classifier === null ? guidedOutput(xt, t) : classifier.modelOutput(guidedOutput(xt, t), xt, t, start)),
    denoiser: (schedule) => {
      const d = denoiserFromModel((x, t) => guidedOutput(x, t), { schedule });
      return classifier === null ? d : classifier.denoiser(d, start);
    },
  };
}
