/**
 * The registry of every sampling method diffuse has, one entry each with its capability data:
 * the k-diffusion-style samplers (samplers/, pure functions over a sigma schedule), the
 * diffusers-compatible schedulers (schedulers/, step-wise classes, by class name or short alias)
 * and the score-SDE samplers (sde/: predictor-corrector and the probability-flow ODE). The CLI
 * (`diffuse samplers`, sample and the editing commands), the server, the web page and the bench
 * read it; nothing else restates a name, an alias, a default step count or a paper.
 */
import { ArgumentError } from '../tensor/errors.js';
import { didYouMean } from '../schema/did_you_mean.js';
import { SAMPLERS, isSamplerName, type SamplerInfo } from '../samplers/index.js';
import { SCHEDULER_CLASSES, schedulerFromConfig } from '../schedulers/index.js';
import type { DiffusersConfig, Scheduler, StepOptions } from '../schedulers/scheduler.js';

/** The three families; each reaches the reverse-process engine through its own adapter. */
export type MethodKind = 'sampler' | 'scheduler' | 'sde';

/** How many steps a method takes when neither the user nor sampling_config.json says. */
export type DefaultSteps = number | 'num_train_timesteps' | 'sde_n' | 'adaptive';

/** One sampling method and what it can do. */
export interface SamplingMethod {
  readonly kind: MethodKind;
  /** Its canonical name: a k-diffusion sampler name, a diffusers class name, or pc / ode. */
  readonly name: string;
  /** Other accepted names (a scheduler's short names). */
  readonly aliases: readonly string[];
  /** Convergence order, e.g. "2" or "1-3" (configurable); weak order for the stochastic ones. */
  readonly order: string;
  /** Model calls per step ("adaptive" where the solver picks its steps). */
  readonly modelCallsPerStep: string;
  /** Whether it draws noise: "yes", "no", or the setting that makes it ("with eta > 0"). */
  readonly stochastic: string;
  /** Whether --eta applies (DDIM's eta, a stochastic sampler's noise scale). */
  readonly takesEta: boolean;
  /** Whether --sigmas applies (a sampler's sigma schedule). */
  readonly takesSigmas: boolean;
  /** Steps when nothing else says (50, the model's num_train_timesteps, the SDE's N, adaptive). */
  readonly defaultSteps: DefaultSteps;
  /** What model it needs: a DDPM-family noise-prediction model, or a score-SDE model. */
  readonly needs: 'ddpm' | 'score_sde';
  readonly paper: string;
}

/** The steps every method without a rule of its own defaults to. */
export const DEFAULT_STEPS = 50;

/**
 * The method every command, the server and the editing pipelines use when neither the caller nor
 * the model's sampling_config.json names one: DDIM (deterministic), DEFAULT_STEPS steps.
 */
export const FALLBACK_SCHEDULER = 'ddim';

/**
 * Short names of the diffusers schedulers (diffusers' class names are accepted as they are). The
 * k-diffusion names (euler, heun, lms, dpmpp_2m, ...) are the samplers, the same algorithms as
 * pure functions; the scheduler classes are reached by their class names.
 */
export const SCHEDULER_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  ddpm: 'DDPMScheduler',
  ddim: 'DDIMScheduler',
  pndm: 'PNDMScheduler',
  plms: 'PNDMScheduler',
  lms_discrete: 'LMSDiscreteScheduler',
  euler_discrete: 'EulerDiscreteScheduler',
  euler_ancestral_discrete: 'EulerAncestralDiscreteScheduler',
  heun_discrete: 'HeunDiscreteScheduler',
  kdpm2: 'KDPM2DiscreteScheduler',
  kdpm2_discrete: 'KDPM2DiscreteScheduler',
  kdpm2_ancestral: 'KDPM2AncestralDiscreteScheduler',
  dpmsolver: 'DPMSolverMultistepScheduler',
  dpmsolver_multistep: 'DPMSolverMultistepScheduler',
  dpmsolver_singlestep: 'DPMSolverSinglestepScheduler',
  unipc: 'UniPCMultistepScheduler',
  unipc_multistep: 'UniPCMultistepScheduler',
  deis: 'DEISMultistepScheduler',
  deis_multistep: 'DEISMultistepScheduler',
});

type SchedulerFacts = Pick<SamplingMethod, 'order' | 'modelCallsPerStep' | 'stochastic' | 'paper'>;

