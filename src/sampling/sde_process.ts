/**
 * The adapter of the score-SDE samplers (Song et al. 2021, "Score-Based Generative Modeling
 * through Stochastic Differential Equations"): predictor-corrector sampling (sde/pc_sampler.ts,
 * Alg. 1) and the probability-flow ODE (sde/ode_sampler.ts, eq. 13, adaptive RK45). They do not
 * fit the ReverseProcess contract honestly (they integrate an SDE over continuous time with a
 * score model, not a denoiser over a discrete training schedule; the ODE picks its own steps), so
 * this adapter gives them the rest of the engine's surface instead: the registry's names, chunked
 * batches, class labels, and the one ProgressEvent (the ODE reports progress in thousandths of
 * the time interval and its score evaluations so far). Noise: one seeded generator drawn in order
 * (x_T of each chunk, then each step's noise), as `diffuse sample --sde-sampler` always did.
 */
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { ArgumentError } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';
import type { UNet2DModel } from '../nn/unet_2d.js';
import type { Sde } from '../sde/sde.js';
import { scoreFromModel } from '../sde/score.js';
import { pcSample, type PcOptions } from '../sde/pc_sampler.js';
import { odeSample, ODE_PROGRESS_UNITS, type OdeSampleOptions } from '../sde/ode_sampler.js';
import { SDE_SAMPLERS, type SdeSamplerName } from './registry.js';
import { ProgressCounter, type ProgressHandler } from './progress.js';
import { checkSamplingMemory } from './memory_check.js';
import { FiniteGuard } from './finite_check.js';
import type { ScoreFn } from '../sde/sde.js';


/** Options of `sdeSample`. */
export interface SdeSampleOptions {
  /** 'pc' (predictor-corrector) or 'ode' (probability-flow ODE). */
  method: SdeSamplerName;
  sde: Sde;
  /** The score model: a U-Net trained on the SDE (or a DDPM model read as the VP SDE). */
  model: UNet2DModel;
  n: number;
  /** Image size (H, W, C). */
  size: readonly [number, number, number];
  /** One class per image, or null for an unconditional model. */
  classLabels: Int32Array | null;
  /** Images per chunk. */
  batchSize: number;
  /** The one generator every draw comes from, in order. */
  generator: Generator;
  /** PC's settings (predictor, corrector, snr, correctorSteps, steps, eps). */
  pc?: Omit<PcOptions, 'generator' | 'noise' | 'callback' | 'onProgress' | 'signal'>;
  /** The ODE's settings (rtol, atol, eps). */
  ode?: Omit<OdeSampleOptions, 'onStep' | 'onProgress' | 'signal'>;
  onProgress?: ProgressHandler;
  signal?: AbortSignal;
}

/** What `sdeSample` returns. */
export interface SdeSampleOutput {
  /** (N, H, W, C), unclamped (an SDE's output can overshoot the image range slightly). */
  images: Tensor;
  /** Score evaluations of each chunk. */
  nfe: number[];
}

/**
 * Samples n images with a score-SDE sampler, in chunks.
 * @example
 * const sde = sdeFromConfig(schedulerConfig);
 * const { images } = sdeSample({ method: 'pc', sde, model, n: 16, size: [28, 28, 1], classLabels: null, batchSize: 64, generator: new Generator(0) });
 */
export function sdeSample(o: SdeSampleOptions): SdeSampleOutput {
  const op = 'sdeSample';
  if (!(SDE_SAMPLERS as readonly string[]).includes(o.method)) throw new ArgumentError(`${op}: 'method' must be one of ${SDE_SAMPLERS.join(', ')}, found ${String(o.method)}`);
  const [h, w, c] = o.size;
  checkSamplingMemory(op, o.model, { n: o.n, h, w, c }, o.batchSize, false);
  const pcSteps = o.pc?.steps ?? o.sde.N;
  const chunks = Math.ceil(o.n / o.batchSize);
  const progress = new ProgressCounter(o.method === 'pc' ? chunks * pcSteps : chunks * ODE_PROGRESS_UNITS, o.onProgress);
  const parts: Tensor[] = [];
  const nfe: number[] = [];
  for (let k = 0; k < chunks; k++) {
    const s0 = k * o.batchSize;
    const m = Math.min(o.batchSize, o.n - s0);
    const guard = new FiniteGuard({ op: 'sample', method: o.method === 'pc' ? 'the SDE predictor-corrector sampler (pc)' : 'the probability-flow ODE sampler (ode)', total: pcSteps, models: [o.model] });
    const score = guardedScore(guard, o.method, scoreFromModel(o.sde, o.model, { classLabels: o.classLabels === null ? null : o.classLabels.subarray(s0, s0 + m) }));
    const xT = o.sde.priorSample([m, h, w, c], o.generator);
    guard.sample(xT, -1);
    const signal = o.signal === undefined ? {} : { signal: o.signal };
    const r =
      o.method === 'pc'
        ? pcSample(o.sde, score, xT, {
            ...o.pc,
            generator: o.generator,
            steps: pcSteps,
            ...signal,
            onProgress: (e) => {
              if (e.x !== undefined) guard.sample(e.x, e.step - 1);
              guard.entry = e.step;
              progress.tick(e.x, e.x0Preview);
            },
          })
        : odeSample(o.sde, score, xT, {
            ...o.ode,
            ...signal,
            onProgress: (e) => {
              progress.done = k * ODE_PROGRESS_UNITS + e.step - 1;
              progress.tick(undefined, undefined, e.nfe);
            },
          });
    if (o.method === 'pc') guard.sample(r.x, pcSteps - 1);
    else guard.check(r.x, 'sample', 'after the last ODE step');
    nfe.push(r.nfe);
    parts.push(r.x);
  }
  return { images: parts.length === 1 ? parts[0]! : concat(parts, 0), nfe };
}

/**
 * A score function whose every output is checked by `guard` (PC: at its current step; the ODE,
 * which picks its own steps: at the time t, with its input, the solver's state, checked too).
 * @example const score = guardedScore(guard, 'pc', scoreFromModel(sde, model));
 */
export function guardedScore(guard: FiniteGuard, method: SdeSamplerName, score: ScoreFn): ScoreFn {
  let evals = 0;
  return (x, t) => {
    evals++;
    if (method === 'pc') return guard.modelOutput(score(x, t));
    const at = `at t = ${t.toPrecision(4)} of the ODE (score evaluation ${evals})`;
    guard.check(x, 'sample', at);
    return guard.check(score(x, t), 'model output', at);
  };
}
