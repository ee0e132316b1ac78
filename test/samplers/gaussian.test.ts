/**
 * The analytic oracle for every sampler (STYLE.md, Tests): for data x_0 ~ N(mu, s^2) per pixel the
 * ideal denoiser is D(x, sigma) = (s^2 x + sigma^2 mu) / (s^2 + sigma^2), and the probability-flow
 * ODE carries x_T ~ N(mu, s^2 + sigma_max^2) exactly onto the data. With this denoiser every
 * sampler step is affine in x and in the noise it draws, x' = a x + b + c z, so the final mean and
 * variance are computed exactly (no Monte Carlo error) by running the sampler on the two lanes
 * x = 0 and x = 1 with a scripted noise source: zeros gives (a, b), a unit draw at call k gives
 * c_k; var = a^2 (s^2 + sigma_max^2) + sum_k c_k^2. Checked: every sampler recovers the data's
 * mean and variance, the error falls with the step count at the sampler's order (log-log slope
 * over 16..128 karras steps), and a seeded Monte Carlo run agrees with the exact moments.
 * Also: determinism for a seed, the callback and abort options, churn, errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { SAMPLERS, karrasSigmas, dpmAdaptive, euler, type SamplerName, type Denoiser, type AdaptiveInfo } from '../../src/samplers/index.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const MU = 0.5;
const S = 1;
const SIGMA_MIN = 0.002;
const SIGMA_MAX = 80;

/** The ideal denoiser for N(MU, S^2) data. */
const ideal: Denoiser = (x, sigma) => new Tensor(hostBuffer(x).map((v) => (S * S * v + sigma * sigma * MU) / (S * S + sigma * sigma)), x.shape);

const FIXED_STEP = (Object.keys(SAMPLERS) as SamplerName[]).filter((n) => n !== 'dpm_adaptive');

/** Exact final mean and variance of `name` over `sigmas`, starting from N(MU, S^2 + sigma_0^2). */
function exactMoments(name: SamplerName, sigmas: Float64Array, extra: object = {}): { mean: number; variance: number; draws: number } {
  let draws = 0;
  let unitAt = -1;
  const noise = (shape: readonly number[]) => {
    const k = draws++;
    return new Tensor(new Float64Array(shape.reduce((a, b) => a * b, 1)).fill(k === unitAt ? 1 : 0), shape);
  };
  const run = () => {
    draws = 0;
    return hostBuffer(SAMPLERS[name].sample(ideal, tensor([0, 1], [2], { dtype: 'float64' }), sigmas, { noise, ...extra }));
  };
  const base = run();
  const b = base[0]!;
  const a = base[1]! - base[0]!;
  const total = draws;
  let noiseVar = 0;
  for (let k = 0; k < total; k++) {
    unitAt = k;
    const f = run();
    noiseVar += (f[0]! - b) ** 2;
  }
  return { mean: a * MU + b, variance: a * a * (S * S + sigmas[0]! ** 2) + noiseVar, draws: total };
}

/** |mean - mu| + |var - s^2| of a run with n karras steps. */
function momentError(name: SamplerName, n: number, extra: object = {}): number {
  const m = exactMoments(name, karrasSigmas(n, SIGMA_MIN, SIGMA_MAX), extra);
  return Math.abs(m.mean - MU) + Math.abs(m.variance - S * S);
}

/** Least-squares slope of log(error) against log(steps), negated: the observed order. */
function observedOrder(steps: readonly number[], errors: readonly number[]): number {
  const lx = steps.map(Math.log);
  const ly = errors.map(Math.log);
  const mx = lx.reduce((a, b) => a + b) / lx.length;
  const my = ly.reduce((a, b) => a + b) / ly.length;
  let num = 0;
  let den = 0;
  lx.forEach((x, i) => {
    num += (x - mx) * (ly[i]! - my);
    den += (x - mx) ** 2;
  });
  return -num / den;
}

/**
 * Observed orders over 16, 32, 64, 128 karras steps (rho 7, sigma 0.002..80), measured:
 * euler 0.96, euler_ancestral 0.84, heun 2.12, dpm_2 2.11, dpm_2_ancestral 2.14, lms 3.44,
 * dpmpp_2s_ancestral 1.85, dpmpp_2m 2.18, dpmpp_2m_sde 2.09, dpmpp_3m_sde 1.49 (an SDE: its noise
 * term limits the weak order; with eta = 0 it falls from 3 towards 2 at many steps, the first,
 * lower-order steps at large h dominating).
 */
