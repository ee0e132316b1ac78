/**
 * One chunk of images through a planned reverse process: its per-image noise streams, its
 * conditioned model, the run from any entry with an optional known region, and one progress step
 * per model-evaluation entry (an adaptive sampler's trial steps are capped at the plan, and a run
 * that takes fewer steps than planned still completes its share). Every model output and every
 * entry's sample is checked for NaN/Inf here (sampling/finite_check.ts), the one place every
 * pipeline's run passes through.
 */
import type { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { drawNoise, imageStreams } from './noise_streams.js';
import { chunkModel, type SamplingPlan } from './common_options.js';
import type { ProgressCounter } from './progress.js';
import type { EntryEvent, KnownRegion } from './reverse_process.js';
import type { ConditionedModel } from './conditioned_model.js';
import { FiniteGuard } from './finite_check.js';

/** A chunk: its first image, its size, its noise streams and its conditioned model. */
export interface Chunk {
  start: number;
  b: number;
  gens: Generator[];
  /** The conditioned model, its every output checked for NaN/Inf by `guard`. */
  model: ConditionedModel;
  /** The run's finite checks (its `entry` is the step model outputs are reported at). */
  guard: FiniteGuard;
  /** One standard normal draw per image from its stream, (B, H, W, C). */
  noise(): Tensor;
}

/** The finite checks of a plan's runs: its method, step count, guidance and models. */
export function planGuard(p: SamplingPlan): FiniteGuard {
  const models: object[] = [p.model];
  const clf = p.classifier?.classifier;
  if (clf !== undefined && clf !== null && typeof clf === 'object') models.push(clf);
  return new FiniteGuard({ op: p.op, method: p.process.name, total: p.process.loops, guidance: p.cond.guidance, classifierScale: p.classifier?.scale ?? null, models });
}

/** `model` with every output checked by `guard` (the model output of the entry it is at). */
function checkedModel(model: ConditionedModel, guard: FiniteGuard): ConditionedModel {
  return {
    output: (xt, t) => guard.modelOutput(model.output(xt, t)),
    denoiser: (schedule) => {
      const d = model.denoiser(schedule);
      return (x, sigma) => guard.modelOutput(d(x, sigma));
    },
  };
}

/**
 * The chunk of images start .. start + b - 1, with its conditioning rows (SR3) or null.
 * @example const chunk = makeChunk(p, 0, 16, null); const xT = chunk.noise();
 */
export function makeChunk(p: SamplingPlan, start: number, b: number, conditioning: Tensor | null): Chunk {
  const gens = imageStreams(p.origin, start, b);
  const guard = planGuard(p);
  return { start, b, gens, guard, model: checkedModel(chunkModel(p, start, b, conditioning), guard), noise: () => drawNoise(gens, [p.h, p.w, p.c], p.dtype) };
}

/** Where a chunk's run starts and what it keeps and records. */
export interface ChunkRunOptions {
  /** The first entry (0: the whole schedule). */
  from?: number;
  known?: KnownRegion | null;
  /** Every entry, e.g. to record a trajectory. */
  onEntry?(event: EntryEvent): void;
}

/**
 * Runs the chunk from x (in the process's space) over entries from..loops-1; returns the final
 * sample, unclamped.
 */
export function runChunk(p: SamplingPlan, chunk: Chunk, x: Tensor, progress: ProgressCounter, o: ChunkRunOptions = {}): Tensor {
  const from = o.from ?? 0;
  const cap = progress.done + p.process.loops - from;
  const { guard } = chunk;
  guard.sample(x, from - 1);
  guard.entry = from;
  const out = p.process.run(chunk.model, x, {
    from,
    noise: chunk.noise,
    known: o.known ?? null,
    signal: p.signal,
    onEntry: (e) => {
      // A scheduler hands over the entry's result; a sampler the sample the entry before made.
      if (e.next !== undefined) guard.sample(e.next, e.entry);
      else if (e.entry > from) guard.sample(e.x, e.entry - 1);
      guard.entry = e.entry + 1;
      o.onEntry?.(e);
      if (progress.done < cap) progress.tick(e.next ?? e.x, e.x0);
    },
  });
  guard.sample(out, p.process.loops - 1);
  // An adaptive sampler may take fewer steps than planned: the chunk is done all the same.
  while (progress.done < cap) progress.tick(out, out);
  return out;
}
