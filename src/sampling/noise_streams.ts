/**
 * Per-image noise streams. Determinism: image i draws its x_T and every step's noise from its own
 * stream of the seeded Philox generator (counters base + i * IMAGE_STREAM_COUNTERS onwards), so an
 * image depends on the seed, its index and its class, never on n, the batch size or how the work
 * was chunked. Every pipeline draws through this module.
 */
import { Tensor, type DType } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';

/**
 * Philox counters reserved per image: 2^40 counters (4 normals each) hold x_T and 1000 steps of
 * noise for images up to ~2^32 values (checked), and 2^24 images fit before the 64-bit counter wraps.
 */
export const IMAGE_STREAM_COUNTERS = 1n << 40n;

const COUNTER_MASK = (1n << 64n) - 1n;

/** Where a call's streams start: the generator's seed and the counter of image 0. */
export interface StreamOrigin {
  seed: bigint;
  base: bigint;
}

/**
 * The origin of a call's streams from exactly one of `seed` or `generator` (checked).
 * @example streamOrigin('generate', { seed: 0 }) // { seed: 0n, base: 0n }
 */
export function streamOrigin(op: string, o: { seed?: number | bigint | undefined; generator?: Generator | undefined }): StreamOrigin {
  if ((o.seed === undefined) === (o.generator === undefined)) {
    throw new ArgumentError(`${op}: pass exactly one of 'seed' (a non-negative integer) or 'generator' (a Generator)`);
  }
  if (o.generator !== undefined) {
    const g = o.generator;
    if (!(g instanceof Generator)) throw new ArgumentError(`${op}: 'generator' must be a Generator, found ${g === null ? 'null' : Array.isArray(g) ? 'an array' : typeof g}`);
    return { seed: g.seed, base: g.offset };
  }
  try {
    return { seed: new Generator(o.seed as number | bigint).seed, base: 0n }; // validates the seed
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`${op}: ${e.message}`) : e;
  }
}

/** Image i's noise stream. */
export function imageStream(origin: StreamOrigin, i: number): Generator {
  const offset = (origin.base + BigInt(i) * IMAGE_STREAM_COUNTERS) & COUNTER_MASK;
  return Generator.fromState({ seed: origin.seed.toString(), offset: offset.toString() });
}

/** The streams of images start .. start + b - 1. */
export function imageStreams(origin: StreamOrigin, start: number, b: number): Generator[] {
  return Array.from({ length: b }, (_, j) => imageStream(origin, start + j));
}

/** One standard normal draw per image from its stream, stacked into (B, H, W, C). */
export function drawNoise(gens: readonly Generator[], [h, w, c]: readonly [number, number, number], dtype: DType): Tensor {
  const draws = gens.map((g) => g.normal([1, h, w, c], 0, 1, { dtype }));
  return draws.length === 1 ? draws[0]! : concat(draws, 0);
}

/** Moves a caller's generator past the streams of n images (what every pipeline does at the end). */
export function advanceGenerator(generator: Generator | undefined, origin: StreamOrigin, n: number): void {
  if (generator === undefined) return;
  const next = (origin.base + BigInt(n) * IMAGE_STREAM_COUNTERS) & COUNTER_MASK;
  generator.setState({ seed: origin.seed.toString(), offset: next.toString() });
}

/**
 * Checks that each image's draws fit its stream: `draws` standard normal tensors of h x w x c.
 * @example checkStreamBudget('generate', 51, 28, 28, 1)
 */
export function checkStreamBudget(op: string, draws: number, h: number, w: number, c: number, what: string): void {
  const counters = BigInt(Math.ceil((h * w * c) / 4)) * BigInt(draws);
  if (counters > IMAGE_STREAM_COUNTERS) {
    throw new ArgumentError(`${op}: ${what} need ${counters} Philox counters per image, more than the ${IMAGE_STREAM_COUNTERS} reserved`);
  }
}
