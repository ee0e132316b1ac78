/**
 * The k-diffusion-style samplers (samplers/: pure functions (denoiser, x, sigmas, options) => x)
 * as ReverseProcesses, natively: the sigma schedule over the model's training sigma range
 * (default Karras et al. 2022, eq. 5), x = x_0 + sigma n, and the conditioned model's denoiser.
 * A known region enters through the denoiser: it sees the known pixels as known + sigma z (fresh z
 * per evaluation) and returns the known image there, so the sampler's own state follows the known
 * image exactly (every sampler step is elementwise).
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { where } from '../ops/where.js';
import { combine } from '../diffusion/forward.js';
import { DiscreteSchedule } from '../samplers/denoiser.js';
import { karrasSigmas, exponentialSigmas, polyexponentialSigmas, SIGMA_SCHEDULES, type SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import type { Denoiser, SamplerOptions } from '../samplers/sampler.js';
import type { SamplerInfo } from '../samplers/index.js';
import type { ReverseProcess, ReverseProcessOptions } from './reverse_process.js';

/** A sampler's sigmas over `steps`, on the model's training sigma range, ending at 0. */
export function samplerSigmas(op: string, kind: SigmaScheduleName, steps: number, schedule: DiscreteSchedule): Float64Array {
  switch (kind) {
    case 'karras':
      return karrasSigmas(steps, schedule.sigmaMin, schedule.sigmaMax);
    case 'exponential':
      return exponentialSigmas(steps, schedule.sigmaMin, schedule.sigmaMax);
    case 'polyexponential':
      return polyexponentialSigmas(steps, schedule.sigmaMin, schedule.sigmaMax);
    case 'discrete':
      return schedule.getSigmas(steps);
    case 'vp':
      throw new ArgumentError(`${op}: sigmaSchedule 'vp' is the continuous VP SDE's schedule and does not fit a model trained on discrete timesteps; use karras, exponential, polyexponential or discrete`);
  }
}

/**
 * A sampler as a ReverseProcess over `o.steps` steps on the schedule of `o.schedulerConfig`.
 * @example const rp = samplerProcess(SAMPLERS.dpmpp_2m, { steps: 20, schedulerConfig });
 */
export function samplerProcess(sampler: SamplerInfo, o: ReverseProcessOptions): ReverseProcess {
  const { steps } = o;
  let schedule: DiscreteSchedule;
  try {
    schedule = DiscreteSchedule.fromConfig(o.schedulerConfig ?? {});
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`schedulerConfig: ${e.message}`) : e;
  }
  const kind = o.sigmaSchedule ?? 'karras';
  if (!SIGMA_SCHEDULES.includes(kind)) throw new ArgumentError(`'sigmaSchedule' must be one of ${SIGMA_SCHEDULES.join(', ')}, found ${String(kind)}`);
  const sigmas = samplerSigmas('sampler', kind, steps, schedule);
  if (o.samplerOptions !== undefined && (o.samplerOptions === null || typeof o.samplerOptions !== 'object')) throw new ArgumentError(`'samplerOptions' must be an object`);
  const timesteps = Array.from(sigmas.subarray(0, -1), (s) => schedule.sigmaToT(s));
  return {
    name: sampler.name,
    steps,
    loops: steps,
    timesteps,
    // x_T = x_0 + sigma_max n has std sqrt(sigma_max^2 + 1) for unit-variance data (diffusers' init_noise_sigma).
    initNoiseSigma: Math.sqrt(sigmas[0]! ** 2 + 1),
    usesLearnedVariance: false,
    startsPartWay: true,
    scheduleConfig: o.schedulerConfig ?? {},
    scheduler: null,
    entryAfter: (skip) => skip,
    levelAt: (from) => ({ timestep: schedule.sigmaToT(sigmas[from]!), sigma: sigmas[from]! }),
    noiseTo: (x0, z, from) => combine('noiseTo', 1, x0, sigmas[from]!, z, ['image', 'noise']),
    record: () => ({ kind: 'sampler', name: sampler.name }),
    run(model, x, ctx) {
      const base = model.denoiser(schedule);
      let denoiser: Denoiser = base;
      const known = ctx.known;
      if (known !== null) {
        denoiser = (xs: Tensor, sigma: number): Tensor => {
          const noised = combine('knownRegion', 1, known.image, sigma, ctx.noise(), ['image', 'noise']);
          return where(known.keep, known.image, base(where(known.keep, noised, xs), sigma));
        };
      }
      const options: SamplerOptions & Record<string, unknown> = {
        ...(o.samplerOptions ?? {}),
        ...(o.eta !== undefined ? { eta: o.eta } : {}),
        noise: () => ctx.noise(),
        callback: ({ i, x: xi, denoised }) => ctx.onEntry?.({ entry: ctx.from + i, x: xi, x0: denoised }),
        ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      };
      ctx.signal?.throwIfAborted();
      return sampler.sample(denoiser, x, sigmas.subarray(ctx.from), options);
    },
  };
}
