/**
 * Improved precision and recall (Kynkaanniemi et al., NeurIPS 2019, eqs. 1-3) in feature space.
 * Each set's manifold is estimated as the union of balls around its vectors, each ball's radius
 * the distance to the vector's k-th nearest neighbour within its own set (k = 3 in the paper):
 *   precision = share of generated vectors inside the real manifold (are samples realistic?),
 *   recall    = share of real vectors inside the generated manifold (is the data's variety covered?).
 * Both depend on the set sizes through the radii; compare figures at equal sizes only.
 */
import { ArgumentError } from '../tensor/errors.js';
import { forEachDistanceBlock, kthNeighbourDistances } from './pairwise.js';

/** The paper's neighbourhood size. */
export const PR_NEIGHBOURS = 3;

export interface PrecisionRecall {
  precision: number;
  recall: number;
}

/** Share of rows of `query` (n, d) inside some ball (centre a row of `ref` (m, d), radius radii[j]). */
function coverage(query: Float32Array, n: number, ref: Float32Array, m: number, d: number, radii: Float64Array): number {
  const r2 = radii.map((r) => r * r);
  let inside = 0;
  forEachDistanceBlock(query, n, ref, m, d, (_start, rows, d2) => {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < m; j++) {
        if (d2[i * m + j]! <= r2[j]!) {
          inside++;
          break;
        }
      }
    }
  });
  return inside / n;
}

/**
 * k-NN precision and recall of generated features `fake` (nf, d) against real features `real` (nr, d).
 * @example const { precision, recall } = precisionRecall(real, 1000, fake, 1000, 128);
 */
export function precisionRecall(real: Float32Array, nr: number, fake: Float32Array, nf: number, d: number, k = PR_NEIGHBOURS): PrecisionRecall {
  if (nr <= k || nf <= k) throw new ArgumentError(`precisionRecall: each set needs more than k = ${k} vectors, found ${nr} real and ${nf} generated`);
  const realRadii = kthNeighbourDistances(real, nr, d, k);
  const fakeRadii = kthNeighbourDistances(fake, nf, d, k);
  return { precision: coverage(fake, nf, real, nr, d, realRadii), recall: coverage(real, nr, fake, nf, d, fakeRadii) };
}
