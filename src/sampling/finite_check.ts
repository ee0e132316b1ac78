/**
 * The engine's guard against silent garbage: a sampler whose model output or sample goes NaN or
 * Inf (classifier-free guidance far too large, a checkpoint with broken weights, a scheduler config
 * whose schedule overflows) would run to the end and save black or NaN images. The engine checks
 * the conditioned model's output at every evaluation and the sample after every entry, and stops
 * with a NonfiniteSampleError that names the step (i of n), the method, which of the two went
 * non-finite and the likely cause.
 *
 * Cost: one sum reduction per checked tensor, read back as one scalar (a sum of finite values is
 * finite unless it overflows; NaN and Inf propagate through it), which is small beside a U-Net
 * forward on the same batch. A non-finite sum is confirmed element-wise before it is reported, so
 * a huge but finite sample is never mistaken for a NaN one.
 */
import type { Tensor } from '../tensor/tensor.js';
import { DiffuseError } from '../tensor/errors.js';
import { sum } from '../ops/reduce.js';
import { hasNonfiniteWeights } from '../io/nonfinite.js';
import { modelSource } from '../io/model_source.js';

/** A sampler's model output or sample went NaN or Inf. */
export class NonfiniteSampleError extends DiffuseError {}

/** Which tensor went non-finite. */
export type NonfiniteWhat = 'model output' | 'sample';

/** What the guard knows about the run, for the likely cause. */
export interface FiniteGuardContext {
  /** The pipeline or command ('generate', 'inpaint', 'sample', ...). */
  op: string;
  /** The sampling method's name (a sampler or scheduler class, or 'pc'/'ode'). */
  method: string;
  /** Entries (model-evaluation steps) of the full run: the n of "step i of n". */
  total: number;
  /** The classifier-free guidance weight (1: none). */
  guidance?: number;
  /** The classifier guidance scale, when a classifier steers the run. */
  classifierScale?: number | null;
  /** The models whose weights were loaded (a model loaded with allowNonfinite is named as the cause). */
  models?: readonly object[];
}

/** Guidance weights above this are named as the likely cause (the useful range is about 1 to 20). */
const LARGE_GUIDANCE = 30;

/** Whether every value of `t` is finite: one sum read back; confirmed element-wise if not. */
export function isAllFinite(t: Tensor): boolean {
  const s = sum(t).item();
  if (Number.isFinite(s)) return true;
  // The sum may overflow on huge finite values: look at the values themselves (rare path).
  for (const v of t.toArray()) if (v - v !== 0) return false;
  return true;
}

/**
 * Checks of one run: `modelOutput(out)` after each model evaluation and `sample(x, entry)` after
 * each entry; both throw a NonfiniteSampleError naming the step, the method and the likely cause.
 * @example const guard = new FiniteGuard({ op: 'generate', method: 'DDIMScheduler', total: 50, guidance: 2 });
 */
export class FiniteGuard {
  readonly context: FiniteGuardContext;
  /** The entry (0-based) now running: model outputs are reported at it. */
  entry = 0;
  /** The n of "step i of n" (RePaint counts its own). */
  total: number;

  constructor(context: FiniteGuardContext) {
    this.context = context;
    this.total = context.total;
  }

  /** Checks a model output at the current entry; returns it. */
  modelOutput(out: Tensor): Tensor {
    if (!isAllFinite(out)) throw this.error('model output', this.entry);
    return out;
  }

  /** Checks the sample that entry `entry` produced (-1: the starting sample, x_T or the noised input). */
  sample(x: Tensor, entry: number): void {
    if (!isAllFinite(x)) throw this.error('sample', entry);
  }

  /** Checks `t` as `what` at a position the caller words (`at t = 0.53 of the ODE, score evaluation 17`). */
  check(t: Tensor, what: NonfiniteWhat, at: string): Tensor {
    if (!isAllFinite(t)) throw this.error(what, at);
    return t;
  }

  /** The error for `what` going non-finite at `entry` (or at a worded position). */
  error(what: NonfiniteWhat, entry: number | string): NonfiniteSampleError {
    const { op, method } = this.context;
    const at = typeof entry === 'string' ? entry : entry < 0 ? 'in the starting sample, before step 1' : `at step ${entry + 1} of ${this.total}`;
    return new NonfiniteSampleError(`${op}: the ${what} went NaN or Inf ${at} (${method}); stopped instead of writing black or NaN images. Likely cause: ${this.likelyCause(what)}`);
  }

  /** The likely cause, from what the guard knows (most specific first). */
  likelyCause(what: NonfiniteWhat): string {
    const { guidance, classifierScale, models } = this.context;
    const causes: string[] = [];
    if (models?.some((m) => hasNonfiniteWeights(m)) === true) {
      causes.push('the model was loaded with --allow-nonfinite and its weights hold NaN or Inf; use a checkpoint without them');
    }
    if (guidance !== undefined && Math.abs(guidance) > LARGE_GUIDANCE) causes.push(`the guidance weight ${guidance} is too large (useful values are about 1 to 10); lower --guidance or guidance_scale in sampling_config.json`);
    if (classifierScale !== undefined && classifierScale !== null && Math.abs(classifierScale) > LARGE_GUIDANCE) causes.push(`the classifier scale ${classifierScale} is too large; lower --classifier-scale`);
    if (causes.length > 0) return `${causes.join('; or ')}.`;
    const folders = (models ?? []).map((m) => modelSource(m)).filter((d): d is string => d !== undefined);
    const checkpoint = folders.length === 0 ? 'a broken checkpoint' : `a broken checkpoint (${folders.join(', ')})`;
    return what === 'model output'
      ? `${checkpoint} (weights that overflow) or a guidance weight too large for this model; try the bundled model or lower --guidance, and check the scheduler config (scheduler_config.json).`
      : "the scheduler config (scheduler_config.json: beta_start, beta_end, trained_betas, num_train_timesteps, timestep_spacing) or the sampler's options (--eta, --s-churn, ...) give a schedule that overflows; try another --scheduler or the model's own scheduler config.";
  }
}
