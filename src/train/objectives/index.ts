/**
 * The objective implementation of each kind of TrainingObjective (src/diffusion/training_objective.ts):
 * the one place a run's config becomes the loss it trains. Adding a kind (flow matching, EDM) is a
 * case here.
 */
import type { TrainConfig } from '../config.js';
import { ddpmObjective, type Objective } from '../objective.js';
import { learnedVarianceObjective } from './learned_variance.js';
import { superresObjective } from './superres.js';
import { sdeObjective, sdeOfTrainConfig } from '../../sde/objective.js';
import { trainingObjectiveOf } from '../../diffusion/training_objective.js';

/**
 * The objective a run's config asks for.
 * @example const obj = objectiveFor(resolveTrainConfig({ data: 'mnist', out: 'r' })); obj.modelChannels(1) // { in: 1, out: 1 }
 */
export function objectiveFor(cfg: TrainConfig): Objective {
  const spec = trainingObjectiveOf(cfg);
  switch (spec.kind) {
    case 'ddpm':
      return ddpmObjective(cfg) as Objective;
    case 'learned_variance':
      return learnedVarianceObjective(cfg) as Objective;
    case 'score_sde':
      return sdeObjective(sdeOfTrainConfig(cfg, spec.sde), spec) as Objective;
    case 'superres':
      return superresObjective(cfg) as Objective;
  }
}
