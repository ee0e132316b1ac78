/**
 * normalKl: closed forms, a Monte-Carlo estimate of E_q[log q - log p], the expm1 form's precision
 * when the two variances nearly agree, and its derivatives against central finite differences.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalKl, normalKlGrad } from '../../src/diffusion/kl.js';
import { Generator } from '../../src/tensor/random.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const logN = (x: number, m: number, lv: number): number => -0.5 * (Math.log(2 * Math.PI) + lv + ((x - m) ** 2) / Math.exp(lv));

describe('normalKl', () => {
  it('matches closed forms', () => {
    assert.equal(normalKl(0, 0, 0, 0), 0);
    assert.ok(Math.abs(normalKl(0, 0, 1, 0) - 0.5) < 1e-15); // (m1 - m2)^2 / 2
    for (const s2 of [0.01, 0.5, 2, 40]) {
      // KL(N(0, s2) || N(0, 1)) = (s2 - 1 - ln s2) / 2
      const want = 0.5 * (s2 - 1 - Math.log(s2));
      assert.ok(Math.abs(normalKl(0, Math.log(s2), 0, 0) - want) < 1e-14 * Math.max(1, want), `s2 ${s2}`);
    }
    // KL(N(1, 2) || N(-1, 0.5)) = 0.5 (ln(0.5/2) + 2/0.5 + 4/0.5 - 1)
    assert.ok(Math.abs(normalKl(1, Math.log(2), -1, Math.log(0.5)) - 0.5 * (Math.log(0.25) + 4 + 8 - 1)) < 1e-14);
  });

  it('agrees with a Monte-Carlo estimate of E_q[log q(x) - log p(x)]', () => {
    const [m1, lv1, m2, lv2] = [0.3, Math.log(0.7), -0.2, Math.log(1.3)];
    const n = 200_000;
    const z = hostBuffer(new Generator(7).normal([n]));
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = m1 + Math.exp(0.5 * lv1) * z[i]!;
      const d = logN(x, m1, lv1) - logN(x, m2, lv2);
      s += d;
      s2 += d * d;
    }
    const mean = s / n;
    const se = Math.sqrt((s2 / n - mean * mean) / n);
    assert.ok(Math.abs(mean - normalKl(m1, lv1, m2, lv2)) < 4 * se, `MC ${mean} ± ${se} vs ${normalKl(m1, lv1, m2, lv2)}`);
  });

  it('keeps its digits when the variances nearly agree (expm1 form)', () => {
    // lv1 - lv2 = d: KL = (e^d - 1 - d) / 2 = d^2 / 4 + d^3 / 12 + ...; the naive form returns 0 or noise.
    for (const d of [1e-4, 1e-7, 1e-10]) {
      const kl = normalKl(0, -3 + d, 0, -3);
      const want = (d * d) / 4 + (d * d * d) / 12;
      assert.ok(Math.abs(kl - want) < 1e-6 * want, `d ${d}: ${kl} vs ${want}`);
    }
  });

  it('derivatives match central finite differences', () => {
    for (const [m1, lv1, m2, lv2] of [[0.1, -2, 0.4, -1.5], [-1, 0.3, 0.2, 1.1], [0.5, -7, 0.5, -6.9]] as const) {
      const g = normalKlGrad(m1, lv1, m2, lv2);
      assert.equal(g.value, normalKl(m1, lv1, m2, lv2));
      const h = 1e-6;
      const fdM = (normalKl(m1, lv1, m2 + h, lv2) - normalKl(m1, lv1, m2 - h, lv2)) / (2 * h);
      const fdV = (normalKl(m1, lv1, m2, lv2 + h) - normalKl(m1, lv1, m2, lv2 - h)) / (2 * h);
      assert.ok(Math.abs(g.dMean2 - fdM) < 1e-6 * Math.max(1, Math.abs(fdM)), `dMean2 ${g.dMean2} vs ${fdM}`);
      assert.ok(Math.abs(g.dLogVar2 - fdV) < 1e-6 * Math.max(1, Math.abs(fdV)), `dLogVar2 ${g.dLogVar2} vs ${fdV}`);
    }
  });
});
