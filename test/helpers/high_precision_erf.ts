/**
 * A 160-digit erfc oracle in BigInt fixed point for the float64 erf/erfc of diffusion/discretized_gaussian.ts:
 * pi by Machin's formula, sqrt(pi) by Newton's method, and the Taylor series
 * erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)) carried with enough guard digits that its
 * cancellation (terms up to ~1e43 at x = 10) leaves erfc(10) = 2e-45 exact to ~70 digits.
 * Arguments must be multiples of 1/64 (exact in both float64 and the fixed point).
 */
const DIGITS = 160n;
const ONE = 10n ** DIGITS;

function arctanInv(k: bigint): bigint {
  // arctan(1/k) = sum (-1)^n / ((2n+1) k^(2n+1))
  let power = ONE / k;
  let sum = 0n;
  const k2 = k * k;
  for (let n = 0n; power !== 0n; n++) {
    sum += (n % 2n === 0n ? 1n : -1n) * (power / (2n * n + 1n));
    power /= k2;
  }
  return sum;
}

function sqrtFixed(a: bigint): bigint {
  // sqrt of a (fixed point) = isqrt(a * ONE)
  const v = a * ONE;
  let x = BigInt(Math.floor(Math.sqrt(Number(v / 10n ** (2n * DIGITS - 20n))))) * 10n ** (DIGITS - 10n);
  for (let i = 0; i < 200; i++) {
    const next = (x + v / x) / 2n;
    if (next === x || next === x + 1n || next === x - 1n) return next;
    x = next;
  }
  return x;
}

const PI = 16n * arctanInv(5n) - 4n * arctanInv(239n);
const SQRT_PI = sqrtFixed(PI);

function checkArg(x: number): bigint {
  if (!Number.isInteger(x * 64)) throw new Error(`high-precision erf: ${x} is not a multiple of 1/64`);
  return (BigInt(x * 64) * ONE) / 64n;
}

/** 1 - erf(x) as a fixed-point BigInt (ONE = 1). */
function erfcFixed(x: number): bigint {
  const X = checkArg(x);
  const X2 = (X * X) / ONE;
  let term = X; // (-1)^n x^(2n+1) / n!
  let sum = 0n;
  for (let n = 0n; term !== 0n; n++) {
    sum += term / (2n * n + 1n);
    term = (-term * X2) / ONE / (n + 1n);
  }
  return ONE - (2n * sum * ONE) / SQRT_PI;
}

/** A fixed-point value as the nearest float64 (JS parses decimal strings with correct rounding). */
function toNumber(f: bigint): number {
  return Number(`${f}e-${DIGITS}`);
}

/** erfc(x) to float64 precision (x a multiple of 1/64, |x| <= 10). */
export function erfcHp(x: number): number {
  return toNumber(erfcFixed(x));
}

/** erf(x) to float64 precision (x a multiple of 1/64, |x| <= 10). */
export function erfHp(x: number): number {
  return toNumber(ONE - erfcFixed(x));
}

/** Phi(b sqrt(2) / 64) - Phi(a sqrt(2) / 64) for integers a < b, to float64 precision (the difference taken in BigInt). */
export function normalIntervalHp(a: number, b: number): number {
  // Phi(k sqrt(2) / 64) = erfc(-k / 64) / 2
  return toNumber((erfcFixed(-b / 64) - erfcFixed(-a / 64)) / 2n);
}
