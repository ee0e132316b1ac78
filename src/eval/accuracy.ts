/**
 * Classifier accuracy on labelled images: for conditional samples, the share the dataset's
 * feature net assigns to the class they were generated for (a sample that does not look like its
 * class, or not like any class, counts against the model). Compare with the same classifier's
 * accuracy on the real test split: a model that draws its classes as well as real data does
 * scores the same.
 */
import { ShapeError } from '../tensor/errors.js';
import type { FeatureNet } from './feature_net.js';
import type { LabelledImages } from './labelled_images.js';

/** Overall and per-class accuracy. */
export interface AccuracyResult {
  accuracy: number;
  /** Accuracy within each class (NaN for a class with no images). */
  perClass: number[];
}

/**
 * Accuracy of the predicted classes `predictions` against `labels` over `numClasses` classes.
 * @example accuracyOf(Int32Array.of(0, 1, 1), Int32Array.of(0, 1, 0), 2) // { accuracy: 2/3, perClass: [0.5, 1] }
 */
export function accuracyOf(predictions: Int32Array, labels: Int32Array, numClasses: number): AccuracyResult {
  if (predictions.length !== labels.length) throw new ShapeError(`accuracy: ${predictions.length} predictions for ${labels.length} labels`);
  const right = new Array<number>(numClasses).fill(0);
  const count = new Array<number>(numClasses).fill(0);
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    count[y]!++;
    if (predictions[i] === y) {
      right[y]!++;
      total++;
    }
  }
  return { accuracy: labels.length === 0 ? NaN : total / labels.length, perClass: right.map((r, k) => (count[k] === 0 ? NaN : r / count[k]!)) };
}

/**
 * The share of `data` that `net` classifies as labelled, overall and per class.
 * @example const { accuracy } = classifierAccuracy(net, samples); // 0.93
 */
export function classifierAccuracy(net: FeatureNet, data: LabelledImages): AccuracyResult {
  const { predictions } = net.embed(data.images);
  return accuracyOf(predictions, data.labels, net.config.numClasses);
}
