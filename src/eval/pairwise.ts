/**
 * Blocked pairwise squared Euclidean distances between the rows of two float32 matrices, through
 * the native matmul: ||a_i - b_j||^2 = ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j (clamped at 0). Shared
 * by the k-NN precision/recall and the memorisation figure.
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { ShapeError } from '../tensor/errors.js';
import { matmul } from '../ops/matmul.js';

/** Rows of `a` per block: a block's distances are rows x m float32 values. */
export const DISTANCE_BLOCK_ROWS = 256;

function rowNorms(x: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! * x[i * d + j]!;
    out[i] = s;
  }
  return out;
}

/**
 * Calls `fn(start, rows, d2)` for consecutive blocks of rows of `a` (n, d), where d2 (rows, m) holds
 * the squared distances from a[start..start+rows) to every row of `b` (m, d).
 * @example forEachDistanceBlock(x, n, y, m, d, (start, rows, d2) => { ... });
 */
export function forEachDistanceBlock(
  a: Float32Array, n: number, b: Float32Array, m: number, d: number,
  fn: (start: number, rows: number, d2: Float32Array) => void,
  blockRows = DISTANCE_BLOCK_ROWS,
): void {
  if (a.length !== n * d || b.length !== m * d) throw new ShapeError(`pairwise distances: expected (${n}, ${d}) and (${m}, ${d}) matrices, found ${a.length} and ${b.length} values`);
  if (n === 0 || m === 0) return;
  const na = rowNorms(a, n, d);
  const nb = rowNorms(b, m, d);
  const bt = new Tensor(b, [m, d]);
  noGrad(() => {
    for (let start = 0; start < n; start += blockRows) {
      const rows = Math.min(blockRows, n - start);
      const dots = matmul(new Tensor(a.subarray(start * d, (start + rows) * d), [rows, d]), bt, { transB: true }).toArray(); // (rows, m)
      for (let i = 0; i < rows; i++) {
        const ni = na[start + i]!;
        for (let j = 0; j < m; j++) dots[i * m + j] = Math.max(0, ni + nb[j]! - 2 * dots[i * m + j]!);
      }
      fn(start, rows, dots);
    }
  });
}

/**
 * The distance from each row of `a` (n, d) to its k-th nearest row of `a` itself, not counting
 * the row (k = 1: its nearest other row).
 * @example const radii = kthNeighbourDistances(realFeatures, n, 128, 3);
 */
export function kthNeighbourDistances(a: Float32Array, n: number, d: number, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 1 || k >= n) throw new ShapeError(`k-NN: k must be an integer in [1, ${n - 1}] for ${n} vectors, found ${k}`);
  const out = new Float64Array(n);
  const best = new Float64Array(k + 1); // the k + 1 smallest, ascending (the row itself at 0 among them)
  forEachDistanceBlock(a, n, a, n, d, (start, rows, d2) => {
    for (let i = 0; i < rows; i++) {
      best.fill(Infinity);
      const row = d2.subarray(i * n, (i + 1) * n);
      row[start + i] = 0; // the row's distance to itself, exactly
      for (let j = 0; j < n; j++) {
        const v = row[j]!;
        if (v >= best[k]!) continue;
        let p = k;
        while (p > 0 && best[p - 1]! > v) {
          best[p] = best[p - 1]!;
          p--;
        }
        best[p] = v;
      }
      out[start + i] = Math.sqrt(best[k]!);
    }
  });
  return out;
}
