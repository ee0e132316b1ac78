/**
 * The one reverse-process contract. A ReverseProcess is a sampling method set up for a number of
 * steps on a model's training schedule: it says how many model evaluations the full schedule takes,
 * where a truncated run starts (SDEdit) and how to noise an image to there, and it runs the reverse
 * process from any entry on a ConditionedModel, optionally keeping a known region (the replacement
 * method: Song et al. 2021, "Score-Based Generative Modeling through SDEs", app. I.2; Lugmayr et al.
 * 2022, eq. 8). The k-diffusion-style samplers satisfy it natively (sampler_process.ts), the
 * diffusers-style schedulers through one adapter (scheduler_process.ts), and the score-SDE samplers
 * through theirs (sde_process.ts, over an SDE and its score model). Every pipeline drives this.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import type { DiffusersConfig, Scheduler } from '../schedulers/scheduler.js';
import type { SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import type { ConditionedModel } from './conditioned_model.js';
import { resolveScheduler, type SchedulerChoice } from './registry.js';
import { schedulerProcess } from './scheduler_process.js';
import { samplerProcess } from './sampler_process.js';

/** The known region of a chunk: the clean known images (B, H, W, C) and a 0/1 keep-mask like them. */
export interface KnownRegion {
  image: Tensor;
  /** 1: known (kept), 0: generated; (B, H, W, C) in the images' dtype. */
  keep: Tensor;
}

/** What a run reports after each model-evaluation entry. */
export interface EntryEvent {
  /** The entry's index in the full schedule (0-based). */
  entry: number;
  /** The sample the entry started from. */
  x: Tensor;
  /** The entry's estimate of x_0. */
  x0: Tensor;
  /** The sample after the entry, where the method has it at hand (schedulers). */
  next?: Tensor;
}

/** A chunk's run: where it starts, its noise, its known region, its callbacks. */
export interface RunContext {
  /** The first entry to run (0: the whole schedule). */
  from: number;
  /** One standard normal draw per image of the chunk (its per-image streams), (B, H, W, C). */
  noise(): Tensor;
  /** A region to keep, or null. */
  known: KnownRegion | null;
  /** Called after each entry. */
  onEntry?(event: EntryEvent): void;
  /** Aborts between model evaluations (throws the signal's reason). */
  signal?: AbortSignal | undefined;
}

/** A sampling method set up for `steps` steps. */
export interface ReverseProcess {
  /** The method's canonical name (a sampler name or a scheduler class name). */
  readonly name: string;
  readonly steps: number;
  /** Model-evaluation entries of the full schedule (a second-order scheduler lists more than steps). */
  readonly loops: number;
  /** The model timestep of each entry (a sampler's fractional one of its sigma). */
  readonly timesteps: readonly number[];
  /** x_T's scale over unit noise: diffusers' init_noise_sigma; sqrt(sigma_max^2 + 1) for a sampler. */
  readonly initNoiseSigma: number;
  /** Whether it consumes a learned-variance model's variance channels (DDPM with variance_type learned*). */
  readonly usesLearnedVariance: boolean;
  /** Whether a run may start part-way through the schedule (PNDM's warm-up cannot). */
  readonly startsPartWay: boolean;
  /** The training-schedule config (scheduler_config.json) it runs on. */
  readonly scheduleConfig: DiffusersConfig;
  /** The scheduler instance behind a scheduler-based process (RePaint steps it itself), else null. */
  readonly scheduler: Scheduler | null;
  /** The entry where a run that skips the first `skip` of the steps starts. */
  entryAfter(skip: number): number;
  /** The noise level of entry `from`: its model timestep and sigma = sqrt((1 - abar) / abar) (NaN if unknown). */
  levelAt(from: number): { timestep: number; sigma: number };
  /** x_0 forward-noised with unit noise z to entry `from`'s level, in the process's space. */
  noiseTo(x0: Tensor, z: Tensor, from: number): Tensor;
  /** Runs entries from..loops-1 from x (in the process's space); returns the final sample, unclamped. */
  run(model: ConditionedModel, x: Tensor, ctx: RunContext): Tensor;
  /** A serializable record that rebuilds it (augment's manifest). */
  record(): { kind: 'sampler'; name: string } | { kind: 'scheduler'; config: Record<string, unknown> };
}

/** The settings of a reverse process. */
export interface ReverseProcessOptions {
  steps: number;
  /** The model's scheduler_config.json (builds a named scheduler; gives a sampler the training schedule). */
  schedulerConfig?: DiffusersConfig | undefined;
  /** A sampler's sigma schedule (default 'karras'). */
  sigmaSchedule?: SigmaScheduleName | undefined;
  /** Extra options of a sampler (e.g. { sChurn: 10 }). */
  samplerOptions?: Readonly<Record<string, unknown>> | undefined;
  /** DDIM's eta (passed to every step; other schedulers ignore it), or a stochastic sampler's. */
  eta?: number | undefined;
}

/**
 * Sets up a method (a name, a scheduler instance or a SAMPLERS entry) for `steps` steps; a step
 * count the method cannot do is reported here, before any work. Errors are prefixed with `op`.
 * @example const rp = reverseProcess('generate', 'dpmpp_2m', { steps: 20, schedulerConfig });
 */
export function reverseProcess(op: string, choice: SchedulerChoice, o: ReverseProcessOptions): ReverseProcess {
  try {
    const resolved = resolveScheduler(choice, o.schedulerConfig ?? {});
    // The one fork between the families: each has its adapter.
    return resolved.kind === 'scheduler' ? schedulerProcess(resolved.scheduler, o) : samplerProcess(resolved.sampler, o);
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`${op}: ${e.message}`) : e;
  }
}

/**
 * Model-evaluation entries per chunk of a method over `steps` (more than steps for a second-order
 * scheduler), for sizing a progress bar before the run; `steps` when the method cannot do them
 * (the pipeline reports that, after the checks that come first).
 * @example plannedLoops('heun_discrete', 10, config) // 19
 */
export function plannedLoops(choice: SchedulerChoice, steps: number, schedulerConfig: DiffusersConfig = {}): number {
  try {
    return reverseProcess('plannedLoops', choice, { steps, schedulerConfig }).loops;
  } catch {
    return steps;
  }
}
