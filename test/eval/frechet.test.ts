/**
 * Frechet distance against closed forms: 0 for identical Gaussians and sets; diagonal covariances
 * sum (sigma1 - sigma2)^2; commuting covariances compare eigenvalue roots; a non-commuting 2x2
 * pair matches tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)); and the estimate from many samples of two
 * known Gaussians approaches the closed form.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { frechetDistance, frechetDistanceGaussians } from '../../src/eval/frechet.js';
import type { Gaussian } from '../../src/eval/linalg.js';
import { Generator } from '../../src/tensor/random.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const gauss = (mean: number[], cov: number[]): Gaussian => ({ mean: Float64Array.from(mean), cov: Float64Array.from(cov), dim: mean.length, count: 0 });

/** n samples of N(mean, L L^T) as (n, d) float32. */
function sample(n: number, mean: number[], chol: number[], seed: number): Float32Array {
  const d = mean.length;
  const z = hostBuffer(new Generator(seed).normal([n, d]));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < d; r++) {
      let s = mean[r]!;
      for (let c = 0; c <= r; c++) s += chol[r * d + c]! * z[i * d + c]!;
      x[i * d + r] = s;
    }
  }
  return x;
}

describe('frechetDistance', () => {
  it('is 0 for identical Gaussians and identical feature sets', () => {
    const g = gauss([1, -2, 0.5], [2, 0.3, 0.1, 0.3, 1, -0.2, 0.1, -0.2, 0.5]);
    assert.ok(Math.abs(frechetDistanceGaussians(g, g)) < 1e-12);
    const x = sample(500, [0, 1, 2, 3], [1, 0, 0, 0, 0.5, 1, 0, 0, 0, 0.2, 1, 0, 0.1, 0, 0, 2], 1);
    assert.ok(Math.abs(frechetDistance(x, 500, x, 500, 4)) < 1e-9);
  });

  it('sums (sigma1 - sigma2)^2 and the squared mean gap for diagonal covariances', () => {
    const fd = frechetDistanceGaussians(gauss([0, 1, 2], [1, 0, 0, 0, 4, 0, 0, 0, 9]), gauss([1, 1, 0], [4, 0, 0, 0, 4, 0, 0, 0, 0.25]));
    const expected = 1 + 0 + 4 + (1 - 2) ** 2 + 0 + (3 - 0.5) ** 2;
    assert.ok(Math.abs(fd - expected) < 1e-12, `${fd} vs ${expected}`);
  });

  it('compares eigenvalue roots for commuting covariances (same eigenvectors)', () => {
    // Both diagonal in the rotated basis u = (1, 1)/sqrt2, v = (1, -1)/sqrt2: S = a uu^T + b vv^T.
    const cov = (a: number, b: number) => [(a + b) / 2, (a - b) / 2, (a - b) / 2, (a + b) / 2];
    const fd = frechetDistanceGaussians(gauss([0, 0], cov(3, 1)), gauss([0, 0], cov(1, 4)));
    const expected = (Math.sqrt(3) - 1) ** 2 + (1 - 2) ** 2;
    assert.ok(Math.abs(fd - expected) < 1e-12, `${fd} vs ${expected}`);
  });

  it('matches the 2x2 closed form for non-commuting covariances', () => {
    const s1 = [1, 0, 0, 4];
    const s2 = [2, 1, 1, 2];
    // tr((S1^1/2 S2 S1^1/2)^1/2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)) for 2x2 PSD matrices.
    const trS1S2 = 1 * 2 + 4 * 2;
    const expected = 5 + 4 - 2 * Math.sqrt(trS1S2 + 2 * Math.sqrt(4 * 3)) + 0.5 ** 2;
    const fd = frechetDistanceGaussians(gauss([0, 0.5], s1), gauss([0, 0], s2));
    assert.ok(Math.abs(fd - expected) < 1e-12, `${fd} vs ${expected}`);
  });

  it('from 40,000 samples of two known 3-d Gaussians, approaches the closed form', () => {
    // L1 = diag(1, 2, 0.5): S1 = diag(1, 4, 0.25); L2 = I: S2 = I; means differ by (1, 0, -1).
    const n = 40000;
    const a = sample(n, [1, 0, -1], [1, 0, 0, 0, 2, 0, 0, 0, 0.5], 2);
    const b = sample(n, [0, 0, 0], [1, 0, 0, 0, 1, 0, 0, 0, 1], 3);
    const expected = 2 + 0 + 1 + 0.25;
    const fd = frechetDistance(a, n, b, n, 3);
    // Standard error of the estimate is about 0.03 here.
    assert.ok(Math.abs(fd - expected) < 0.1, `${fd} vs ${expected}`);
  });

  it('rejects Gaussians of different dimensions', () => {
    assert.throws(() => frechetDistanceGaussians(gauss([0], [1]), gauss([0, 0], [1, 0, 0, 1])), /dimensions 1 and 2/);
  });
});
