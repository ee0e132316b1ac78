/**
 * The adapter that makes a diffusers-style scheduler (schedulers/: setTimesteps / scaleModelInput /
 * step / addNoise, diffusers' contract) a ReverseProcess. The scheduler holds multistep history
 * between steps, so every run starts with a fresh setTimesteps. Each entry draws one noise per image
 * for its step (the stochastic schedulers use it), and with a known region one more, first, for the
 * known pixels at that entry's level.
 */
import { noGrad } from '../tensor/autograd.js';
import { where } from '../ops/where.js';
import type { Scheduler, StepOptions } from '../schedulers/scheduler.js';
import { DDPMScheduler } from '../schedulers/ddpm.js';
import type { ReverseProcess, ReverseProcessOptions } from './reverse_process.js';

/** DDPM's variance types that read the model's variance channels. */
const LEARNED_VARIANCE = ['learned', 'learned_range'];

/**
 * A scheduler as a ReverseProcess over `o.steps` steps (setTimesteps runs here, so a step count it
 * cannot do is reported first).
 * @example const rp = schedulerProcess(new DDIMScheduler(config), { steps: 50, eta: 0 });
 */
export function schedulerProcess(scheduler: Scheduler<StepOptions & { eta?: number }>, o: ReverseProcessOptions): ReverseProcess {
  const { steps } = o;
  scheduler.setTimesteps(steps);
  const timesteps = [...scheduler.timesteps];
  const usesLearnedVariance = scheduler instanceof DDPMScheduler && LEARNED_VARIANCE.includes(scheduler.config.varianceType);
  return {
    name: scheduler.className,
    steps,
    loops: timesteps.length,
    timesteps,
    initNoiseSigma: scheduler.initNoiseSigma,
    usesLearnedVariance,
    startsPartWay: scheduler.className !== 'PNDMScheduler',
    scheduleConfig: o.schedulerConfig ?? scheduler.toConfig(),
    scheduler,
    entryAfter: (skip) => skip * scheduler.order,
    levelAt(from) {
      const t = timesteps[from]!;
      // Sigma-schedule schedulers list their sigmas; DDPM-family ones have abar.
      const sig = (scheduler as { sigmas?: ArrayLike<number> }).sigmas;
      const acp = (scheduler as { alphasCumprod?: Float64Array }).alphasCumprod;
      const sigma = sig !== undefined ? sig[from]! : acp !== undefined && Number.isInteger(t) ? Math.sqrt((1 - acp[t]!) / acp[t]!) : NaN;
      return { timestep: t, sigma };
    },
    noiseTo(x0, z, from) {
      scheduler.setTimesteps(steps);
      return scheduler.addNoise(x0, z, scheduler.timesteps[from]!);
    },
    record: () => ({ kind: 'scheduler', config: scheduler.toConfig() }),
    run(model, x, ctx) {
      scheduler.setTimesteps(steps); // a fresh run: multistep schedulers keep history between steps
      const run = scheduler.timesteps.slice(ctx.from);
      return noGrad(() => {
        for (const [k, t] of run.entries()) {
          ctx.signal?.throwIfAborted();
          if (ctx.known !== null) x = where(ctx.known.keep, scheduler.addNoise(ctx.known.image, ctx.noise(), t), x);
          const out = model.output(scheduler.scaleModelInput(x, t), t);
          const stepOptions: StepOptions & { eta?: number } = { noise: ctx.noise() };
          if (o.eta !== undefined) stepOptions.eta = o.eta;
          const r = scheduler.step(out, t, x, stepOptions);
          ctx.onEntry?.({ entry: ctx.from + k, x, x0: r.predOriginalSample, next: r.prevSample });
          x = r.prevSample;
        }
        return x;
      });
    },
  };
}
