/**
 * Sample-quality evaluation of labelled images (a model's class-conditional samples, an augment
 * folder, or real images for calibration) against a bundled dataset, every figure of issue 8 in
 * one report:
 *   - Frechet distance and KID between the samples' and the real test split's feature-net features;
 *   - k-NN precision and recall (k = 3) against an equal-size random subset of the test split;
 *   - the feature net's accuracy on the samples' intended classes (vs its real test accuracy);
 *   - the memorisation figure (memorization.ts) against the train split in pixel space;
 *   - CAS: a classifier trained on the samples, tested on the real test split, vs the same recipe
 *     on as many real (train split) images.
 *   - the orientation check (orientation.ts): per class, the share of images whose mirror image
 *     the net finds more typical of their class, against the real test images' share.
 * The report also carries the real-vs-real floor at the same n (a seeded class-balanced subset of
 * the train split scored as if it were samples), so each figure sits next to what real data gets,
 * and the bars are ratios to that floor or gaps to the real test accuracy (EVAL_BARS), never
 * absolute numbers in a feature space that moves whenever the feature net is retrained.
 */
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { FeatureNet } from './feature_net.js';
import { frechetDistance } from './frechet.js';
import { kernelInceptionDistance, type KidResult } from './kid.js';
import { precisionRecall, PR_NEIGHBOURS } from './precision_recall.js';
import { memorization, nearestDistances, MEMORIZATION_QUANTILE, type MemorizationResult } from './memorization.js';
import { accuracyOf } from './accuracy.js';
import { classificationAccuracyScore, CAS_STEPS } from './cas.js';
import { randomSubset, type LabelledImages } from './labelled_images.js';
import { mirrorShares, orientationCheck, type MirrorShares, type OrientationResult } from './orientation.js';

/**
 * The quality bars (issue 15), each relative to real data: FD at most 5x the real-vs-real floor at
 * the same n; precision and recall at least 0.8x the floor's; class accuracy within 2 points of
 * the real test images' and every class within 8 points of its own; no class flagged by the
 * orientation check; no more memorisation than real test images; CAS at least 0.9x real CAS.
 */
export const EVAL_BARS = Object.freeze({ fdRatio: 5, precisionRatio: 0.8, recallRatio: 0.8, accuracyGap: 0.02, classGap: 0.08, casRatio: 0.9 });

/** How many of the worst classes the report lists. */
const WORST_CLASSES = 3;

/** Options of evaluateSamples. */
export interface EvaluateOptions {
  /** The dataset's trained feature net. */
  featureNet: FeatureNet;
  /** The real train split (memorisation reference, real-data CAS and the floor's images). */
  train: LabelledImages;
  /** Indices into `train` of the real-vs-real floor set and the real-data CAS training set. */
  floorIndices: Int32Array;
  /** The real test split (the reference of every distribution metric; CAS test set). */
  test: LabelledImages;
  /** Train the CAS classifiers (default true; the slow part). */
  cas?: boolean;
  /** CAS recipe: steps (default CAS_STEPS); no flips, like the feature nets (EVAL_BARS' note). */
  casSteps?: number;
  /** KID subsets (default KID_SUBSETS, 100). */
  kidSubsets?: number;
  /** Quantile of the test images' nearest-training distances used as the threshold (default 0.05). */
  memorizationQuantile?: number;
  /** Seed of the KID subsets, the precision/recall subsets and the CAS classifiers (default 0). */
  seed?: number;
  /**
   * Reference computations to share between evaluations against the same feature net, train and
   * test split (calibration sweeps): filled on the first call, reused on the next ones.
   */
  cache?: EvalCache;
  /** Progress: a stage name and its count. */
  onProgress?(stage: EvalStage, done: number, total: number): void;
}

/** What evaluateSamples can reuse between calls with the same feature net and splits. */
export interface EvalCache {
  /** The test split's features (N, D), logits and predicted classes. */
  test?: { features: Float32Array; logits: Float32Array; predictions: Int32Array };
  /** The test split's mirror shares (orientation check). */
  testMirror?: MirrorShares;
  /** Each test image's pixel distance to its nearest training image. */
  testNearest?: Float64Array;
}

/** The stages reported through onProgress. */
export type EvalStage = 'features' | 'orientation' | 'memorisation' | 'cas' | 'cas-real';

/** What a stage counts: CAS classifier steps, the others images. */
export function evalStageUnit(stage: string): string {
  return stage === 'cas' || stage === 'cas-real' ? 'step' : 'img';
}

/** Distribution metrics of one set of images against the test split. */
export interface DistributionFigures {
  frechetDistance: number;
  kid: KidResult;
  precision: number;
  recall: number;
}

