/**
 * The variational bound (diffusion/vlb.ts, vlb_bpd.ts):
 * - learned_range interpolates log beta-tilde_t (v = -1) and log beta_t (v = 1); fixed_large uses
 *   beta-tilde_1 at t = 0;
 * - the per-term op's gradient against float64 finite differences, and stopGradMean leaves the
 *   prediction channels without gradient while the variance channels' gradient is unchanged;
 * - on Gaussian data x_0 ~ N(MU, S^2) (continuous, the 'gaussian' decoder) with the ideal model
 *   (E[x_0 | x_t] in closed form), the expected bound is computed analytically term by term: it
 *   is >= the exact NLL 0.5 ln(2 pi S^2) + 0.5, the gap shrinks as T grows for fixed_small, and with
 *   the exact reverse variance the bound is within 0.5% of the NLL; vlbBitsPerDim (exact sum and
 *   stratified estimate) agrees with the analytic expectation within its confidence interval.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { alphasCumprod, linspace } from '../../src/diffusion/schedules.js';
import { DiffusionVlb } from '../../src/diffusion/vlb.js';
import { meanCi95, vlbBitsPerDim, vlbStrata } from '../../src/diffusion/vlb_bpd.js';
import { MU, S } from '../helpers/gaussian_moments.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** The VP-SDE-like linear schedule with T steps (beta from 0.1/T to 20/T): abar_T ~ 4e-5 for every T. */
const acpFor = (T: number): Float64Array => alphasCumprod(linspace(0.1 / T, 20 / T, T));
const f64 = (data: ArrayLike<number>, shape: number[]): Tensor => tensor(Array.from(data), shape, { dtype: 'float64' });

/** Var[x_0 | x_t] and E[x_0 | x_t] = MU + k (x_t - sqrt(abar) MU) for x_0 ~ N(MU, S^2). */
function posterior0(ab: number): { k: number; v: number } {
  const den = ab * S * S + 1 - ab;
  return { k: (Math.sqrt(ab) * S * S) / den, v: (S * S * (1 - ab)) / den };
}

/** The ideal epsilon at x_t. */
function idealEps(xt: number, ab: number): number {
  const x0 = MU + posterior0(ab).k * (xt - Math.sqrt(ab) * MU);
  return (xt - Math.sqrt(ab) * x0) / Math.sqrt(1 - ab);
}

/** The exact reverse log-variance log(beta-tilde_t + coef1_t^2 Var[x_0 | x_t]) of Gaussian data. */
function exactLogVar(vlb: DiffusionVlb, t: number): number {
  return Math.log(vlb.tables.posteriorVariance[t]! + vlb.tables.posteriorMeanCoef1[t]! ** 2 * posterior0(vlb.alphasCumprod[t]!).v);
}

/** E[L_vlb] in nats/dim for the ideal mean and a model log-variance per t (analytic, term by term). */
function expectedVlb(vlb: DiffusionVlb, logVar: (t: number) => number): number {
  const T = vlb.numTimesteps;
  const abT = vlb.alphasCumprod[T - 1]!;
  let total = 0.5 * (abT * (MU * MU + S * S) - abT - Math.log1p(-abT)); // the prior term
  for (let t = 0; t < T; t++) {
    const lv2 = logVar(t);
    const err = vlb.tables.posteriorMeanCoef1[t]! ** 2 * posterior0(vlb.alphasCumprod[t]!).v; // E (mean - model mean)^2
    if (t === 0) total += 0.5 * (Math.log(2 * Math.PI) + lv2 + err / Math.exp(lv2));
    else {
      const lv1 = Math.log(vlb.tables.posteriorVariance[t]!);
      total += 0.5 * (lv2 - lv1 + Math.exp(lv1 - lv2) - 1 + err / Math.exp(lv2));
    }
  }
  return total;
}

const NLL = 0.5 * Math.log(2 * Math.PI * S * S) + 0.5;

