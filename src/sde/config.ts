/**
 * Which SDE a model was trained with, read from and written to its scheduler_config.json:
 * our exported SDE models carry diffusers' ScoreSdeVpScheduler / ScoreSdeVeScheduler fields plus
 * `sde` ('vp' | 'subvp' | 've'); a discrete DDPM model with the linear schedule is read as the VP
 * SDE it discretises (Song et al. 2021, sec. 3.4 and appendix B: beta_min = N beta_start,
 * beta_max = N beta_end, so 1e-4..0.02 over N = 1000 steps is beta_min 0.1, beta_max 20).
 */
import { ArgumentError } from '../tensor/errors.js';
import { SDE_NAMES, type Sde, type SdeName } from './sde.js';
import { VpSde } from './vp.js';
import { SubVpSde } from './subvp.js';
import { VeSde } from './ve.js';
import { parseConfig } from '../schema/config.js';
import { enumField, nullable, numberField } from '../schema/field.js';
import { MAX_TRAIN_TIMESTEPS } from '../diffusion/schedules.js';

/** The parameters of any of the three SDEs (each takes the ones it uses). */
export interface SdeParams {
  betaMin?: number | undefined;
  betaMax?: number | undefined;
  sigmaMin?: number | undefined;
  sigmaMax?: number | undefined;
  N?: number | undefined;
}

/**
 * An SDE by name.
 * @example const sde = makeSde('ve', { sigmaMax: 50 });
 */
export function makeSde(name: SdeName, params: SdeParams = {}): Sde {
  switch (name) {
    case 'vp':
      return new VpSde({ betaMin: params.betaMin, betaMax: params.betaMax, N: params.N });
    case 'subvp':
      return new SubVpSde({ betaMin: params.betaMin, betaMax: params.betaMax, N: params.N });
    case 've':
      return new VeSde({ sigmaMin: params.sigmaMin, sigmaMax: params.sigmaMax, N: params.N });
    default:
      throw new ArgumentError(`makeSde: the SDE must be one of ${SDE_NAMES.join(', ')}, found ${JSON.stringify(name)}`);
  }
}

/**
 * The SDE keys of a scheduler_config.json (schema fields; null or absent: the default, DDPM's schedule and score_sde's SDEs).
 * Other keys of the file (diffusers' scheduler keys) are ignored here.
 */
export const SDE_CONFIG_FIELDS = {
  sde: nullable(enumField<SdeName>('sde', SDE_NAMES, 'vp')),
  betaMin: nullable(numberField('beta_min', 0.1), 0.1),
  betaMax: nullable(numberField('beta_max', 20), 20),
  sigmaMin: nullable(numberField('sigma_min', 0.01), 0.01),
  sigmaMax: nullable(numberField('sigma_max', 50), 50),
  numTrainTimesteps: nullable(numberField('num_train_timesteps', 1000, 1, MAX_TRAIN_TIMESTEPS), 1000),
  betaStart: nullable(numberField('beta_start', 0.0001), 0.0001),
  betaEnd: nullable(numberField('beta_end', 0.02), 0.02),
} as const;

/** The SDE keys of `c`, validated (null where absent). */
function sdeKeys(c: Record<string, unknown>, source: string) {
  const fields = Object.fromEntries(Object.entries(SDE_CONFIG_FIELDS).map(([k, f]) => [k, { ...f, default: null }])) as unknown as typeof SDE_CONFIG_FIELDS;
  return parseConfig(source, fields, c, { ignoreUnknown: true });
}

/** Whether a scheduler config describes an SDE-trained model (not merely a DDPM one read as VP). */
export function isSdeConfig(config: unknown): boolean {
  if (config === null || typeof config !== 'object') return false;
  const c = config as Record<string, unknown>;
  return typeof c['sde'] === 'string' || c['_class_name'] === 'ScoreSdeVpScheduler' || c['_class_name'] === 'ScoreSdeVeScheduler' || c['_class_name'] === 'ScoreSdeSubVpScheduler';
}

/**
 * The SDE of a scheduler_config.json. `override` (a --sde flag) must agree with it: an SDE config
 * names its own family, and a DDPM config is the VP SDE.
 * @example const sde = sdeFromConfig(readSchedulerConfig('models/fashion-mnist/scheduler')); // VP, 0.1..20
 */
export function sdeFromConfig(config: unknown, override?: SdeName, source = 'scheduler_config.json'): Sde {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new ArgumentError(`${source}: expected a JSON object, found ${config === null ? 'null' : typeof config}`);
  const c = config as Record<string, unknown>;
  const keys = sdeKeys(c, source);
  const N = keys.numTrainTimesteps ?? undefined;
  if (isSdeConfig(c)) {
    const cls = c['_class_name'];
    const named = c['sde'] ?? (cls === 'ScoreSdeVeScheduler' ? 've' : cls === 'ScoreSdeSubVpScheduler' ? 'subvp' : 'vp');
    if (typeof named !== 'string' || !(SDE_NAMES as readonly string[]).includes(named)) throw new ArgumentError(`${source}: "sde" must be one of ${SDE_NAMES.join(', ')}, found ${JSON.stringify(named)}`);
    if (override !== undefined && override !== named) throw new ArgumentError(`${source}: the model was trained with the ${named} SDE; --sde ${override} does not match it (leave --sde out)`);
    const p: SdeParams = { betaMin: keys.betaMin ?? undefined, betaMax: keys.betaMax ?? undefined, sigmaMin: keys.sigmaMin ?? undefined, sigmaMax: keys.sigmaMax ?? undefined, N };
    return makeSde(named as SdeName, p);
  }
  // A discrete DDPM-family config: the VP (or sub-VP, on request) SDE of its linear schedule.
  const schedule = c['beta_schedule'] ?? 'linear';
  if (schedule !== 'linear' || (c['trained_betas'] !== undefined && c['trained_betas'] !== null)) {
    throw new ArgumentError(`${source}: beta_schedule ${JSON.stringify(schedule)} is not the linear schedule that discretises the VP SDE; only linear-schedule DDPM models can be used as SDE models`);
  }
  const prediction = c['prediction_type'] ?? 'epsilon';
  if (prediction !== 'epsilon') throw new ArgumentError(`${source}: prediction_type ${JSON.stringify(prediction)}; a DDPM model is used as a VP SDE score model only when it predicts epsilon`);
  // The model predicts the noise of the VP marginals; read as sub-VP or VE its score would be wrong.
  if (override !== undefined && override !== 'vp') throw new ArgumentError(`${source}: a DDPM model is a VP SDE model; --sde ${override} needs a model trained with --sde ${override}`);
  const steps = N ?? 1000;
  const betaStart = keys.betaStart ?? SDE_CONFIG_FIELDS.betaStart.default!;
  const betaEnd = keys.betaEnd ?? SDE_CONFIG_FIELDS.betaEnd.default!;
  return makeSde('vp', { betaMin: betaStart * steps, betaMax: betaEnd * steps, N: steps });
}