/** Everything evaluateSamples measures. */
export interface EvalReport {
  /** Number of samples and of classes. */
  n: number;
  numClasses: number;
  samples: DistributionFigures & {
    /** The feature net's accuracy on the samples' intended classes, overall and per class. */
    classifierAccuracy: number;
    classifierAccuracyPerClass: number[];
    memorisation: MemorizationResult;
    /** Share of samples whose mirror image is more typical of their class, overall and per class. */
    mirrorShare: number;
    mirrorSharePerClass: number[];
    /** Test accuracy of a classifier trained on the samples (null when CAS was skipped). */
    cas: number | null;
  };
  /** The same figures for a class-balanced subset of real train images of the same size. */
  real: DistributionFigures & {
    /** The feature net's accuracy on the real test split, overall and per class. */
    classifierAccuracy: number;
    classifierAccuracyPerClass: number[];
    /** The test images' mirror shares, overall and per class. */
    mirrorShare: number;
    mirrorSharePerClass: number[];
    /** Share of real test images below the memorisation threshold: the quantile, by construction. */
    memorisation: number;
    /** CAS trained on the real subset (null when CAS was skipped). */
    cas: number | null;
    /** Size of the real subset (n, or less where the train split has fewer images per class). */
    n: number;
  };
  /** The reference sizes: test images in the FD/KID reference and in each precision/recall set. */
  reference: { testImages: number; precisionRecallSize: number; neighbours: number; casSteps: number | null };
  /** The bars of EVAL_BARS, checked where both sides are measured. */
  bar: {
    /** FD / the real-vs-real floor's FD at the same n (bar: <= 5). */
    fdRatio: number;
    /** Test accuracy minus sample accuracy (bar: <= 0.02). */
    accuracyGap: number;
    /** The classes whose sample accuracy falls furthest below their real test accuracy, worst first. */
    worstClasses: { class: number; samples: number; real: number; gap: number }[];
    /** The largest per-class gap (bar: <= 0.08). */
    maxClassGap: number;
    /** Classes whose samples point the wrong way more often than real images (bar: none). */
    orientationFlagged: number[];
    /** cas / real cas (bar: >= 0.9); null without CAS. */
    casRatio: number | null;
    /** precision / real precision and recall / real recall (bar: >= 0.8 each). */
    precisionRatio: number;
    recallRatio: number;
    /** memorisation - quantile (bar: <= 0). */
    memorisationExcess: number;
    /** Every checked condition holds. */
    pass: boolean;
  };
}

function checkSet(what: string, s: LabelledImages, net: FeatureNet): void {
  const { imageSize: size, inChannels: c, numClasses: k } = net.config;
  const sh = s.images.shape;
  if (s.images.rank !== 4 || sh[1] !== size || sh[2] !== size || sh[3] !== c) {
    throw new ShapeError(`evaluate: ${what} must be (N, ${size}, ${size}, ${c}) images (the feature net's input), found ${fmtShape(sh)}`);
  }
  if (s.labels.length !== sh[0]) throw new ShapeError(`evaluate: ${what} has ${sh[0]} images but ${s.labels.length} labels`);
  for (let i = 0; i < s.labels.length; i++) {
    const y = s.labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new ArgumentError(`evaluate: ${what} label ${i} is ${y}; the feature net knows classes 0..${k - 1}`);
  }
}

/** Rows `idx` of a flat (N, D) array. */
function rows(x: Float32Array, d: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) out.set(x.subarray(idx[i]! * d, (idx[i]! + 1) * d), i * d);
  return out;
}

function subsetImages(s: LabelledImages, idx: ArrayLike<number>): LabelledImages {
  const [, h, w, c] = s.images.shape as [number, number, number, number];
  const data = rows(s.images.toArray(), h * w * c, idx);
  const labels = Int32Array.from({ length: idx.length }, (_, i) => s.labels[idx[i]!]!);
  return { images: new Tensor(data, [idx.length, h, w, c]), labels };
}

/**
 * Every sample-quality figure of `samples` against the dataset in `options`.
 * @example
 * const report = evaluateSamples(samples, { featureNet, train, test, floorIndices: classBalancedIndices(trainDs, n, 0) });
 * report.samples.frechetDistance; report.bar.pass;
 */
