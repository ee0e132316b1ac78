/**
 * What a training run optimises, as a discriminated union: DDPM (Ho et al. 2020) with its
 * parameterisation, DDPM with a learned variance or the variational bound (Nichol & Dhariwal
 * 2021), continuous-time score matching on an SDE (Song et al. 2021), and SR3 super-resolution
 * (Saharia et al. 2021). Each kind carries only its own settings, so there are no rules of the form
 * "this option must be the default when that one is set". Flow matching (Lipman et al. 2023) and
 * EDM (Karras et al. 2022) are the next kinds; adding one is a case here and one objective in
 * src/train/objectives.
 *
 * It sits below both src/train and src/sde (each imports it; it imports neither's values). Run
 * files (train_config.json) keep the flat keys they always had; `trainingObjectiveOf` reads them.
 */
import { ArgumentError } from '../tensor/errors.js';
import type { PredictionType } from './forward.js';
import type { SdeName } from '../sde/sde.js';

/** The kinds of objective (next: 'flow_matching', 'edm'). */
export const TRAINING_OBJECTIVE_KINDS = ['ddpm', 'learned_variance', 'score_sde', 'superres'] as const;
export type TrainingObjectiveKind = (typeof TRAINING_OBJECTIVE_KINDS)[number];

/** DDPM's L_simple (optionally Min-SNR-gamma weighted) with a fixed reverse variance. */
export interface DdpmObjectiveSpec {
  kind: 'ddpm';
  prediction: PredictionType;
  minSnrGamma: number | null;
}

/** DDPM with a learned variance and/or the variational bound (improved DDPM). */
export interface LearnedVarianceObjectiveSpec {
  kind: 'learned_variance';
  prediction: PredictionType;
  varianceType: 'fixed_small' | 'fixed_large' | 'learned_range';
  loss: 'simple' | 'hybrid' | 'vlb';
  vlbWeight: number;
  timestepSampler: 'uniform' | 'importance';
  minSnrGamma: number | null;
}

/** Denoising score matching on a continuous-time SDE (the model predicts the noise; VE: minus it). */
export interface ScoreSdeObjectiveSpec {
  kind: 'score_sde';
  sde: SdeName;
  likelihoodWeighting: boolean;
  /** VE only: the noise range. */
  sigmaMin: number;
  sigmaMax: number;
}

/** SR3: DDPM conditioned on the bicubic-upsampled low-resolution image. */
export interface SuperresObjectiveSpec {
  kind: 'superres';
  scale: number;
  prediction: PredictionType;
  minSnrGamma: number | null;
}

export type TrainingObjective = DdpmObjectiveSpec | LearnedVarianceObjectiveSpec | ScoreSdeObjectiveSpec | SuperresObjectiveSpec;

/** The flat keys of train_config.json that say which objective a run trains (the file format since the first release). */
export interface FlatObjectiveKeys {
  task: 'generate' | 'superres';
  scale: number;
  predictionType: PredictionType;
  minSnrGamma: number | null;
  varianceType: 'fixed_small' | 'fixed_large' | 'learned_range';
  loss: 'simple' | 'hybrid' | 'vlb';
  vlbWeight: number;
  timestepSampler: 'uniform' | 'importance';
  sde: SdeName | null;
  likelihoodWeighting: boolean;
  sigmaMin: number;
  sigmaMax: number;
}

/** The flat keys' defaults that mean "not this kind's option" (what a kind leaves untouched). */
const PLAIN: Pick<FlatObjectiveKeys, 'task' | 'varianceType' | 'loss' | 'timestepSampler' | 'predictionType' | 'minSnrGamma' | 'sde' | 'likelihoodWeighting'> = {
  task: 'generate',
  varianceType: 'fixed_small',
  loss: 'simple',
  timestepSampler: 'uniform',
  predictionType: 'epsilon',
  minSnrGamma: null,
  sde: null,
  likelihoodWeighting: false,
};

/**
 * The objective the flat keys describe. A key set away from its default that the chosen kind does
 * not take is an error naming the key, its value and the kind.
 * @example trainingObjectiveOf({ ...flat, sde: 'vp' }).kind // 'score_sde'
 */
export function trainingObjectiveOf(c: FlatObjectiveKeys, op = 'train'): TrainingObjective {
  const refuse = (kind: TrainingObjectiveKind, why: string, keys: readonly (keyof typeof PLAIN)[]): void => {
    for (const k of keys) {
      if (c[k] !== PLAIN[k]) throw new ArgumentError(`${op}: '${k}' is ${JSON.stringify(c[k])}, but the run trains the ${kind} objective (${why}), which does not take it; leave '${k}' at ${JSON.stringify(PLAIN[k])} or choose another objective`);
    }
  };
  if (c.sde !== null) {
    refuse('score_sde', `sde ${c.sde}: its own score-matching loss`, ['task', 'varianceType', 'loss', 'timestepSampler', 'predictionType', 'minSnrGamma']);
    return { kind: 'score_sde', sde: c.sde, likelihoodWeighting: c.likelihoodWeighting, sigmaMin: c.sigmaMin, sigmaMax: c.sigmaMax };
  }
  refuse('ddpm', 'likelihood weighting is for sde training', ['likelihoodWeighting']);
  if (c.task === 'superres') {
    refuse('superres', 'task superres', ['varianceType', 'loss', 'timestepSampler']);
    return { kind: 'superres', scale: c.scale, prediction: c.predictionType, minSnrGamma: c.minSnrGamma };
  }
  if (c.varianceType !== 'fixed_small' || c.loss !== 'simple' || c.timestepSampler !== 'uniform') {
    return { kind: 'learned_variance', prediction: c.predictionType, varianceType: c.varianceType, loss: c.loss, vlbWeight: c.vlbWeight, timestepSampler: c.timestepSampler, minSnrGamma: c.minSnrGamma };
  }
  return { kind: 'ddpm', prediction: c.predictionType, minSnrGamma: c.minSnrGamma };
}