describe('DiffusionVlb variances', () => {
  const vlb = new DiffusionVlb(acpFor(100), { predictionType: 'epsilon', varianceType: 'learned_range' });
  it('learned_range: v = -1 gives log beta-tilde_t, v = 1 log beta_t, v = 0 their mean; d/dv constant', () => {
    for (const t of [0, 1, 50, 99]) {
      const small = vlb.tables.posteriorLogVarianceClipped[t]!;
      const large = Math.log(vlb.betas[t]!);
      assert.ok(Math.abs(vlb.modelLogVariance(t, -1)[0] - small) < 1e-15);
      assert.ok(Math.abs(vlb.modelLogVariance(t, 1)[0] - large) < 1e-15);
      assert.ok(Math.abs(vlb.modelLogVariance(t, 0)[0] - (small + large) / 2) < 1e-15);
      assert.ok(Math.abs(vlb.modelLogVariance(t, 0.3)[1] - (large - small) / 2) < 1e-15);
    }
    // beta-tilde_t < beta_t for t >= 1
    assert.ok(vlb.modelLogVariance(10, -1)[0] < vlb.modelLogVariance(10, 1)[0]);
  });
  it('fixed_small clips log beta-tilde_0 to log beta-tilde_1; fixed_large uses beta-tilde_1 at t = 0 and beta_t after', () => {
    const small = new DiffusionVlb(acpFor(100), { predictionType: 'epsilon', varianceType: 'fixed_small' });
    const large = new DiffusionVlb(acpFor(100), { predictionType: 'epsilon', varianceType: 'fixed_large' });
    assert.equal(small.modelLogVariance(0)[0], Math.log(small.tables.posteriorVariance[1]!));
    assert.equal(large.modelLogVariance(0)[0], Math.log(large.tables.posteriorVariance[1]!));
    assert.equal(large.modelLogVariance(7)[0], Math.log(large.betas[7]!));
  });
  it('rejects bad shapes and timesteps with the value found', () => {
    const x = f64(new Array(8).fill(0), [2, 2, 2, 1]);
    assert.throws(() => vlb.terms(x, x, x, [0, 1]), /modelOutput.*\[2, 2, 2, 2\]|expected/);
    const out = f64(new Array(16).fill(0), [2, 2, 2, 2]);
    assert.throws(() => vlb.terms(out, x, x, [0, 100]), /timesteps\[1\] = 100 must be an integer in \[0, 100\)/);
    assert.throws(() => vlb.terms(out, x, x, [0]), /one timestep per sample \(2\)/);
    assert.throws(() => new DiffusionVlb(acpFor(10), { predictionType: 'epsilon', varianceType: 'learned_rang' as 'learned' }), /varianceType must be one of/);
  });
});

describe('DiffusionVlb.terms gradient', () => {
  const T = 50;
  const gen = new Generator(3);
  const N = 3;
  const shape = [N, 2, 3, 2]; // odd sizes, C = 2, H != W
  // 8-bit data, timesteps covering the decoder (t = 0) and the KL terms.
  const x0 = f64(Array.from(hostBuffer(gen.uniform([N * 12])), (u) => (2 * Math.floor(u * 256)) / 255 - 1), shape);
  const xt0 = f64(hostBuffer(gen.normal([N * 12])), shape);
  const ts = [0, 1, 37];
  for (const type of ['epsilon', 'v_prediction'] as const) {
    it(`learned_range (${type}): analytic gradient = finite differences; stopGradMean zeroes the prediction channels only`, () => {
      const vlb = new DiffusionVlb(acpFor(T), { predictionType: type, varianceType: 'learned_range' });
      const stop = new DiffusionVlb(acpFor(T), { predictionType: type, varianceType: 'learned_range', stopGradMean: true });
      const outData = Array.from(hostBuffer(gen.normal([N * 2 * 12])), (z) => 0.5 * z);
      const out = f64(outData, [N, 2, 3, 4]);
      out.requiresGrad = true;
      const w = [0.7, -1.3, 2.1]; // loss = sum_n w_n L_n
      const loss = (o: Tensor, v: DiffusionVlb): number => Array.from(hostBuffer(v.terms(o, x0, xt0, ts))).reduce((s, l, n) => s + w[n]! * l, 0);
      const terms = vlb.terms(out, x0, xt0, ts);
      terms.backward(f64(w, [N]));
      const g = Float64Array.from(hostBuffer(out.grad!));
      const h = 1e-6;
      for (let i = 0; i < outData.length; i++) {
        const p = [...outData];
        const m = [...outData];
        p[i]! += h;
        m[i]! -= h;
        const fd = (loss(f64(p, out.shape as number[]), vlb) - loss(f64(m, out.shape as number[]), vlb)) / (2 * h);
        assert.ok(Math.abs(g[i]! - fd) < 1e-6 * Math.max(1, Math.abs(fd)), `element ${i}: ${g[i]} vs ${fd}`);
      }
      const out2 = f64(outData, [N, 2, 3, 4]);
      out2.requiresGrad = true;
      stop.terms(out2, x0, xt0, ts).backward(f64(w, [N]));
      const g2 = hostBuffer(out2.grad!);
      for (let i = 0; i < g2.length; i++) {
        const isMean = i % 4 < 2;
        if (isMean) assert.ok(g2[i] === 0, `prediction channel ${i} got gradient ${g2[i]}`);
        else assert.equal(g2[i], g[i], `variance channel ${i}`);
      }
      // The values do not depend on stopGradMean.
      assert.deepEqual(Array.from(hostBuffer(stop.terms(out2, x0, xt0, ts))), Array.from(hostBuffer(terms)));
    });
  }
});