export function evaluateSamples(samples: LabelledImages, options: EvaluateOptions): EvalReport {
  const { featureNet: net, train, test, floorIndices } = options;
  checkSet('samples', samples, net);
  checkSet('the train split', train, net);
  checkSet('the test split', test, net);
  const n = samples.labels.length;
  if (n < PR_NEIGHBOURS + 2) throw new ArgumentError(`evaluate: needs at least ${PR_NEIGHBOURS + 2} samples, found ${n}`);
  const seed = options.seed ?? 0;
  const q = options.memorizationQuantile ?? MEMORIZATION_QUANTILE;
  const d = net.featureDim;
  const k = net.config.numClasses;
  const progress = options.onProgress ?? (() => {});
  const nTest = test.labels.length;
  const floor = subsetImages(train, floorIndices);
  const nFloor = floor.labels.length;

  // 1. Features of the samples, the test split and the floor set (one progress count per image).
  const featTotal = n + nTest + nFloor;
  const embed = (s: LabelledImages, offset: number) => net.embed(s.images, 256, (done) => progress('features', offset + done, featTotal));
  const cache = options.cache ?? {};
  const fs = embed(samples, 0);
  const ft = (cache.test ??= embed(test, n));
  const ff = embed(floor, n + nTest);

  // 2. Distribution metrics against the test split; precision/recall at equal sizes.
  const prSize = Math.min(n, nTest, nFloor);
  const testSub = rows(ft.features, d, randomSubset(nTest, prSize, seed + 1));
  const distribution = (f: Float32Array, m: number, s: number): DistributionFigures => {
    const pr = precisionRecall(testSub, prSize, m === prSize ? f : rows(f, d, randomSubset(m, prSize, s)), prSize, d);
    return {
      frechetDistance: frechetDistance(f, m, ft.features, nTest, d),
      kid: kernelInceptionDistance(f, m, ft.features, nTest, d, { seed: s, ...(options.kidSubsets === undefined ? {} : { subsets: options.kidSubsets }) }),
      precision: pr.precision,
      recall: pr.recall,
    };
  };
  const sampleFigures = distribution(fs.features, n, seed + 2);
  const floorFigures = distribution(ff.features, nFloor, seed + 3);
  const sampleAcc = accuracyOf(fs.predictions, samples.labels, k);
  const testAcc = accuracyOf(ft.predictions, test.labels, k);

  // The orientation check: each image against its mirror image, samples and real test images.
  progress('orientation', 0, n + nTest);
  const sampleMirror = mirrorShares(net, samples, fs.logits);
  const testMirror = (cache.testMirror ??= mirrorShares(net, test, ft.logits));
  const orientation: OrientationResult = orientationCheck(sampleMirror, testMirror);
  progress('orientation', n + nTest, n + nTest);

  // 3. Memorisation: nearest training image in pixels, for the samples and the real test images.
  const [, h, w, c] = train.images.shape as [number, number, number, number];
  const px = h * w * c;
  const nTrain = train.labels.length;
  const memTotal = n + nTest;
  const trainPixels = train.images.toArray(); // the nearest-neighbour search runs on the host
  const sampleNn = nearestDistances(samples.images.toArray(), n, trainPixels, nTrain, px, (done) => progress('memorisation', done, memTotal));
  const testNn = (cache.testNearest ??= nearestDistances(test.images.toArray(), nTest, trainPixels, nTrain, px, (done) => progress('memorisation', n + done, memTotal)));
  const mem = memorization(sampleNn, testNn, q);
  const testMem = memorization(testNn, testNn, q).rate;

  // 4. CAS on the samples and on as many real images, same recipe.
  let cas: number | null = null;
  let casReal: number | null = null;
  const casSteps = options.casSteps ?? CAS_STEPS;
  if (options.cas ?? true) {
    const recipe = { config: net.config, steps: casSteps, seed, flip: false };
    cas = classificationAccuracyScore(samples, test, { ...recipe, onStep: (s, t) => progress('cas', s, t) });
    casReal = classificationAccuracyScore(floor, test, { ...recipe, onStep: (s, t) => progress('cas-real', s, t) });
  }

  const B = EVAL_BARS;
  const fdRatio = sampleFigures.frechetDistance / floorFigures.frechetDistance;
  const accuracyGap = testAcc.accuracy - sampleAcc.accuracy;
  const classGaps = sampleAcc.perClass
    .map((a, j) => ({ class: j, samples: a, real: testAcc.perClass[j]!, gap: testAcc.perClass[j]! - a }))
    .filter((g) => Number.isFinite(g.gap))
    .sort((a, b) => b.gap - a.gap);
  const maxClassGap = classGaps.length === 0 ? NaN : classGaps[0]!.gap;
  const casRatio = cas === null || casReal === null ? null : cas / casReal;
  const precisionRatio = sampleFigures.precision / floorFigures.precision;
  const recallRatio = sampleFigures.recall / floorFigures.recall;
  const memorisationExcess = mem.rate - testMem;
  const pass =
    fdRatio <= B.fdRatio && accuracyGap <= B.accuracyGap && maxClassGap <= B.classGap && orientation.pass &&
    (casRatio === null || casRatio >= B.casRatio) && precisionRatio >= B.precisionRatio && recallRatio >= B.recallRatio && memorisationExcess <= 0;
  return {
    n,
    numClasses: k,
    samples: {
      ...sampleFigures, classifierAccuracy: sampleAcc.accuracy, classifierAccuracyPerClass: sampleAcc.perClass, memorisation: mem,
      mirrorShare: sampleMirror.share, mirrorSharePerClass: sampleMirror.perClass, cas,
    },
    real: {
      ...floorFigures, classifierAccuracy: testAcc.accuracy, classifierAccuracyPerClass: testAcc.perClass,
      mirrorShare: testMirror.share, mirrorSharePerClass: testMirror.perClass, memorisation: testMem, cas: casReal, n: nFloor,
    },
    reference: { testImages: nTest, precisionRecallSize: prSize, neighbours: PR_NEIGHBOURS, casSteps: options.cas ?? true ? casSteps : null },
    bar: {
      fdRatio, accuracyGap, worstClasses: classGaps.slice(0, WORST_CLASSES), maxClassGap, orientationFlagged: orientation.flagged,
      casRatio, precisionRatio, recallRatio, memorisationExcess, pass,
    },
  };
}
