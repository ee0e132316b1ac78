/**
 * The diffusers-compatible schedulers, and `schedulerFromConfig`, which builds the one a
 * scheduler_config.json names in `_class_name`. New schedulers register in SCHEDULER_CLASSES.
 */
import { ArgumentError } from '../tensor/errors.js';
import { DDPMScheduler } from './ddpm.js';
import { DDIMScheduler } from './ddim.js';
import { PNDMScheduler } from './pndm.js';
import { LMSDiscreteScheduler } from './lms_discrete.js';
import { EulerDiscreteScheduler } from './euler_discrete.js';
import { EulerAncestralDiscreteScheduler } from './euler_ancestral_discrete.js';
import { HeunDiscreteScheduler } from './heun_discrete.js';
import { KDPM2DiscreteScheduler } from './k_dpm_2_discrete.js';
import { DPMSolverMultistepScheduler } from './dpmsolver_multistep.js';
import { DPMSolverSinglestepScheduler } from './dpmsolver_singlestep.js';
import { UniPCMultistepScheduler } from './unipc_multistep.js';
import { DEISMultistepScheduler } from './deis_multistep.js';
import type { DiffusersConfig, Scheduler, StepOptions } from './scheduler.js';

export { DDPMScheduler, DDPM_FIELDS, VARIANCE_TYPES, type DDPMSchedulerConfig, type VarianceType } from './ddpm.js';
export { DDIMScheduler, DDIM_FIELDS, type DDIMSchedulerConfig, type DDIMStepOptions } from './ddim.js';
export { PNDMScheduler, PNDM_FIELDS, PNDM_ORDER, type PNDMSchedulerConfig, type PNDMPredictionType } from './pndm.js';
export { LMSDiscreteScheduler, LMS_FIELDS, LMS_MAX_ORDER, lmsCoefficient, type LMSDiscreteSchedulerConfig, type LMSStepOptions } from './lms_discrete.js';
export {
  EulerDiscreteScheduler,
  EULER_FIELDS,
  SigmaScheduler,
  sigmaX0,
  type EulerDiscreteSchedulerConfig,
  type EulerStepOptions,
  type SigmaConfig,
  type SigmaRunSchedule,
  type TimestepType,
} from './euler_discrete.js';
export { EulerAncestralDiscreteScheduler, EULER_ANCESTRAL_FIELDS, type EulerAncestralDiscreteSchedulerConfig } from './euler_ancestral_discrete.js';
export { HeunDiscreteScheduler, HEUN_FIELDS, type HeunDiscreteSchedulerConfig } from './heun_discrete.js';
export { KDPM2DiscreteScheduler, KDPM2_FIELDS, type KDPM2DiscreteSchedulerConfig } from './k_dpm_2_discrete.js';
export { DPMSolverMultistepScheduler, DPM_SOLVER_MULTISTEP_FIELDS, DPM_ALGORITHM_TYPES, DPM_SOLVER_TYPES, type DPMSolverMultistepConfig, type DpmAlgorithmType, type DpmSolverType } from './dpmsolver_multistep.js';
export { SigmaMultistepScheduler } from './sigma_multistep.js';
export { DPMSolverSinglestepScheduler, DPM_SOLVER_SINGLESTEP_FIELDS, singlestepOrders, type DPMSolverSinglestepConfig, type DpmSinglestepAlgorithmType } from './dpmsolver_singlestep.js';
export { UniPCMultistepScheduler, UNIPC_MULTISTEP_FIELDS, UNIPC_SOLVER_TYPES, type UniPCMultistepConfig, type UniPCSolverType } from './unipc_multistep.js';
export { DEISMultistepScheduler, DEIS_MULTISTEP_FIELDS, type DEISMultistepConfig, type DeisAlgorithmType, type DeisSolverType } from './deis_multistep.js';
export {
  DIFFUSERS_VERSION,
  DiscreteScheduler,
  parseSchedulerConfig,
  configToJson,
  dynamicThreshold,
  clipInPlace,
  intField,
  numberField,
  boolField,
  enumField,
  betasField,
  SCHEDULE_FIELDS,
  CLIP_FIELDS,
  SPACING_FIELDS,
  FOREIGN_CONFIG_KEYS,
  type ConfigField,
  type ConfigOf,
  type DiffusersConfig,
  type DiscreteConfig,
  type FieldSet,
  type Scheduler,
  type SchedulerOutput,
  type StepOptions,
  type TimestepsRequest,
} from './scheduler.js';
export { spacedTimesteps, roundHalfEven, numpyArange, numpyLinspace, TIMESTEP_SPACINGS, type TimestepSpacing } from './timesteps.js';

/** Scheduler constructors by diffusers class name. */
export const SCHEDULER_CLASSES: Readonly<Record<string, (config: DiffusersConfig) => Scheduler<StepOptions>>> = {
  DDPMScheduler: (c) => new DDPMScheduler(c),
  DDIMScheduler: (c) => new DDIMScheduler(c),
  PNDMScheduler: (c) => new PNDMScheduler(c),
  LMSDiscreteScheduler: (c) => new LMSDiscreteScheduler(c),
  EulerDiscreteScheduler: (c) => new EulerDiscreteScheduler(c),
  EulerAncestralDiscreteScheduler: (c) => new EulerAncestralDiscreteScheduler(c),
  HeunDiscreteScheduler: (c) => new HeunDiscreteScheduler(c),
  KDPM2DiscreteScheduler: (c) => new KDPM2DiscreteScheduler(c),
  DPMSolverMultistepScheduler: (c) => new DPMSolverMultistepScheduler(c),
  DPMSolverSinglestepScheduler: (c) => new DPMSolverSinglestepScheduler(c),
  UniPCMultistepScheduler: (c) => new UniPCMultistepScheduler(c),
  DEISMultistepScheduler: (c) => new DEISMultistepScheduler(c),
};

/**
 * The scheduler a diffusers config names (`_class_name`), built from the rest of the config;
 * `className` overrides it (to swap samplers on one model's config).
 * @example const s = schedulerFromConfig(JSON.parse(readFileSync('scheduler_config.json', 'utf8')));
 */
export function schedulerFromConfig(json: unknown, className?: string): Scheduler<StepOptions> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ArgumentError(`schedulerFromConfig: expected a scheduler_config.json object, found ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const config = json as DiffusersConfig;
  const name = className ?? config['_class_name'];
  const known = Object.keys(SCHEDULER_CLASSES).join(', ');
  if (typeof name !== 'string') {
    throw new ArgumentError(`schedulerFromConfig: the config has no "_class_name" (found ${JSON.stringify(name) ?? 'undefined'}); pass className, one of ${known}`);
  }
  const make = SCHEDULER_CLASSES[name];
  if (make === undefined) throw new ArgumentError(`schedulerFromConfig: unknown scheduler class "${name}"; known: ${known}`);
  return make(config);
}
