/**
 * The sampling defaults a newly trained model is exported with (its sampling_config.json) and its
 * training grids are drawn with: DPM-Solver++(2M) in 20 steps (Lu et al. 2022: near-converged at
 * 20 model calls on the models shipped here), and for a class-conditional model classifier-free
 * guidance 1.5 (the bundled Fashion-MNIST and MNIST models measured best between 1.3 and 1.6 under
 * `diffuse eval`; a starting point to tune per model). Score-SDE and super-resolution runs sample
 * through their own commands and get none.
 */
import type { SamplingConfig } from '../io/sampling_config.js';
import type { TrainConfig } from './config.js';

/** Guidance weight written for a class-conditional model. */
export const TRAINED_GUIDANCE = 1.5;

/** The defaults of a run's model, or null when its objective samples through another command (SDE, SR3). */
export function trainedSamplingDefaults(cfg: Pick<TrainConfig, 'sde' | 'task'>, conditional: boolean): SamplingConfig | null {
  if (cfg.sde !== null || cfg.task !== 'generate') return null;
  return { scheduler: 'dpmpp_2m', numInferenceSteps: 20, guidanceScale: conditional ? TRAINED_GUIDANCE : 1 };
}
