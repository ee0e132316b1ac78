/**
 * Frechet distance between Gaussians fitted to feature vectors, the statistic behind FID (Heusel
 * et al. 2017, eq. 6; Dowson & Landau 1982):
 *   d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1^{1/2} S2 S1^{1/2})^{1/2}).
 * The trace term uses the symmetric form (S1^{1/2} S2 S1^{1/2} is symmetric PSD, with the same
 * eigenvalues as S1 S2), so both square roots come from a symmetric eigendecomposition in float64.
 * Here the features are the dataset feature net's, so the figure compares within this project only.
 */
import { ArgumentError } from '../tensor/errors.js';
import { fitGaussian, matmul64, sqrtmPsd, symmetricEigen, type Gaussian } from './linalg.js';

/**
 * The Frechet distance (squared, as FID reports it) between two Gaussians.
 * @example frechetDistanceGaussians(fitGaussian(a, n, d), fitGaussian(b, m, d))
 */
export function frechetDistanceGaussians(g1: Gaussian, g2: Gaussian): number {
  const d = g1.dim;
  if (g2.dim !== d) throw new ArgumentError(`frechetDistance: the Gaussians have dimensions ${d} and ${g2.dim}; they must match`);
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (g1.mean[j]! - g2.mean[j]!) ** 2;
  let tr1 = 0;
  let tr2 = 0;
  for (let j = 0; j < d; j++) {
    tr1 += g1.cov[j * d + j]!;
    tr2 += g2.cov[j * d + j]!;
  }
  const r1 = sqrtmPsd(g1.cov, d);
  const m = matmul64(matmul64(r1, g2.cov, d, d, d), r1, d, d, d);
  const { values } = symmetricEigen(m, d);
  let trSqrt = 0;
  for (const l of values) trSqrt += Math.sqrt(Math.max(l, 0));
  return meanTerm + tr1 + tr2 - 2 * trSqrt;
}

/**
 * The Frechet distance between the Gaussians fitted to feature sets `a` (n, d) and `b` (m, d).
 * @example const fd = frechetDistance(sampleFeatures, n, testFeatures, m, 128);
 */
export function frechetDistance(a: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number, d: number): number {
  return frechetDistanceGaussians(fitGaussian(a, n, d), fitGaussian(b, m, d));
}
