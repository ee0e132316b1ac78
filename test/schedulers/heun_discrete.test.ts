/**
 * HeunDiscreteScheduler: the schedule layout of diffusers 0.25.1 (interior timesteps twice, sigmas
 * repeated, order 2) computed by hand; a predictor + corrector pair against Karras et al. 2022's
 * Algorithm 1 in float64; Gaussian data with the ideal denoiser (second-order convergence); the
 * half-step state reset by setTimesteps and by a new run; img2img-style starts; config; errors.
 * (test/fixtures/diffusers has no Heun loop; the schedule shares Euler's, which is checked against it.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { HeunDiscreteScheduler, schedulerFromConfig } from '../../src/schedulers/index.js';
import { numpyLinspace } from '../../src/schedulers/timesteps.js';
import type { PredictionType } from '../../src/diffusion/forward.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { MU, S, gaussianMoments, observedOrders } from './sigma_helpers.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const LINEAR = { beta_start: 0.0001, beta_end: 0.02 };

describe('HeunDiscreteScheduler: schedule', () => {
  it('diffusers defaults (Stable Diffusion betas), order 2, [t0, t1, t1, ..., t9, t9] and [s0, s1, s1, ..., s9, s9, 0]', () => {
    const s = new HeunDiscreteScheduler();
    assert.equal(s.order, 2);
    assert.equal(s.config.betaStart, 0.00085);
    assert.equal(s.config.betaEnd, 0.012);
    s.setTimesteps(10);
    const ts = Array.from(numpyLinspace(0, 999, 10)).reverse(); // float64, not rounded
    assert.deepEqual(s.timesteps, [ts[0], ...ts.slice(1).flatMap((t) => [t, t])]);
    const sig = ts.map((t) => s.sigmaAt(t));
    assert.deepEqual(s.sigmas, [sig[0], ...sig.slice(1).flatMap((v) => [v, v]), 0]);
    assert.equal(s.initNoiseSigma, sig[0]);
    // sigma_t = sqrt((1 - abar_t) / abar_t) at integer t.
    assert.ok(Math.abs(s.sigmaAt(999) - Math.sqrt((1 - s.alphasCumprod[999]!) / s.alphasCumprod[999]!)) < 1e-12);
  });

  it('Karras sigmas: rho = 7 spacing between the interpolated end points; timesteps mapped back', () => {
    const s = new HeunDiscreteScheduler({ ...LINEAR, use_karras_sigmas: true });
    s.setTimesteps(6);
    const sig = s.sigmas;
    const [hi, lo] = [s.sigmaAt(999), s.sigmaAt(0)];
    const expect = Array.from(numpyLinspace(0, 1, 6), (r) => (hi ** (1 / 7) + r * (lo ** (1 / 7) - hi ** (1 / 7))) ** 7);
    assertClose([sig[0]!, ...sig.slice(1, -1).filter((_, i) => i % 2 === 0)], expect, { nmseTol: 1e-26, absTol: 1e-12 });
    // Each timestep maps back to its sigma through log-linear interpolation of the training sigmas.
    s.timesteps.forEach((t, i) => {
      const k = Math.floor(t);
      const w = t - k;
      const back = Math.exp((1 - w) * Math.log(s.sigmaAt(k)) + w * Math.log(s.sigmaAt(Math.min(k + 1, 999))));
      assert.ok(Math.abs(back / sig[i]! - 1) < 1e-9, `t=${t}: sigma ${back} vs ${sig[i]}`);
    });
  });
});

describe('HeunDiscreteScheduler: a step by hand (Karras et al. 2022, Algorithm 1)', () => {
  const shape = [2, 2, 3, 1];
  const x = randTensor(shape, 1, { dtype: 'float64', lo: -10, hi: 10 });
  const e1 = randTensor(shape, 2, { dtype: 'float64' });
  const e2 = randTensor(shape, 3, { dtype: 'float64' });

  for (const type of ['epsilon', 'v_prediction', 'sample'] as PredictionType[]) {
    it(`${type}: predictor x' = x + (s1 - s0) d0, corrector x1 = x + (s1 - s0) (d0 + d1) / 2`, () => {
      const s = new HeunDiscreteScheduler({ ...LINEAR, prediction_type: type });
      s.setTimesteps(8);
      const [s0, s1] = [s.sigmas[0]!, s.sigmas[1]!];
      const x0 = (out: number, v: number, sg: number): number => (type === 'epsilon' ? v - sg * out : type === 'sample' ? out : out * (-sg / Math.sqrt(sg * sg + 1)) + v / (sg * sg + 1));
      const d0 = Array.from(hostBuffer(x), (v, i) => (v - x0(hostBuffer(e1)[i]!, v, s0)) / s0);
      const xp = Array.from(hostBuffer(x), (v, i) => v + (s1 - s0) * d0[i]!);
      assert.equal(s.stateInFirstOrder, true);
      const r1 = s.step(e1, s.timesteps[0]!, x);
      assertClose(hostBuffer(r1.prevSample), xp, { nmseTol: 1e-26, absTol: 1e-12, what: 'predictor' });
      assert.equal(s.stateInFirstOrder, false);
      const d1 = xp.map((v, i) => (v - x0(hostBuffer(e2)[i]!, v, s1)) / s1);
      const r2 = s.step(e2, s.timesteps[1]!, r1.prevSample);
      assertClose(hostBuffer(r2.predOriginalSample), xp.map((v, i) => x0(hostBuffer(e2)[i]!, v, s1)), { nmseTol: 1e-26, absTol: 1e-12, what: 'corrector x0' });
      assertClose(hostBuffer(r2.prevSample), Array.from(hostBuffer(x), (v, i) => v + ((s1 - s0) * (d0[i]! + d1[i]!)) / 2), { nmseTol: 1e-26, absTol: 1e-12, what: 'corrector' });
      assert.equal(s.stateInFirstOrder, true);
    });
  }

  it('clip_sample clamps x_0 to [-clip_sample_range, clip_sample_range]', () => {
    const s = new HeunDiscreteScheduler({ ...LINEAR, clip_sample: true, clip_sample_range: 0.5, prediction_type: 'sample' });
    s.setTimesteps(4);
    const r = s.step(tensor(Array.from(hostBuffer(e1), (v) => 3 * v), shape, { dtype: 'float64' }), s.timesteps[0]!, x);
    assert.ok(hostBuffer(r.predOriginalSample).every((v) => Math.abs(v) <= 0.5));
  });
});

describe('HeunDiscreteScheduler: Gaussian data with the ideal denoiser', () => {
  // Exact ODE target as for Euler. Measured (epsilon, linspace) std errors at 10, 20, 40, 80
  // steps: 5.2e-2, 1.2e-2, 2.8e-3, 5.9e-4 (orders 2.1, 2.1, 2.3); mean 1.6e-4 .. 1.9e-6.
  for (const type of ['epsilon', 'v_prediction', 'sample'] as PredictionType[]) {
    for (const karras of [false, true]) {
      it(`${type}${karras ? ', Karras sigmas' : ''}: mean and std converge at second order`, () => {
        const make = (): HeunDiscreteScheduler => new HeunDiscreteScheduler({ ...LINEAR, prediction_type: type, use_karras_sigmas: karras });
        const sigmaMax = make().sigmas[0]!;
        const k = S / Math.sqrt(S * S + sigmaMax * sigmaMax);
        const ms = [10, 20, 40, 80].map((n) => gaussianMoments(make(), n, type));
        const stdErr = ms.map((m) => Math.abs(m.std - sigmaMax * k));
        const meanErr = ms.map((m) => Math.abs(m.mean - MU * (1 - k)));
        assert.ok(stdErr[3]! < 1e-3 && meanErr[3]! < 1e-5, `at 80 steps: std error ${stdErr[3]}, mean error ${meanErr[3]}`);
        for (const o of [...observedOrders(stdErr), ...observedOrders(meanErr)]) assert.ok(o > 1.8 && o < 2.7, `observed order ${o.toFixed(3)} (std ${stdErr.join(', ')}; mean ${meanErr.join(', ')})`);
      });
    }
  }
});

describe('HeunDiscreteScheduler: run state, config and errors', () => {
  const run = (s: HeunDiscreteScheduler, n: number, seed: number, stopAfter = Infinity): Float32Array => {
    s.setTimesteps(n);
    const gen = new Generator(seed);
    let x = gen.normal([1, 4, 3, 2], 0, s.initNoiseSigma);
    s.timesteps.forEach((t, i) => {
      if (i < stopAfter) x = s.step(tensor(hostBuffer(s.scaleModelInput(x, t)).map((v) => 0.2 * v), x.shape), t, x).prevSample;
    });
    return x.toArray();
  };

  it('no state leaks: a second run, a run after an aborted one, or setTimesteps again equals a fresh scheduler', () => {
    const fresh = run(new HeunDiscreteScheduler(), 9, 5);
    const reused = new HeunDiscreteScheduler();
    run(reused, 4, 1);
    assert.deepEqual(run(reused, 9, 5), fresh);
    assert.deepEqual(run(reused, 9, 5), fresh);
    // Abort after a predictor (state pending), then setTimesteps drops it.
    run(reused, 9, 2, 3);
    assert.equal(reused.stateInFirstOrder, false);
    assert.deepEqual(run(reused, 9, 5), fresh);
    // Abort after a predictor, then step from t_0 again without setTimesteps: a new run.
    const again = new HeunDiscreteScheduler();
    again.setTimesteps(9);
    const xT = new Generator(5).normal([1, 4, 3, 2], 0, again.initNoiseSigma);
    const t0 = again.timesteps[0]!;
    again.step(xT, t0, xT);
    let x = xT;
    for (const t of again.timesteps) x = again.step(tensor(hostBuffer(again.scaleModelInput(x, t)).map((v) => 0.2 * v), x.shape), t, x).prevSample;
    assert.deepEqual(x.toArray(), fresh);
  });

  it('a run may start at a later timestep (img2img): its second occurrence, a predictor', () => {
    const s = new HeunDiscreteScheduler();
    s.setTimesteps(6);
    const t = s.timesteps[3]!; // t_2, listed at 3 and 4
    const x = randTensor([1, 3], 1, { dtype: 'float64' });
    const out = randTensor([1, 3], 2, { dtype: 'float64' });
    const r = s.step(out, t, x);
    const [sg, next] = [s.sigmas[4]!, s.sigmas[5]!];
    assertClose(hostBuffer(r.prevSample), Array.from(hostBuffer(x), (v, i) => v + (next - sg) * hostBuffer(out)[i]!), { nmseTol: 1e-28, absTol: 1e-13 });
    assert.equal(s.stateInFirstOrder, false);
  });

  it('config round trip through schedulerFromConfig; errors', () => {
    const json = new HeunDiscreteScheduler({ use_karras_sigmas: true, clip_sample: true }).toConfig();
    assert.deepEqual(Object.keys(json), ['_class_name', '_diffusers_version', 'num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'trained_betas', 'prediction_type', 'use_karras_sigmas', 'clip_sample', 'clip_sample_range', 'timestep_spacing', 'steps_offset']);
    assert.deepEqual(schedulerFromConfig(json).toConfig(), json);
    assert.throws(() => new HeunDiscreteScheduler({ clip_sample_range: 0 }), /config key "clip_sample_range" has value 0; allowed: a number > 0/);
    const s = new HeunDiscreteScheduler();
    s.setTimesteps(5);
    const x = randTensor([2, 4], 1);
    assert.throws(() => s.step(x, 12.5, x), /HeunDiscreteScheduler.step: timestep 12.5 is not one of this run's timesteps/);
    assert.throws(() => s.scaleModelInput(x, Number.NaN), /timestep must be one of scheduler.timesteps \(a finite number\), found NaN/);
  });
});

describe('HeunDiscreteScheduler vs the pure heun sampler (src/samplers, k-diffusion form)', () => {
  it('the same sigmas give the same samples (to float64 rounding)', async () => {
    const { heun } = await import('../../src/samplers/index.js');
    const { distinctSigmas, idealDenoiser, schedulerRun } = await import('./sigma_helpers.js');
    for (const karras of [false, true]) {
      const s = new HeunDiscreteScheduler({ ...LINEAR, use_karras_sigmas: karras, prediction_type: 'sample' });
      const xT = randTensor([2, 5], 3, { dtype: 'float64', lo: -100, hi: 100 });
      const a = schedulerRun(s, 12, xT);
      const b = heun(idealDenoiser, xT, distinctSigmas(s.sigmas));
      assertClose(hostBuffer(a), hostBuffer(b), { nmseTol: 1e-26, absTol: 1e-12, what: `karras ${karras}` });
    }
  });
});
