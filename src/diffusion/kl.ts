/**
 * KL divergence between two univariate normal distributions, the building block of the diffusion
 * variational bound (Ho et al. 2020 eq. 5; improved-diffusion's `normal_kl`):
 *
 *   KL(N(m1, e^lv1) || N(m2, e^lv2)) = 0.5 (lv2 - lv1 + e^(lv1 - lv2) - 1 + (m1 - m2)^2 e^-lv2)
 *
 * written with expm1: e^d - 1 - d for d = lv1 - lv2 near 0 (the posterior and a good model's
 * variance agree to many digits at large t) would otherwise lose every digit to cancellation.
 * Arguments are log-variances, as the models and tables hold them.
 */

/**
 * KL(N(mean1, exp(logVar1)) || N(mean2, exp(logVar2))) in nats, float64.
 * @example normalKl(0, 0, 1, 0) // 0.5
 */
export function normalKl(mean1: number, logVar1: number, mean2: number, logVar2: number): number {
  const d = logVar1 - logVar2;
  const dm = mean1 - mean2;
  return 0.5 * (Math.expm1(d) - d + dm * dm * Math.exp(-logVar2));
}

/** The KL's partial derivatives in the second distribution's parameters (the model's). */
export interface NormalKlGrad {
  value: number;
  /** d KL / d mean2 = (mean2 - mean1) e^-lv2. */
  dMean2: number;
  /** d KL / d logVar2 = 0.5 (1 - e^(lv1 - lv2) - (m1 - m2)^2 e^-lv2). */
  dLogVar2: number;
}

/**
 * normalKl and its derivatives in (mean2, logVar2), for the training loss's backward pass.
 * @example const { value, dMean2, dLogVar2 } = normalKlGrad(0, 0, 0.5, -1);
 */
export function normalKlGrad(mean1: number, logVar1: number, mean2: number, logVar2: number): NormalKlGrad {
  const d = logVar1 - logVar2;
  const dm = mean1 - mean2;
  const invVar2 = Math.exp(-logVar2);
  const em1 = Math.expm1(d);
  return {
    value: 0.5 * (em1 - d + dm * dm * invVar2),
    dMean2: -dm * invVar2,
    dLogVar2: 0.5 * (-em1 - dm * dm * invVar2),
  };
}