const ORDER_RANGES: Record<Exclude<SamplerName, 'dpm_adaptive'>, readonly [number, number]> = {
  euler: [0.85, 1.15],
  euler_ancestral: [0.7, 1.15],
  heun: [1.8, 2.4],
  dpm_2: [1.8, 2.4],
  dpm_2_ancestral: [1.8, 2.4],
  lms: [3, 4.2],
  dpmpp_2s_ancestral: [1.6, 2.4],
  dpmpp_2m: [1.8, 2.4],
  dpmpp_2m_sde: [1.8, 2.4],
  dpmpp_3m_sde: [1.3, 2.4],
};

describe('samplers on Gaussian data (exact moments)', () => {
  for (const name of FIXED_STEP) {
    it(`${name} recovers the data mean and variance (200 karras steps)`, () => {
      const m = exactMoments(name, karrasSigmas(200, SIGMA_MIN, SIGMA_MAX));
      assert.ok(Math.abs(m.mean - MU) < 1e-9, `${name}: mean ${m.mean}, expected ${MU}`);
      // First-order samplers are within 6% at 200 steps (euler 2%, euler_ancestral 5%), the others 1%.
      const tol = SAMPLERS[name].order === 1 ? 0.06 : 0.01;
      assert.ok(Math.abs(m.variance - S * S) < tol * S * S, `${name}: variance ${m.variance}, expected ${S * S} within ${tol}`);
      assert.equal(m.draws > 0, SAMPLERS[name].stochastic, `${name}: draws noise ${m.draws} times; registry says stochastic = ${SAMPLERS[name].stochastic}`);
    });

    it(`${name}: error falls at the sampler's order`, () => {
      const steps = [16, 32, 64, 128];
      const errors = steps.map((n) => momentError(name, n));
      for (let k = 1; k < errors.length; k++) assert.ok(errors[k]! < errors[k - 1]!, `${name}: errors ${errors.join(', ')} must fall`);
      const order = observedOrder(steps, errors);
      const [lo, hi] = ORDER_RANGES[name as keyof typeof ORDER_RANGES];
      assert.ok(order >= lo && order <= hi, `${name}: observed order ${order.toFixed(2)} outside [${lo}, ${hi}] (errors ${errors.map((e) => e.toExponential(2)).join(', ')})`);
    });
  }

  it('dpmpp_2m_sde heun variant and eta = 0 (the ODE: equals dpmpp_2m)', () => {
    const steps = [16, 32, 64, 128];
    const heunOrder = observedOrder(steps, steps.map((n) => momentError('dpmpp_2m_sde', n, { solverType: 'heun' })));
    assert.ok(heunOrder > 1.3, `heun variant order ${heunOrder}`);
    const sig = karrasSigmas(20, SIGMA_MIN, SIGMA_MAX);
    const x = tensor([0.3, -2, 5], [3], { dtype: 'float64' });
    const a = SAMPLERS.dpmpp_2m_sde.sample(ideal, x, sig, { eta: 0 } as object);
    const b = SAMPLERS.dpmpp_2m.sample(ideal, x, sig);
    hostBuffer(a).forEach((v, i) => assert.ok(Math.abs(v - hostBuffer(b)[i]!) < 1e-12, `lane ${i}: ${v} vs ${hostBuffer(b)[i]}`));
  });

  it('ancestral samplers with eta = 0 are their ODE twins', () => {
    const sig = karrasSigmas(12, SIGMA_MIN, SIGMA_MAX);
    const x = tensor([0.3, -2, 5], [3], { dtype: 'float64' });
    const pairs: [SamplerName, SamplerName][] = [['euler_ancestral', 'euler'], ['dpm_2_ancestral', 'dpm_2']];
    for (const [anc, ode] of pairs) {
      const a = SAMPLERS[anc].sample(ideal, x, sig, { eta: 0 } as object);
      const b = SAMPLERS[ode].sample(ideal, x, sig);
      hostBuffer(a).forEach((v, i) => assert.ok(Math.abs(v - hostBuffer(b)[i]!) < 1e-12, `${anc} vs ${ode} lane ${i}: ${v} vs ${hostBuffer(b)[i]}`));
    }
  });

  it('euler and heun with churn (EDM Alg. 2) still recover the variance', () => {
    // Churn raises sigma by gamma = S_churn / N per step, so Euler's steps stay long; its error
    // still falls with N. Heun corrects it (EDM's choice).
    const churned = { sChurn: 10, sTmin: 0.05, sTmax: 50 };
    const e200 = exactMoments('euler', karrasSigmas(200, SIGMA_MIN, SIGMA_MAX), churned);
    const e400 = exactMoments('euler', karrasSigmas(400, SIGMA_MIN, SIGMA_MAX), churned);
    assert.ok(e200.draws > 0);
    assert.ok(Math.abs(e400.variance - 1) < Math.abs(e200.variance - 1), `euler+churn: ${e200.variance} (200 steps), ${e400.variance} (400)`);
    assert.ok(Math.abs(e400.variance - 1) < 0.06, `euler+churn variance ${e400.variance}`);
    const h = exactMoments('heun', karrasSigmas(100, SIGMA_MIN, SIGMA_MAX), churned);
    assert.ok(Math.abs(h.variance - 1) < 0.02, `heun with churn: variance ${h.variance}`);
  });

  it('lms coefficients integrate the Lagrange basis exactly (order 1 is Euler)', () => {
    const sig = karrasSigmas(10, SIGMA_MIN, SIGMA_MAX);
    const x = tensor([0.3, -2], [2], { dtype: 'float64' });
    const a = SAMPLERS.lms.sample(ideal, x, sig, { order: 1 } as object);
    const b = euler(ideal, x, sig);
    hostBuffer(a).forEach((v, i) => assert.ok(Math.abs(v - hostBuffer(b)[i]!) < 1e-12));
  });
});