describe('the bound on Gaussian data (ideal model)', () => {
  it('analytic: E[VLB] >= NLL, the fixed_small gap shrinks with T, and the exact reverse variance closes it to < 0.5%', () => {
    let lastGap = Infinity;
    for (const T of [50, 200, 1000]) {
      const vlb = new DiffusionVlb(acpFor(T), { predictionType: 'epsilon', varianceType: 'fixed_small', decoder: 'gaussian' });
      const small = expectedVlb(vlb, (t) => vlb.modelLogVariance(t)[0]);
      const large = expectedVlb(vlb, (t) => new DiffusionVlb(acpFor(T), { predictionType: 'epsilon', varianceType: 'fixed_large' }).modelLogVariance(t)[0]);
      const exact = expectedVlb(vlb, (t) => exactLogVar(vlb, t));
      assert.ok(small >= NLL && large >= NLL && exact >= NLL - 1e-12, `T ${T}: ${small} ${large} ${exact} vs NLL ${NLL}`);
      assert.ok(small - NLL < lastGap, `T ${T}: gap ${small - NLL} did not shrink from ${lastGap}`);
      lastGap = small - NLL;
      if (T === 1000) assert.ok((exact - NLL) / NLL < 0.005, `exact-variance gap ${(exact - NLL) / NLL}`);
    }
  });

  for (const K of ['all', 20] as const) {
    it(`vlbBitsPerDim (${K === 'all' ? 'exact sum' : `stratified, K = ${K}`}) matches the analytic expectation within its CI, and bounds the NLL`, () => {
      const T = 200;
      const vlb = new DiffusionVlb(acpFor(T), { predictionType: 'epsilon', varianceType: 'learned', decoder: 'gaussian' });
      const gen = new Generator(11);
      const N = 32;
      const x0 = f64(Array.from(hostBuffer(gen.normal([N * 64])), (z) => MU + S * z), [N, 8, 8, 1]);
      const model = (xt: Tensor, t: Float64Array): Tensor => {
        const per = xt.size / t.length;
        const out = new Float64Array(2 * xt.size);
        for (let i = 0; i < xt.size; i++) {
          const n = Math.floor(i / per);
          out[2 * i] = idealEps(hostBuffer(xt)[i]!, vlb.alphasCumprod[t[n]!]!);
          out[2 * i + 1] = Math.exp(exactLogVar(vlb, t[n]!)); // 'learned': the variance itself
        }
        return f64(out, [...xt.shape.slice(0, 3), 2]);
      };
      const r = vlbBitsPerDim(model, vlb, x0, { generator: gen, timestepsPerImage: K, batchSize: 7 });
      const want = expectedVlb(vlb, (t) => exactLogVar(vlb, t)) / Math.LN2;
      assert.equal(r.modelCalls, Math.ceil(N / 7) * (K === 'all' ? T : K));
      assert.ok(Math.abs(r.mean - want) < 1.5 * r.ci95, `${r.mean} ± ${r.ci95} vs analytic ${want}`);
      // Paired with each image's own exact NLL, the bound is not below it (beyond its noise).
      const gaps = Array.from(r.bpd, (b, n) => {
        let nll = 0;
        for (let i = n * 64; i < (n + 1) * 64; i++) nll += 0.5 * Math.log(2 * Math.PI * S * S) + (hostBuffer(x0)[i]! - MU) ** 2 / (2 * S * S);
        return b - nll / (64 * Math.LN2);
      });
      const g = meanCi95(gaps);
      assert.ok(g.mean >= -g.ci95, `bound - NLL = ${g.mean} ± ${g.ci95}`);
      assert.ok(r.ci95 < 0.35 * want && g.ci95 < 0.35 * want, `CIs ${r.ci95}, ${g.ci95} too wide for a useful check (value ${want})`);
    });
  }

  it('strata: t = 0 alone, then K - 1 contiguous pieces covering 1..T-1, widening geometrically; K = T is every t', () => {
    assert.deepEqual(vlbStrata(1000, 4), [{ start: 0, end: 1 }, { start: 1, end: 10 }, { start: 10, end: 100 }, { start: 100, end: 1000 }]);
    for (const [T, K] of [[1000, 50], [1000, 999], [37, 5], [200, 20]]) {
      const st = vlbStrata(T!, K!);
      assert.equal(st.length, K);
      st.forEach((x, j) => {
        assert.ok(x.end > x.start);
        if (j > 0) assert.equal(x.start, st[j - 1]!.end);
      });
      assert.equal(st[K! - 1]!.end, T);
    }
    assert.deepEqual(vlbStrata(5, 5).map((s) => s.end - s.start), [1, 1, 1, 1, 1]);
    assert.throws(() => vlbStrata(10, 1), /integer in \[2, T = 10\], found 1/);
    assert.throws(() => vlbStrata(10, 11), /found 11/);
  });
});
