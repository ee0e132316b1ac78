/**
 * The analytic oracle of the SDE tests: data x(0) ~ N(MU, S^2 I) has, under any of the three SDEs,
 * the marginal p_t = N(m(t) MU, (m(t)^2 S^2 + std(t)^2) I), so its exact score
 * s(x, t) = -(x - m MU) / (m^2 S^2 + std^2) and exact log-density are closed forms. The score is
 * built from tensor ops so the likelihood's vector-Jacobian products run through our autograd.
 */
import { addScalar, mulScalar } from '../../src/ops/scalar.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import type { ScoreFn, Sde } from '../../src/sde/sde.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

export const MU = 0.3;
export const S = 0.2;

/** Mean and variance of p_t per dimension. */
export function marginalMoments(sde: Sde, t: number, mu = MU, s = S): { mean: number; variance: number } {
  const { mean: m, std } = sde.marginal(t);
  return { mean: m * mu, variance: m * m * s * s + std * std };
}

/** The exact score of p_t for data N(mu, s^2 I). */
export function gaussianScore(sde: Sde, mu = MU, s = S): ScoreFn {
  return (x: Tensor, t: number) => {
    const { mean, variance } = marginalMoments(sde, t, mu, s);
    return mulScalar(addScalar(x, -mean), -1 / variance);
  };
}

/** log N(x; mean, variance I) per batch element (axis 0). */
export function gaussianLogp(x: Tensor, mean: number, variance: number): Float64Array {
  const n = x.shape[0]!;
  const D = x.size / n;
  return Float64Array.from({ length: n }, (_, b) => {
    let ss = 0;
    for (let i = b * D; i < (b + 1) * D; i++) ss += (hostBuffer(x)[i]! - mean) ** 2;
    return -0.5 * D * Math.log(2 * Math.PI * variance) - ss / (2 * variance);
  });
}

/** Sample mean and standard deviation of every element of x. */
export function moments(x: Tensor): { mean: number; std: number } {
  let m = 0;
  for (const v of hostBuffer(x)) m += v;
  m /= x.size;
  let v2 = 0;
  for (const v of hostBuffer(x)) v2 += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(v2 / (x.size - 1)) };
}