describe('dpm_adaptive', () => {
  const run = (rtol: number) => {
    let info: AdaptiveInfo | null = null;
    // Lanes of the sizes x_T has (sigma_max = 80): the error control is relative to them.
    const x = tensor([0, 80, -80, 1], [4], { dtype: 'float64' });
    const out = dpmAdaptive(ideal, x, [SIGMA_MAX, SIGMA_MIN, 0], { rtol, atol: rtol / 10, onInfo: (i) => (info = i) });
    const a = (hostBuffer(out)[1]! - hostBuffer(out)[0]!) / 80;
    const b = hostBuffer(out)[0]!;
    return { mean: a * MU + b, variance: a * a * (S * S + SIGMA_MAX ** 2), info: info! };
  };

  it('recovers the moments; tighter tolerances cost more evaluations and err less; reports nfe', () => {
    // Measured: rtol 0.05 -> variance 1.104 (28 evaluations), 1e-3 -> 1.0072 (55), 1e-4 -> 1.0004 (97).
    const runs = [run(0.05), run(1e-3), run(1e-4)];
    const errs = runs.map((r) => Math.abs(r.variance - 1));
    for (const r of runs) assert.ok(Math.abs(r.mean - MU) < 1e-9);
    assert.ok(errs[0]! < 0.15 && errs[1]! < 0.01 && errs[2]! < 1e-3, `variance errors ${errs.join(', ')}`);
    assert.ok(runs[0]!.info.nfe < runs[1]!.info.nfe && runs[1]!.info.nfe < runs[2]!.info.nfe, `nfe ${runs.map((r) => r.info.nfe).join(', ')}`);
    for (const r of runs) {
      assert.equal(r.info.steps, r.info.nAccept + r.info.nReject);
      assert.equal(r.info.nfe, 3 * r.info.steps + 1, 'order 3: three evaluations per trial step, plus the final denoise');
    }
  });

  it('counts its evaluations exactly', () => {
    let calls = 0;
    let info: AdaptiveInfo | null = null;
    const counting: Denoiser = (x, s) => (calls++, ideal(x, s));
    dpmAdaptive(counting, tensor([0, 1], [2], { dtype: 'float64' }), [SIGMA_MAX, SIGMA_MIN], { order: 2, onInfo: (i) => (info = i) });
    assert.equal(info!.nfe, calls);
    assert.equal(calls, 2 * info!.steps, 'order 2, no final denoise without a trailing 0');
  });
});

