/** Deterministic test data (a small seeded PRNG; the product's RNG has its own tests). */
import { tensor, type TensorOptions } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { numel } from '../../src/tensor/tensor.js';

/** mulberry32: a tiny seeded uniform generator in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values uniform in [lo, hi). */
export function uniformValues(n: number, seed: number, lo = -1, hi = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** A tensor of uniform values in [lo, hi). */
export function randTensor(shape: number[], seed: number, options: TensorOptions & { lo?: number; hi?: number } = {}): Tensor {
  const { lo = -1, hi = 1, ...rest } = options;
  return tensor(uniformValues(numel(shape), seed, lo, hi), shape, rest);
}