/** What each diffusers scheduler does (diffusers 0.25.1 semantics). */
const SCHEDULER_FACTS: Readonly<Record<string, SchedulerFacts>> = {
  DDPMScheduler: { order: '1', modelCallsPerStep: '1', stochastic: 'yes', paper: 'Ho et al. 2020, Denoising Diffusion Probabilistic Models' },
  DDIMScheduler: { order: '1', modelCallsPerStep: '1', stochastic: 'with eta > 0', paper: 'Song et al. 2021, Denoising Diffusion Implicit Models' },
  PNDMScheduler: { order: '4', modelCallsPerStep: '1 (4 in PRK warm-up)', stochastic: 'no', paper: 'Liu et al. 2022, Pseudo Numerical Methods for Diffusion Models on Manifolds' },
  LMSDiscreteScheduler: { order: '1-4', modelCallsPerStep: '1', stochastic: 'no', paper: 'Karras et al. 2022 (k-diffusion linear multistep)' },
  EulerDiscreteScheduler: { order: '1', modelCallsPerStep: '1', stochastic: 'with s_churn > 0', paper: 'Karras et al. 2022, Elucidating the Design Space of Diffusion-Based Generative Models' },
  EulerAncestralDiscreteScheduler: { order: '1', modelCallsPerStep: '1', stochastic: 'yes', paper: 'Karras et al. 2022 / k-diffusion (ancestral Euler)' },
  HeunDiscreteScheduler: { order: '2', modelCallsPerStep: '2', stochastic: 'no', paper: 'Karras et al. 2022 (Heun, Alg. 1)' },
  KDPM2DiscreteScheduler: { order: '2', modelCallsPerStep: '2', stochastic: 'no', paper: 'Lu et al. 2022, DPM-Solver (DPM-Solver-2, k-diffusion form)' },
  KDPM2AncestralDiscreteScheduler: { order: '2', modelCallsPerStep: '2', stochastic: 'yes', paper: 'Lu et al. 2022, DPM-Solver (DPM-Solver-2 with ancestral noise)' },
  DPMSolverMultistepScheduler: { order: '1-3', modelCallsPerStep: '1', stochastic: 'sde-dpmsolver(++) only', paper: 'Lu et al. 2022, DPM-Solver and DPM-Solver++' },
  DPMSolverSinglestepScheduler: { order: '1-3', modelCallsPerStep: '1', stochastic: 'no', paper: 'Lu et al. 2022, DPM-Solver and DPM-Solver++ (singlestep)' },
  UniPCMultistepScheduler: { order: '1-3', modelCallsPerStep: '1', stochastic: 'no', paper: 'Zhao et al. 2023, UniPC: A Unified Predictor-Corrector Framework' },
  DEISMultistepScheduler: { order: '1-3', modelCallsPerStep: '1', stochastic: 'no', paper: 'Zhang & Chen 2023, Fast Sampling of Diffusion Models with Exponential Integrator' },
};

/** The score-SDE samplers' names. */
export const SDE_SAMPLERS = ['pc', 'ode'] as const;
export type SdeSamplerName = (typeof SDE_SAMPLERS)[number];

const SCORE_SDE = 'Song et al. 2021, Score-Based Generative Modeling through Stochastic Differential Equations';

function samplerMethod(s: SamplerInfo): SamplingMethod {
  return Object.freeze({
    kind: 'sampler', name: s.name, aliases: [], order: String(s.order), modelCallsPerStep: s.modelCallsPerStep === 0 ? 'adaptive' : String(s.modelCallsPerStep),
    stochastic: s.stochastic ? 'yes' : 'no', takesEta: s.stochastic, takesSigmas: true, defaultSteps: DEFAULT_STEPS, needs: 'ddpm', paper: s.paper,
  });
}

function schedulerMethod(className: string): SamplingMethod {
  const facts = SCHEDULER_FACTS[className] ?? { order: '?', modelCallsPerStep: '?', stochastic: '?', paper: '(not described yet)' };
  return Object.freeze({
    kind: 'scheduler', name: className, aliases: Object.entries(SCHEDULER_ALIASES).filter(([, c]) => c === className).map(([a]) => a), ...facts,
    takesEta: className === 'DDIMScheduler', takesSigmas: false, defaultSteps: className === 'DDPMScheduler' ? 'num_train_timesteps' : DEFAULT_STEPS, needs: 'ddpm',
  });
}

const SDE_METHODS: readonly SamplingMethod[] = [
  Object.freeze({
    kind: 'sde', name: 'pc', aliases: [], order: '1', modelCallsPerStep: '1 + corrector steps', stochastic: 'yes', takesEta: false, takesSigmas: false,
    defaultSteps: 'sde_n', needs: 'score_sde', paper: `${SCORE_SDE} (predictor-corrector, Alg. 1)`,
  } as const),
  Object.freeze({
    kind: 'sde', name: 'ode', aliases: [], order: '5 (RK45)', modelCallsPerStep: 'adaptive', stochastic: 'no', takesEta: false, takesSigmas: false,
    defaultSteps: 'adaptive', needs: 'score_sde', paper: `${SCORE_SDE} (probability-flow ODE, RK45)`,
  } as const),
];