describe('samplers with a seeded generator', () => {
  const N_PIXELS = 20000;
  const start = (seed: number): Tensor => {
    const z = new Generator(seed).normal([N_PIXELS]);
    const sd = Math.sqrt(S * S + SIGMA_MAX ** 2);
    return new Tensor(Float64Array.from(hostBuffer(z), (v) => MU + sd * v), [N_PIXELS]);
  };
  const stats = (t: Tensor) => {
    const v = Array.from(hostBuffer(t));
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return { mean: m, variance: v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) };
  };

  for (const name of FIXED_STEP.filter((n) => SAMPLERS[n].stochastic)) {
    it(`${name}: Monte Carlo moments agree with the exact ones; deterministic for a seed`, () => {
      const sig = karrasSigmas(30, SIGMA_MIN, SIGMA_MAX);
      const exact = exactMoments(name, sig);
      const out = SAMPLERS[name].sample(ideal, start(1), sig, { generator: new Generator(2) });
      const mc = stats(out);
      // Standard errors: mean sqrt(var / n), variance var sqrt(2 / n); 5 of them.
      assert.ok(Math.abs(mc.mean - exact.mean) < 5 * Math.sqrt(exact.variance / N_PIXELS), `${name}: mean ${mc.mean} vs ${exact.mean}`);
      assert.ok(Math.abs(mc.variance - exact.variance) < 5 * exact.variance * Math.sqrt(2 / N_PIXELS), `${name}: variance ${mc.variance} vs ${exact.variance}`);
      const again = SAMPLERS[name].sample(ideal, start(1), sig, { generator: new Generator(2) });
      assert.deepEqual(Array.from(hostBuffer(again)), Array.from(hostBuffer(out)));
      const other = SAMPLERS[name].sample(ideal, start(1), sig, { generator: new Generator(3) });
      assert.ok(hostBuffer(other).some((v, i) => v !== hostBuffer(out)[i]), `${name}: another seed must give other samples`);
    });

    it(`${name}: needs a noise source`, () => {
      assert.throws(() => SAMPLERS[name].sample(ideal, start(0), karrasSigmas(3, SIGMA_MIN, SIGMA_MAX)), (e: Error) => e instanceof ArgumentError && /options\.generator/.test(e.message));
    });
  }

  it('float32 inputs stay float32', () => {
    const x = new Generator(0).normal([2, 4, 3, 1]);
    for (const name of Object.keys(SAMPLERS) as SamplerName[]) {
      const out = SAMPLERS[name].sample(ideal, x, karrasSigmas(4, SIGMA_MIN, 10), { generator: new Generator(1) });
      assert.equal(out.dtype, 'float32', name);
      assert.deepEqual(out.shape, x.shape, name);
    }
  });
});

describe('callback, abort and errors', () => {
  const sig = karrasSigmas(6, SIGMA_MIN, SIGMA_MAX);
  for (const name of FIXED_STEP) {
    it(`${name}: callback once per step; abort stops between model calls`, () => {
      const seen: number[] = [];
      const x = tensor([0.1, 0.2], [2], { dtype: 'float64' });
      SAMPLERS[name].sample(ideal, x, sig, {
        generator: new Generator(0),
        callback: ({ i, sigma, sigmaHat, x: xi, denoised }) => {
          seen.push(i);
          assert.equal(sigma, sig[i]);
          assert.ok(sigmaHat >= sigma);
          assert.deepEqual(denoised.shape, xi.shape);
        },
      });
      assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
      const controller = new AbortController();
      let calls = 0;
      const counting: Denoiser = (xx, s) => (calls++, ideal(xx, s));
      assert.throws(
        () => SAMPLERS[name].sample(counting, x, sig, { generator: new Generator(0), signal: controller.signal, callback: ({ i }) => i === 1 && controller.abort(new Error('stop')) }),
        /stop/,
      );
      assert.ok(calls <= 2 * SAMPLERS[name].modelCallsPerStep, `${name}: ${calls} model calls after abort at step 1`);
    });
  }

  it('errors name the argument and the value', () => {
    const x = tensor([0], [1]);
    assert.throws(() => euler(ideal, x, [1]), /'sigmas' needs at least 2 values/);
    assert.throws(() => euler(ideal, x, [1, -1]), /sigmas\[1\] = -1/);
    assert.throws(() => euler(ideal, x, [1, NaN]), /sigmas\[1\] = NaN/);
    assert.throws(() => euler('no' as unknown as Denoiser, x, [1, 0]), /'denoiser' must be a function/);
    assert.throws(() => euler(ideal, [0] as unknown as Tensor, [1, 0]), /input 'x' must be a Tensor/);
    assert.throws(() => euler(() => tensor([0, 0], [2]), x, [1, 0]), /the denoiser returned shape \[2\] at sigma 1, expected a Tensor shaped like x \[1\]/);
    assert.throws(() => SAMPLERS.lms.sample(ideal, x, [1, 0], { order: 5 } as object), /'order' must be an integer in \[1, 4\], found 5/);
    assert.throws(() => SAMPLERS.dpmpp_2m_sde.sample(ideal, x, [1, 0], { solverType: 'rk4' } as object), /'solverType' must be 'midpoint' or 'heun', found "rk4"/);
    assert.throws(() => SAMPLERS.euler_ancestral.sample(ideal, x, [1, 0], { eta: -1 } as object), /'eta' must be a number >= 0, found -1/);
    assert.throws(() => dpmAdaptive(ideal, x, [1, 1]), /needs sigmas\[0\] > the smallest positive sigma/);
  });
});
