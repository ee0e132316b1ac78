/**
 * Kernel Inception Distance (Binkowski et al., "Demystifying MMD GANs", ICLR 2018, eq. 1 and
 * sec. 4): the unbiased estimator of the squared maximum mean discrepancy with the cubic
 * polynomial kernel k(x, y) = (x . y / d + 1)^3,
 *   MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
 *           - 2/m^2 sum_{i, j} k(x_i, y_j),
 * averaged over random subsets of m vectors from each set (drawn without replacement within a
 * subset), with the spread over subsets. Unbiased: its expectation is 0 when both sets come from
 * the same distribution, so unlike the Frechet distance it does not depend on the sample size.
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError } from '../tensor/errors.js';
import { matmul } from '../ops/matmul.js';
import { randomPermutation } from '../data/dataset.js';

/** 100 subsets of (up to) 1,000 vectors from each set, the usual KID protocol. */
export const KID_SUBSETS = 100;
export const KID_SUBSET_SIZE = 1000;

export interface KidOptions {
  /** Number of subsets (default 100). */
  subsets?: number;
  /** Vectors per subset from each set (default min(1000, n, m)). */
  subsetSize?: number;
  /** Seed of the subset draws (default 0). */
  seed?: number;
}

export interface KidResult {
  /** Mean of MMD^2_u over the subsets. */
  mean: number;
  /** Standard deviation over the subsets. */
  std: number;
  subsets: number;
  subsetSize: number;
}

/** Rows `idx` of x (n, d) as an (m, d) tensor. */
function gather(x: Float32Array, d: number, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length * d); // (idx.length, d)
  for (let i = 0; i < idx.length; i++) out.set(x.subarray(idx[i]! * d, (idx[i]! + 1) * d), i * d);
  return out;
}

/** Sum of (g / d + 1)^3 over the Gram matrix g (m, m), without its diagonal when `offDiagonal`. */
function kernelSum(g: Float32Array, m: number, d: number, offDiagonal: boolean): number {
  let s = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (offDiagonal && i === j) continue;
      const k = g[i * m + j]! / d + 1;
      s += k * k * k;
    }
  }
  return s;
}

/**
 * The unbiased MMD^2 with the cubic kernel between two equal-size sets x, y (m, d), the whole sets.
 * @example mmd2Unbiased(a, b, 1000, 128)
 */
export function mmd2Unbiased(x: Float32Array, y: Float32Array, m: number, d: number): number {
  if (x.length !== m * d || y.length !== m * d) throw new ShapeError(`mmd2Unbiased: expected two (${m}, ${d}) sets, found ${x.length} and ${y.length} values`);
  if (m < 2) throw new ArgumentError(`mmd2Unbiased: needs at least 2 vectors per set, found ${m}`);
  return noGrad(() => {
    const tx = new Tensor(x, [m, d]);
    const ty = new Tensor(y, [m, d]);
    const kxx = kernelSum(matmul(tx, tx, { transB: true }).toArray(), m, d, true);
    const kyy = kernelSum(matmul(ty, ty, { transB: true }).toArray(), m, d, true);
    const kxy = kernelSum(matmul(tx, ty, { transB: true }).toArray(), m, d, false);
    return (kxx + kyy) / (m * (m - 1)) - (2 * kxy) / (m * m);
  });
}

/**
 * KID between feature sets a (n, d) and b (m, d).
 * @example const { mean, std } = kernelInceptionDistance(fake, 1000, real, 10000, 128);
 */
export function kernelInceptionDistance(a: Float32Array, n: number, b: Float32Array, m: number, d: number, options: KidOptions = {}): KidResult {
  if (a.length !== n * d || b.length !== m * d) throw new ShapeError(`kernelInceptionDistance: expected (${n}, ${d}) and (${m}, ${d}) sets, found ${a.length} and ${b.length} values`);
  const subsets = options.subsets ?? KID_SUBSETS;
  const size = options.subsetSize ?? Math.min(KID_SUBSET_SIZE, n, m);
  if (!Number.isInteger(subsets) || subsets < 1) throw new ArgumentError(`kernelInceptionDistance: subsets must be a positive integer, found ${subsets}`);
  if (!Number.isInteger(size) || size < 2 || size > n || size > m) throw new ArgumentError(`kernelInceptionDistance: subsetSize must be an integer in [2, ${Math.min(n, m)}] (the smaller set), found ${size}`);
  const gen = new Generator(options.seed ?? 0);
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const ia = randomPermutation(n, gen).slice(0, size);
    const ib = randomPermutation(m, gen).slice(0, size);
    values.push(mmd2Unbiased(gather(a, d, ia), gather(b, d, ib), size, d));
  }
  const mean = values.reduce((x, y) => x + y, 0) / subsets;
  const std = subsets > 1 ? Math.sqrt(values.reduce((x, v) => x + (v - mean) ** 2, 0) / (subsets - 1)) : 0;
  return { mean, std, subsets, subsetSize: size };
}
