/**
 * The decoder of the diffusion variational bound for 8-bit images (Ho et al. 2020, sec. 3.3,
 * eq. 13): p(x_0 | x_1) = prod_i integral over the bin of x_0^i of N(x; mu^i, sigma^2), with the
 * 256 pixel values mapped to x = 2k/255 - 1 on [-1, 1], bins of width 2/255 centred on them, and
 * the two edge bins extended to -inf and +inf so the 256 probabilities sum to 1.
 *
 * improved-diffusion evaluates the normal CDF with a tanh approximation (error ~1e-4) and clamps
 * the bin probability at 1e-12. Here the CDF is exact to float64 precision in log space, so a
 * bin far in the tail (e.g. a confident model's wrong pixel) costs its true number of bits, not a
 * clamped 40: erf/erfc below are a positive-term series for |x| < 1 and Lentz's continued fraction
 * for erfc beyond, evaluated in log space (log erfc) so no exp underflows. Tested against a
 * 100-digit erf.
 */

/** Half the width of one 8-bit bin on [-1, 1]: 1/255. */
export const HALF_BIN = 1 / 255;
/** Values below this are in the first bin (x = -1), above its negative in the last (x = 1). */
const EDGE = 1 - HALF_BIN / 2;
const SQRT_PI = Math.sqrt(Math.PI);
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
/** Below this |x| the series for erf is used, above it the continued fraction for erfc. */
const SERIES_LIMIT = 1;

/** erf(x) for |x| < 1 (converges for all x): 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (2n+1)!! (all terms of one sign). */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 0; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 3);
    sum += term;
    if (Math.abs(term) <= Math.abs(sum) * 1e-17) break;
  }
  return (2 / SQRT_PI) * Math.exp(-x2) * sum;
}

/**
 * log(sqrt(pi) e^{x^2} erfc(x)) for x >= 1 (fewer than ~500 terms to float64 precision there), from erfc(x) = e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x +
 * (3/2)/(x + ...)))) evaluated by the modified Lentz method.
 */
function logScaledErfcCf(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 1000; k++) {
    const a = k / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -Math.log(f);
}

/**
 * The error function, float64 (relative error ~1e-15).
 * @example erf(0.5) // 0.5204998778130465
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < SERIES_LIMIT) return erfSeries(x);
  const r = 1 - Math.exp(-x * x - LOG_SQRT_PI + logScaledErfcCf(Math.abs(x)));
  return x > 0 ? r : -r;
}

/**
 * log erfc(x), float64, finite for every finite x (erfc(30) = 2.6e-393 underflows; its log does not).
 * @example logErfc(30) // -903.0292...
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= SERIES_LIMIT) return -x * x - LOG_SQRT_PI + logScaledErfcCf(x);
  return Math.log(1 - (x > -SERIES_LIMIT ? erfSeries(x) : erf(x)));
}

/**
 * erfc(x) = 1 - erf(x) without the cancellation for large x.
 * @example erfc(3) // 2.209049699858544e-5
 */
export function erfc(x: number): number {
  return Math.exp(logErfc(x));
}

/**
 * log Phi(x), the log of the standard normal CDF, accurate in both tails.
 * @example logNormalCdf(-40) // -804.6084...
 */
export function logNormalCdf(x: number): number {
  if (x === Infinity) return 0;
  if (x === -Infinity) return -Infinity;
  return logErfc(-x / Math.SQRT2) - Math.LN2;
}

/** log phi(x), the log of the standard normal density. */
function logNormalPdf(x: number): number {
  return -0.5 * x * x - LOG_SQRT_2PI;
}

/** log(1 - e^a) for a < 0 (Maechler's log1mexp). */
function log1mexp(a: number): number {
  return a > -Math.LN2 ? Math.log(-Math.expm1(a)) : Math.log1p(-Math.exp(a));
}

/**
 * log(Phi(hi) - Phi(lo)) for lo < hi (either may be infinite), without cancellation: both bounds
 * in one tail use the ratio of tail masses, bounds on both sides of 0 add two erf's of one sign.
 */
export function logNormalInterval(lo: number, hi: number): number {
  if (!(hi > lo)) return -Infinity;
  if (hi === Infinity) return logNormalCdf(-lo);
  if (lo === -Infinity) return logNormalCdf(hi);
  if (lo >= 0) {
    const a = logNormalCdf(-lo);
    return a + log1mexp(logNormalCdf(-hi) - a);
  }
  if (hi <= 0) {
    const a = logNormalCdf(hi);
    return a + log1mexp(logNormalCdf(lo) - a);
  }
  return Math.log(0.5 * (erf(hi / Math.SQRT2) + erf(-lo / Math.SQRT2)));
}

/** The decoder's log-likelihood of one pixel and its derivatives in the model's mean and log-variance. */
export interface DiscretizedLogLikelihood {
  /** log p(x | mean, exp(logVariance)) in nats: the mass of x's bin. */
  value: number;
  dMean: number;
  dLogVariance: number;
}

/**
 * The log-probability of the 8-bit bin of `x` (a value 2k/255 - 1 in [-1, 1]) under N(mean,
 * exp(logVariance)), with the first and last bins extended to -inf and +inf.
 * @example discretizedGaussianLogLikelihood(-1, -1, Math.log(1e-4)).value // log Phi((1/255)/0.01)
 */
export function discretizedGaussianLogLikelihood(x: number, mean: number, logVariance: number): DiscretizedLogLikelihood {
  const invStd = Math.exp(-0.5 * logVariance);
  const c = x - mean;
  const hi = x > EDGE ? Infinity : invStd * (c + HALF_BIN);
  const lo = x < -EDGE ? -Infinity : invStd * (c - HALF_BIN);
  const value = logNormalInterval(lo, hi);
  // d log P / d z = +-phi(z) / P at each finite bound; z = invStd (c +- h) so dz/dmean = -invStd
  // and dz/dlogVariance = -z / 2.
  const rHi = Number.isFinite(hi) ? Math.exp(logNormalPdf(hi) - value) : 0;
  const rLo = Number.isFinite(lo) ? Math.exp(logNormalPdf(lo) - value) : 0;
  const zrHi = Number.isFinite(hi) ? hi * rHi : 0;
  const zrLo = Number.isFinite(lo) ? lo * rLo : 0;
  return { value, dMean: -invStd * (rHi - rLo), dLogVariance: -0.5 * (zrHi - zrLo) };
}

/** The 256 values 2k/255 - 1 of 8-bit data on [-1, 1]. */
export function eightBitValues(): Float64Array {
  return Float64Array.from({ length: 256 }, (_, k) => (2 * k) / 255 - 1);
}
