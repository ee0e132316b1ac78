/**
 * KDPM2DiscreteScheduler: diffusers 0.25.1's schedule layout (full-step timesteps interleaved with
 * the log-midpoints' fractional timesteps, order 2) by hand; a DPM-Solver-2 step against its
 * formula (Lu et al. 2022 Alg. 1 with r = 1/2 in Karras et al.'s sigma form) in float64; Gaussian
 * data with the ideal denoiser (second-order convergence); run state; config; errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { KDPM2DiscreteScheduler, schedulerFromConfig } from '../../src/schedulers/index.js';
import { numpyLinspace } from '../../src/schedulers/timesteps.js';
import type { PredictionType } from '../../src/diffusion/forward.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { MU, S, gaussianMoments, inputSigma, observedOrders } from './sigma_helpers.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const LINEAR = { beta_start: 0.0001, beta_end: 0.02 };

describe('KDPM2DiscreteScheduler: schedule', () => {
  it('diffusers defaults, order 2, timesteps [t0, tm1, t1, tm2, t2, ...], midpoint sigma_m = sqrt(s_{i-1} s_i)', () => {
    const s = new KDPM2DiscreteScheduler();
    assert.equal(s.order, 2);
    assert.equal(s.config.betaStart, 0.00085);
    s.setTimesteps(5);
    const ts = Array.from(numpyLinspace(0, 999, 5)).reverse();
    const sig = ts.map((t) => s.sigmaAt(t));
    const mid = (i: number): number => Math.sqrt(sig[i - 1]! * (sig[i] ?? 0));
    assert.equal(s.timesteps.length, 9);
    s.timesteps.forEach((t, j) => {
      if (j % 2 === 0) assert.equal(t, ts[j / 2]);
      else {
        // The midpoint's timestep maps back to its sigma (log-linear in the training sigmas) and lies between its neighbours.
        const m = mid((j + 1) / 2);
        assert.ok(t < ts[(j - 1) / 2]! && t > ts[(j + 1) / 2]!, `midpoint timestep ${t}`);
        assert.ok(Math.abs(inputSigma(s, t) / m - 1) < 1e-12, `scaleModelInput at the midpoint uses sigma_m`);
      }
    });
    assert.deepEqual(s.sigmas, [sig[0], ...[1, 2, 3, 4].flatMap((i) => [sig[i], sig[i]]), 0, 0, 0]); // the final 0 twice, plus diffusers' trailing copy
    assert.deepEqual(s.sigmasInterpol.slice(1), [1, 2, 3, 4, 5].flatMap((i) => [mid(i), mid(i)]).concat([0]));
  });

  it('Karras sigmas: full-step timesteps rounded to integers (as diffusers)', () => {
    const s = new KDPM2DiscreteScheduler({ ...LINEAR, use_karras_sigmas: true });
    s.setTimesteps(7);
    s.timesteps.forEach((t, j) => {
      if (j % 2 === 0) assert.ok(Number.isInteger(t), `t=${t}`);
    });
  });
});

describe('KDPM2DiscreteScheduler: a step by hand', () => {
  const shape = [2, 1, 3, 2];
  const x = randTensor(shape, 1, { dtype: 'float64', lo: -10, hi: 10 });
  const e1 = randTensor(shape, 2, { dtype: 'float64' });
  const e2 = randTensor(shape, 3, { dtype: 'float64' });
  for (const type of ['epsilon', 'v_prediction', 'sample'] as PredictionType[]) {
    it(`${type}: x_mid = x + (s_m - s0) d(x, s0); x1 = x + (s1 - s0) d(x_mid, s_m)`, () => {
      const s = new KDPM2DiscreteScheduler({ ...LINEAR, prediction_type: type });
      s.setTimesteps(6);
      const [s0, s1] = [s.sigmas[0]!, s.sigmas[1]!];
      const sm = Math.sqrt(s0 * s1);
      const x0 = (out: number, v: number, sg: number): number => (type === 'epsilon' ? v - sg * out : type === 'sample' ? out : out * (-sg / Math.sqrt(sg * sg + 1)) + v / (sg * sg + 1));
      const xm = Array.from(hostBuffer(x), (v, i) => v + (sm - s0) * ((v - x0(hostBuffer(e1)[i]!, v, s0)) / s0));
      const r1 = s.step(e1, s.timesteps[0]!, x);
      assertClose(hostBuffer(r1.prevSample), xm, { nmseTol: 1e-26, absTol: 1e-12, what: 'to the midpoint' });
      assert.equal(s.stateInFirstOrder, false);
      const r2 = s.step(e2, s.timesteps[1]!, r1.prevSample);
      assertClose(hostBuffer(r2.prevSample), Array.from(hostBuffer(x), (v, i) => v + (s1 - s0) * ((xm[i]! - x0(hostBuffer(e2)[i]!, xm[i]!, sm)) / sm)), { nmseTol: 1e-26, absTol: 1e-12, what: 'full step' });
      assert.equal(s.stateInFirstOrder, true);
    });
  }
});

describe('KDPM2DiscreteScheduler: Gaussian data with the ideal denoiser', () => {
  // Measured (epsilon, linspace) std errors at 10, 20, 40, 80 steps: 0.133, 0.034, 8.6e-3, 2.1e-3 (orders 1.97-2.02).
  for (const type of ['epsilon', 'v_prediction', 'sample'] as PredictionType[]) {
    for (const karras of [false, true]) {
      it(`${type}${karras ? ', Karras sigmas' : ''}: mean and std converge at second order`, () => {
        const make = (): KDPM2DiscreteScheduler => new KDPM2DiscreteScheduler({ ...LINEAR, prediction_type: type, use_karras_sigmas: karras });
        const sigmaMax = make().sigmas[0]!;
        const k = S / Math.sqrt(S * S + sigmaMax * sigmaMax);
        const ms = [10, 20, 40, 80].map((n) => gaussianMoments(make(), n, type));
        const stdErr = ms.map((m) => Math.abs(m.std - sigmaMax * k));
        const meanErr = ms.map((m) => Math.abs(m.mean - MU * (1 - k)));
        assert.ok(stdErr[3]! < 3e-3 && meanErr[3]! < 1e-5, `at 80 steps: std error ${stdErr[3]}, mean error ${meanErr[3]}`);
        for (const o of [...observedOrders(stdErr), ...observedOrders(meanErr)]) assert.ok(o > 1.8 && o < 2.7, `observed order ${o.toFixed(3)} (std ${stdErr.join(', ')}; mean ${meanErr.join(', ')})`);
      });
    }
  }
});

describe('KDPM2DiscreteScheduler: run state, config and errors', () => {
  it('no state leaks: a second run, an aborted one, or setTimesteps again equals a fresh scheduler', () => {
    const run = (s: KDPM2DiscreteScheduler, n: number, seed: number, stopAfter = Infinity): Float32Array => {
      s.setTimesteps(n);
      const gen = new Generator(seed);
      let x = gen.normal([1, 4, 3, 2], 0, s.initNoiseSigma);
      s.timesteps.forEach((t, i) => {
        if (i < stopAfter) x = s.step(tensor(hostBuffer(s.scaleModelInput(x, t)).map((v) => 0.2 * v), x.shape), t, x).prevSample;
      });
      return x.toArray();
    };
    const fresh = run(new KDPM2DiscreteScheduler(), 8, 5);
    const reused = new KDPM2DiscreteScheduler();
    run(reused, 3, 1);
    assert.deepEqual(run(reused, 8, 5), fresh);
    run(reused, 8, 2, 5);
    assert.equal(reused.stateInFirstOrder, false);
    assert.deepEqual(run(reused, 8, 5), fresh);
  });

  it('config round trip through schedulerFromConfig; errors', () => {
    const json = new KDPM2DiscreteScheduler({ use_karras_sigmas: true, timestep_spacing: 'leading', steps_offset: 1 }).toConfig();
    assert.deepEqual(Object.keys(json), ['_class_name', '_diffusers_version', 'num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'trained_betas', 'use_karras_sigmas', 'prediction_type', 'timestep_spacing', 'steps_offset']);
    assert.deepEqual(schedulerFromConfig(json).toConfig(), json);
    assert.throws(() => new KDPM2DiscreteScheduler({ useKarrasSigmas: true }), /unknown config key "useKarrasSigmas".*did you mean "use_karras_sigmas"/);
    const s = new KDPM2DiscreteScheduler();
    s.setTimesteps(4);
    const x = randTensor([2, 4], 1);
    assert.throws(() => s.step(randTensor([2, 4], 2, { dtype: 'float64' }), s.timesteps[0]!, x), /'modelOutput' is float64 but 'x' is float32/);
  });
});

describe('KDPM2DiscreteScheduler vs the pure dpm_2 sampler (src/samplers, k-diffusion form)', () => {
  it('the same sigmas give the same samples (to float64 rounding)', async () => {
    const { dpm2 } = await import('../../src/samplers/index.js');
    const { distinctSigmas, idealDenoiser, schedulerRun } = await import('./sigma_helpers.js');
    for (const karras of [false, true]) {
      const s = new KDPM2DiscreteScheduler({ ...LINEAR, use_karras_sigmas: karras, prediction_type: 'sample' });
      const xT = randTensor([2, 5], 3, { dtype: 'float64', lo: -100, hi: 100 });
      const a = schedulerRun(s, 12, xT);
      const b = dpm2(idealDenoiser, xT, distinctSigmas(s.sigmas));
      assertClose(hostBuffer(a), hostBuffer(b), { nmseTol: 1e-26, absTol: 1e-12, what: `karras ${karras}` });
    }
  });
});
