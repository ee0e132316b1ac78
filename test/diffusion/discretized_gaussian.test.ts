/**
 * The 8-bit decoder likelihood and the float64 erf behind it: erf/erfc/log erfc against a
 * 160-digit BigInt oracle, both normal-CDF tails, the 256 bin probabilities summing to 1, each bin
 * against a direct erf difference, and the derivatives against finite differences.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { erf, erfc, logErfc, logNormalCdf, logNormalInterval, discretizedGaussianLogLikelihood, eightBitValues, HALF_BIN } from '../../src/diffusion/discretized_gaussian.js';
import { erfHp, erfcHp, normalIntervalHp } from '../helpers/high_precision_erf.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

describe('erf / erfc', () => {
  it('match a 160-digit reference to ~1e-14 relative (erf on [-4, 4], erfc on [-4, 10])', () => {
    for (let k = -256; k <= 256; k += 3) {
      const x = k / 64;
      assert.ok(rel(erf(x), erfHp(x)) < 2e-15 || Math.abs(erf(x) - erfHp(x)) < 1e-300, `erf(${x}) = ${erf(x)} vs ${erfHp(x)}`);
    }
    for (let k = -256; k <= 640; k += 5) {
      const x = k / 64;
      const want = erfcHp(x);
      assert.ok(rel(erfc(x), want) < 5e-14, `erfc(${x}) = ${erfc(x)} vs ${want}`);
      assert.ok(Math.abs(logErfc(x) - Math.log(want)) < 5e-14 * Math.max(1, Math.abs(Math.log(want))), `logErfc(${x})`);
    }
  });

  it('log erfc stays finite and follows the asymptotic series far in the tail', () => {
    for (const x of [20, 30, 100]) {
      // erfc(x) = e^{-x^2} / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6) + ...)
      const s = 1 - 1 / (2 * x * x) + 3 / (4 * x ** 4) - 15 / (8 * x ** 6) + 105 / (16 * x ** 8);
      const want = -x * x - Math.log(x * Math.sqrt(Math.PI)) + Math.log(s);
      assert.ok(Math.abs(logErfc(x) - want) < 1e-12 * Math.abs(want), `logErfc(${x}) = ${logErfc(x)} vs ${want}`);
    }
    assert.ok(Math.abs(logNormalCdf(-40) - logErfc(40 / Math.SQRT2) + Math.LN2) < 1e-12);
    assert.equal(logNormalCdf(Infinity), 0);
    assert.equal(logNormalCdf(-Infinity), -Infinity);
    assert.ok(Number.isNaN(erf(NaN)) && Number.isNaN(logErfc(NaN)));
  });

  it('logNormalInterval: log(Phi(hi) - Phi(lo)) in every case, without cancellation', () => {
    // Bounds z = k sqrt(2) / 64 keep the oracle's arguments z / sqrt(2) exact multiples of 1/64.
    for (const [a, b] of [[-64, 64], [32, 96], [-192, -128], [256, 384], [-512, -480], [-16, 8]]) {
      const [lo, hi] = [(a! * Math.SQRT2) / 64, (b! * Math.SQRT2) / 64];
      const want = Math.log(normalIntervalHp(a!, b!));
      assert.ok(Math.abs(logNormalInterval(lo, hi) - want) < 1e-12 * Math.max(1, Math.abs(want)), `[${lo}, ${hi}]: ${logNormalInterval(lo, hi)} vs ${want}`);
    }
    // Far tails: Phi(-20) - Phi(-20.5) is ~1e-89; the tail-ratio form gets it from log Phi alone.
    const a = logNormalCdf(-20);
    const b = logNormalCdf(-20.5);
    assert.ok(Math.abs(logNormalInterval(-20.5, -20) - (a + Math.log(1 - Math.exp(b - a)))) < 1e-12 * Math.abs(a));
    assert.equal(logNormalInterval(1, 1), -Infinity);
  });
});

describe('discretizedGaussianLogLikelihood', () => {
  const xs = eightBitValues();

  it('the 256 bin probabilities sum to 1 for any mean and variance', () => {
    for (const mean of [-1.3, -1, -0.2, 0, 0.77, 1, 2]) {
      for (const lv of [Math.log(1e-8), Math.log(1e-4), Math.log(0.01), 0, Math.log(9)]) {
        let s = 0;
        for (const x of xs) s += Math.exp(discretizedGaussianLogLikelihood(x, mean, lv).value);
        assert.ok(Math.abs(s - 1) < 1e-12, `mean ${mean} logvar ${lv}: sum ${s}`);
      }
    }
  });

  it('each bin equals a direct erf computation', () => {
    // The bin mass computed the obvious way, (erf(hi / sqrt 2) - erf(lo / sqrt 2)) / 2, with the erf
    // checked above: fine at these moderate arguments, where it has no cancellation to lose digits to.
    const std = 0.5;
    const lv = Math.log(std * std);
    for (const mean of [-0.5, 0, 0.25]) {
      // Edge bin: P(x = -1) = Phi((-1 + 1/255 - mean) / std), the whole lower tail.
      const zLo = (-1 + HALF_BIN - mean) / std;
      const wantEdge = 0.5 * (1 + erf(zLo / Math.SQRT2));
      assert.ok(rel(Math.exp(discretizedGaussianLogLikelihood(-1, mean, lv).value), wantEdge) < 1e-13);
      for (const k of [3, 100, 128, 200, 254]) {
        const x = xs[k]!;
        const hi = (x + HALF_BIN - mean) / std / Math.SQRT2;
        const lo = (x - HALF_BIN - mean) / std / Math.SQRT2;
        const want = 0.5 * (erf(hi) - erf(lo));
        assert.ok(rel(Math.exp(discretizedGaussianLogLikelihood(x, mean, lv).value), want) < 1e-10, `bin ${k}`);
      }
    }
  });

  it('a sharp model at the right pixel gives ~1 (0 bits); far in the tail it stays finite', () => {
    const lv = Math.log(1e-8); // std 1e-4: the bin's half-width is 39 std
    assert.ok(discretizedGaussianLogLikelihood(xs[100]!, xs[100]!, lv).value > -1e-12);
    const far = discretizedGaussianLogLikelihood(xs[10]!, xs[200]!, lv).value; // ~1500 std away
    assert.ok(Number.isFinite(far) && far < -1e5, `far ${far}`);
  });

  it('derivatives in mean and log-variance match central finite differences (interior and edge bins)', () => {
    const h = 1e-6;
    for (const [x, mean, lv] of [[xs[0]!, -0.98, Math.log(1e-3)], [xs[255]!, 0.99, Math.log(4e-4)], [xs[90]!, xs[90]! + 0.003, Math.log(1e-4)], [xs[128]!, 0.2, 0]]) {
      const g = discretizedGaussianLogLikelihood(x!, mean!, lv!);
      const f = (m: number, v: number): number => discretizedGaussianLogLikelihood(x!, m, v).value;
      const fdM = (f(mean! + h, lv!) - f(mean! - h, lv!)) / (2 * h);
      const fdV = (f(mean!, lv! + h) - f(mean!, lv! - h)) / (2 * h);
      assert.ok(Math.abs(g.dMean - fdM) < 1e-5 * Math.max(1, Math.abs(fdM)), `dMean ${g.dMean} vs ${fdM}`);
      assert.ok(Math.abs(g.dLogVariance - fdV) < 1e-5 * Math.max(1, Math.abs(fdV)), `dLogVariance ${g.dLogVariance} vs ${fdV}`);
    }
  });
});
