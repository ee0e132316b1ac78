/**
 * Classification Accuracy Score (Ravuri & Vinyals, "Classification Accuracy Score for Conditional
 * Generative Models", NeurIPS 2019): train a classifier only on generated labelled images, test
 * it on the real test split. A model whose class-conditional samples carry everything a
 * classifier needs about each class scores what the same classifier trained on as many real
 * images scores (the real-data CAS). Both use the same recipe: a new FeatureNet of the dataset's
 * architecture, a fixed number of AdamW steps (so n does not change the compute), the same
 * augmentations and seed.
 */
import { ArgumentError } from '../tensor/errors.js';
import { trainFeatureNet } from './train_feature_net.js';
import { classifierAccuracy } from './accuracy.js';
import type { FeatureNetConfig } from './feature_net.js';
import type { LabelledImages } from './labelled_images.js';

/** Training steps of a CAS classifier (batch 128): 38,400 images seen, whatever n is. */
export const CAS_STEPS = 300;

/** The CAS training recipe. */
export interface CasOptions {
  /** The classifier architecture (default: the feature net's). */
  config?: Partial<FeatureNetConfig>;
  /** AdamW steps (default CAS_STEPS). */
  steps?: number;
  batchSize?: number;
  lr?: number;
  shift?: number;
  flip?: boolean;
  seed?: number;
  onStep?(step: number, total: number, loss: number): void;
}

/**
 * Test accuracy on `test` of a classifier trained only on `train` with the CAS recipe.
 * @example const cas = classificationAccuracyScore(samples, realTest, { steps: 300 });
 */
export function classificationAccuracyScore(train: LabelledImages, test: LabelledImages, options: CasOptions = {}): number {
  const steps = options.steps ?? CAS_STEPS;
  if (!Number.isInteger(steps) || steps < 1) throw new ArgumentError(`classificationAccuracyScore: steps must be a positive integer, found ${steps}`);
  const { net } = trainFeatureNet(train, {
    steps,
    ...(options.config === undefined ? {} : { config: options.config }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.lr === undefined ? {} : { lr: options.lr }),
    ...(options.shift === undefined ? {} : { shift: options.shift }),
    ...(options.flip === undefined ? {} : { flip: options.flip }),
    seed: options.seed ?? 0,
    ...(options.onStep === undefined ? {} : { onStep: options.onStep }),
  });
  return classifierAccuracy(net, test).accuracy;
}
