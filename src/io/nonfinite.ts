/**
 * The weights check at load: a checkpoint whose tensors hold NaN or +-Inf (a diverged run saved by
 * another tool, a bit flip, a bad conversion) would load without a word and sample black or NaN
 * images. Every loader runs its host arrays through `checkFiniteWeights` once, before they become
 * parameters (one pass over the floats, cheap beside reading the file): by default it refuses with
 * an error that names the file, the first few tensors, how many values and tensors are bad, and
 * the way out (`--allow-nonfinite`, or `allowNonfinite: true` in the library); allowed, it warns
 * and the model is remembered as one with non-finite weights, so a sampler that then goes NaN can
 * name this as the likely cause.
 */
import { DiffuseError } from '../tensor/errors.js';

/** How many tensors an error or warning names before it gives the count of the rest. */
const NAMED_TENSORS = 5;

/** A weights file holds NaN or +-Inf values (refused unless allowNonfinite). */
export class NonfiniteWeightsError extends DiffuseError {}

/** Options of the loaders that check their weights. */
export interface NonfiniteOptions {
  /** Load weights holding NaN/Inf anyway, with a warning (default false: refuse). CLI: --allow-nonfinite. */
  allowNonfinite?: boolean;
  /** Receives the warning when allowNonfinite lets bad weights through (default: console.warn). */
  onWarning?: (message: string) => void;
}

/** A tensor with non-finite values: its name, how many, and the first one's index and value. */
export interface NonfiniteTensor {
  name: string;
  count: number;
  size: number;
  firstIndex: number;
  firstValue: number;
}

/**
 * The tensors of `tensors` that hold NaN or +-Inf, in order (one pass over the values).
 * @example findNonfinite(new Map([['w', { data: Float32Array.of(1, NaN) }]])) // [{ name: 'w', count: 1, ... }]
 */
export function findNonfinite(tensors: Iterable<readonly [string, { readonly data: ArrayLike<number> }]>): NonfiniteTensor[] {
  const out: NonfiniteTensor[] = [];
  for (const [name, t] of tensors) {
    const d = t.data;
    const n = d.length;
    let count = 0;
    let firstIndex = -1;
    for (let i = 0; i < n; i++) {
      const v = d[i]!;
      // v - v is 0 for every finite v and NaN for NaN and +-Inf.
      if (v - v !== 0) {
        if (count === 0) firstIndex = i;
        count++;
      }
    }
    if (count > 0) out.push({ name, count, size: n, firstIndex, firstValue: d[firstIndex]! });
  }
  return out;
}

/** "3 tensors (12 values): 'a' (10 of 64 values, the first NaN at 3), 'b' (...) and 1 more". */
export function describeNonfinite(bad: readonly NonfiniteTensor[]): string {
  const values = bad.reduce((s, b) => s + b.count, 0);
  const named = bad.slice(0, NAMED_TENSORS).map((b) => `'${b.name}' (${b.count} of ${b.size} values, the first ${b.firstValue} at index ${b.firstIndex})`);
  const more = bad.length > NAMED_TENSORS ? ` and ${bad.length - NAMED_TENSORS} more` : '';
  return `${bad.length} tensor${bad.length === 1 ? '' : 's'} (${values} value${values === 1 ? '' : 's'}): ${named.join(', ')}${more}`;
}

/** Models whose weights were loaded with NaN/Inf allowed (a sampler's non-finite error names this). */
const loadedWithNonfinite = new WeakSet<object>();

/** Remembers that `model` was loaded from weights holding NaN/Inf. */
export function markNonfiniteWeights(model: object): void {
  loadedWithNonfinite.add(model);
}

/** Whether `model` was loaded from weights holding NaN/Inf (with allowNonfinite). */
export function hasNonfiniteWeights(model: object): boolean {
  return loadedWithNonfinite.has(model);
}

/**
 * Checks the host arrays read from `file` before they become parameters: throws a
 * NonfiniteWeightsError naming the tensors unless `allowNonfinite`, which warns instead. Returns
 * whether any value was non-finite (the loader then marks its model).
 * @example const bad = checkFiniteWeights('unet/diffusion_pytorch_model.safetensors', tensors, { allowNonfinite });
 */
export function checkFiniteWeights(file: string, tensors: Iterable<readonly [string, { readonly data: ArrayLike<number> }]>, options: NonfiniteOptions = {}): boolean {
  const bad = findNonfinite(tensors);
  if (bad.length === 0) return false;
  const what = `${file}: ${describeNonfinite(bad)} hold NaN or Inf`;
  if (options.allowNonfinite !== true) {
    throw new NonfiniteWeightsError(
      `${what}; the checkpoint is broken (a run that diverged, a bad conversion or a damaged file) and would sample NaN or black images. ` +
        'Load an earlier checkpoint, or pass --allow-nonfinite (allowNonfinite: true) to load it anyway',
    );
  }
  (options.onWarning ?? ((m: string) => console.warn(m)))(`warning: ${what}; loading anyway (--allow-nonfinite): samples may be NaN or black`);
  return true;
}

/**
 * `options` with its warning observed, for a loader that marks its model: `found()` says whether
 * the load let non-finite weights through.
 * @example const seen = observeNonfinite(options); readDiffusersWeights(dir, seen.options); if (seen.found()) markNonfiniteWeights(model);
 */
export function observeNonfinite(options: NonfiniteOptions): { options: NonfiniteOptions; found(): boolean } {
  let found = false;
  const warn = options.onWarning ?? ((m: string) => console.warn(m));
  return {
    options: {
      ...options,
      onWarning: (m) => {
        found = true;
        warn(m);
      },
    },
    found: () => found,
  };
}