/** Every method: samplers, then the registered schedulers, then the SDE samplers. */
export function samplingMethods(): SamplingMethod[] {
  return [...Object.values(SAMPLERS).map(samplerMethod), ...Object.keys(SCHEDULER_CLASSES).map(schedulerMethod), ...SDE_METHODS];
}

/** The method a name (canonical or alias) stands for, or null. */
export function findMethod(name: string): SamplingMethod | null {
  if (typeof name !== 'string') return null;
  if (isSamplerName(name)) return samplerMethod(SAMPLERS[name]);
  const className = SCHEDULER_ALIASES[name] ?? name;
  if (className in SCHEDULER_CLASSES) return schedulerMethod(className);
  return SDE_METHODS.find((m) => m.name === name) ?? null;
}

/**
 * Every name generate() and the editing pipelines accept (the methods for DDPM-family models):
 * sampler names, then scheduler short names and class names (available ones).
 */
export function schedulerNames(): string[] {
  const aliases = Object.entries(SCHEDULER_ALIASES).filter(([, c]) => c in SCHEDULER_CLASSES).map(([a]) => a);
  return [...Object.keys(SAMPLERS), ...aliases, ...Object.keys(SCHEDULER_CLASSES)];
}

/** Every accepted name, the SDE samplers included (what `diffuse sample --scheduler` takes). */
export function methodNames(): string[] {
  return [...schedulerNames(), ...SDE_SAMPLERS];
}

/**
 * The steps a method runs when the user gives none: sampling_config.json's (passed as
 * `configured`), else the method's own default (`numTrainTimesteps` for DDPM, `sdeN` for pc).
 * Null where the method picks its own steps (ode).
 */
export function methodDefaultSteps(method: SamplingMethod, configured: number | null, numbers: { numTrainTimesteps?: number; sdeN?: number } = {}): number | null {
  if (configured !== null) return configured;
  const d = method.defaultSteps;
  if (typeof d === 'number') return d;
  switch (d) {
    case 'num_train_timesteps':
      return numbers.numTrainTimesteps ?? 1000;
    case 'sde_n':
      return numbers.sdeN ?? 1000;
    case 'adaptive':
      return null;
  }
}

/** A way to pick the reverse process: a scheduler instance, a SAMPLERS entry, or either's name. */
export type SchedulerChoice = Scheduler<StepOptions & { eta?: number }> | SamplerInfo | string;

/** What a name resolves to. */
export type ResolvedScheduler = { kind: 'scheduler'; scheduler: Scheduler<StepOptions & { eta?: number }> } | { kind: 'sampler'; sampler: SamplerInfo };

function isSamplerInfo(v: unknown): v is SamplerInfo {
  return v !== null && typeof v === 'object' && isSamplerName((v as SamplerInfo).name) && SAMPLERS[(v as SamplerInfo).name] === v;
}

/**
 * Resolves a scheduler or sampler by name (or passes an instance through). A scheduler named by
 * name is built from `config` (the model's scheduler_config.json; diffusers' defaults if empty).
 * The SDE samplers need a score-SDE model and are refused here with a pointer to them.
 * @example resolveScheduler('dpmpp_2m').kind // 'sampler'
 * @example resolveScheduler('unipc', readSchedulerConfig(dir)).kind // 'scheduler'
 */
export function resolveScheduler(choice: SchedulerChoice, config: DiffusersConfig = {}): ResolvedScheduler {
  if (typeof choice === 'string') {
    if (isSamplerName(choice)) return { kind: 'sampler', sampler: SAMPLERS[choice] };
    const className = SCHEDULER_ALIASES[choice] ?? choice;
    if (className in SCHEDULER_CLASSES) return { kind: 'scheduler', scheduler: schedulerFromConfig({ ...config, _class_name: className }, className) as Scheduler<StepOptions & { eta?: number }> };
    if ((SDE_SAMPLERS as readonly string[]).includes(choice)) {
      throw new ArgumentError(`'${choice}' is a score-SDE sampler: it runs on an SDE and its score model, not through generate(); use 'diffuse sample --scheduler ${choice}' or sdeSample() (src/sampling/sde_process.ts)`);
    }
    throw new ArgumentError(`unknown scheduler or sampler '${choice}'${didYouMean(choice, schedulerNames())}; known: ${schedulerNames().join(', ')}`);
  }
  if (isSamplerInfo(choice)) return { kind: 'sampler', sampler: choice };
  if (choice !== null && typeof choice === 'object' && typeof (choice as Scheduler).step === 'function' && typeof (choice as Scheduler).setTimesteps === 'function') {
    return { kind: 'scheduler', scheduler: choice as Scheduler<StepOptions & { eta?: number }> };
  }
  throw new ArgumentError(`'scheduler' must be a scheduler (DDPMScheduler, DDIMScheduler, schedulerFromConfig(...)), a SAMPLERS entry, or a name (${schedulerNames().join(', ')}), found ${choice === null ? 'null' : typeof choice}`);
}
