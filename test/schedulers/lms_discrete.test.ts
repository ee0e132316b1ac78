/**
 * LMSDiscreteScheduler: the LMS coefficients (integrals of Lagrange polynomials) against exact
 * polynomial integration and the order-2 closed form; a step by hand; diffusers 0.25.1's schedule
 * (shared with Euler's, checked against the vectors there, but in float64 timesteps); Gaussian
 * data with the ideal denoiser, orders 1-4 converging at their order; run state; config; errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { LMSDiscreteScheduler, schedulerFromConfig } from '../../src/schedulers/index.js';
import { lmsCoefficient } from '../../src/schedulers/lms_discrete.js';
import { numpyLinspace } from '../../src/schedulers/timesteps.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { MU, S, idealOutput, inputSigma, observedOrders } from './sigma_helpers.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('LMSDiscreteScheduler: coefficients', () => {
  const sig = [14, 9, 5.5, 3, 1.2, 0];
  it('order k integrates every polynomial of degree < k exactly over [sigma_i, sigma_{i+1}]', () => {
    for (let k = 1; k <= 4; k++) {
      for (let i = k - 1; i < sig.length - 1; i++) {
        const c = Array.from({ length: k }, (_, j) => lmsCoefficient(sig, k, i, j));
        for (let m = 0; m < k; m++) {
          const quad = c.reduce((acc, cj, j) => acc + cj * sig[i - j]! ** m, 0);
          const exact = (sig[i + 1]! ** (m + 1) - sig[i]! ** (m + 1)) / (m + 1);
          assert.ok(Math.abs(quad - exact) < 1e-12 * Math.max(1, Math.abs(exact)), `order ${k}, i ${i}, tau^${m}: ${quad} vs ${exact}`);
        }
      }
    }
  });

  it('order 2 closed form: c0 = h + h^2 / (2 (s_i - s_{i-1})), c1 = -h^2 / (2 (s_i - s_{i-1})), h = s_{i+1} - s_i', () => {
    const [a, b, c] = [sig[1]!, sig[2]!, sig[3]!];
    const h = c - b;
    assert.ok(Math.abs(lmsCoefficient(sig, 2, 2, 0) - (h + (h * h) / (2 * (b - a)))) < 1e-13);
    assert.ok(Math.abs(lmsCoefficient(sig, 2, 2, 1) - -(h * h) / (2 * (b - a))) < 1e-13);
  });
});

describe('LMSDiscreteScheduler: schedule and steps by hand', () => {
  it('diffusers defaults; linspace timesteps in float64; initNoiseSigma = sigma_max', () => {
    const s = new LMSDiscreteScheduler();
    assert.equal(s.config.timestepSpacing, 'linspace');
    s.setTimesteps(7);
    assert.deepEqual(s.timesteps, Array.from(numpyLinspace(0, 999, 7)).reverse());
    assert.equal(s.sigmas.length, 8);
    assert.equal(s.sigmas[7], 0);
    assert.equal(s.initNoiseSigma, s.sigmas[0]);
  });

  it('three steps of order 4 use 1, 2 then 3 past slopes (epsilon: the slope is the model output)', () => {
    const s = new LMSDiscreteScheduler({ timestep_spacing: 'trailing' });
    s.setTimesteps(6);
    const sg = s.sigmas;
    const shape = [2, 3];
    let x = randTensor(shape, 1, { dtype: 'float64', lo: -50, hi: 50 });
    const outs = [2, 3, 4].map((seed) => randTensor(shape, seed, { dtype: 'float64' }));
    outs.forEach((e, i) => {
      const k = i + 1;
      const expected = Array.from(hostBuffer(x), (v, n) => {
        let acc = v;
        for (let j = 0; j < k; j++) acc += lmsCoefficient(sg, k, i, j) * hostBuffer(outs[i - j]!)[n]!;
        return acc;
      });
      const r = s.step(e, s.timesteps[i]!, x);
      assertClose(hostBuffer(r.predOriginalSample), Array.from(hostBuffer(x), (v, n) => v - sg[i]! * hostBuffer(e)[n]!), { nmseTol: 1e-28, absTol: 1e-12 });
      assertClose(hostBuffer(r.prevSample), expected, { nmseTol: 1e-26, absTol: 1e-11, what: `step ${i}` });
      x = r.prevSample;
    });
  });
});

describe('LMSDiscreteScheduler: Gaussian data with the ideal denoiser', () => {
  // Karras sigmas, std error vs the exact ODE at 40, 80, 160 steps; measured observed orders
  // (80 -> 160): 0.97, 1.94, 2.87, 3.77 for orders 1-4 (approaching k from below).
  for (let order = 1; order <= 4; order++) {
    it(`order ${order}: the error shrinks at order ~${order}`, () => {
      const errs = [40, 80, 160].map((n) => {
        const s = new LMSDiscreteScheduler({ use_karras_sigmas: true });
        s.setTimesteps(n);
        const sm = s.sigmas[0]!;
        const k = S / Math.sqrt(S * S + sm * sm);
        // One deterministic run over the probes x_T = 0, 1 gives the affine map x_T -> x_0.
        let x = tensor([0, 1], [2, 1], { dtype: 'float64' });
        for (const t of s.timesteps) x = s.step(idealOutput(x, inputSigma(s, t), 'epsilon'), t, x, { order }).prevSample;
        const [b, b1] = [hostBuffer(x)[0]!, hostBuffer(x)[1]!];
        return { std: Math.abs((b1 - b) * sm - sm * k), mean: Math.abs(b - MU * (1 - k)) };
      });
      const o = observedOrders(errs.map((e) => e.std));
      const om = observedOrders(errs.map((e) => e.mean));
      assert.ok(o[1]! > order - 0.35 && o[1]! < order + 0.5, `std observed orders ${o.map((v) => v.toFixed(3))}`);
      assert.ok(om[1]! > order - 0.35 && om[1]! < order + 0.5, `mean observed orders ${om.map((v) => v.toFixed(3))}`);
    });
  }
});

describe('LMSDiscreteScheduler: run state, config and errors', () => {
  it('no state leaks: a second run, an aborted run, or setTimesteps again equals a fresh scheduler', () => {
    const run = (s: LMSDiscreteScheduler, n: number, seed: number, stopAfter = Infinity): Float32Array => {
      s.setTimesteps(n);
      const gen = new Generator(seed);
      let x = gen.normal([1, 4, 3, 2], 0, s.initNoiseSigma);
      s.timesteps.forEach((t, i) => {
        if (i < stopAfter) x = s.step(tensor(hostBuffer(s.scaleModelInput(x, t)).map((v) => 0.2 * v), x.shape), t, x).prevSample;
      });
      return x.toArray();
    };
    const fresh = run(new LMSDiscreteScheduler(), 12, 5);
    const reused = new LMSDiscreteScheduler();
    run(reused, 5, 1);
    assert.deepEqual(run(reused, 12, 5), fresh);
    assert.deepEqual(run(reused, 12, 5), fresh);
    // Aborted after 4 steps, then restarted at t_0 without setTimesteps: the slopes are dropped.
    reused.setTimesteps(12);
    const gen = new Generator(9);
    let y = gen.normal([1, 4, 3, 2], 0, reused.initNoiseSigma);
    for (const t of reused.timesteps.slice(0, 4)) y = reused.step(y, t, y).prevSample;
    const g2 = new Generator(5);
    let x = g2.normal([1, 4, 3, 2], 0, reused.initNoiseSigma);
    for (const t of reused.timesteps) x = reused.step(tensor(hostBuffer(reused.scaleModelInput(x, t)).map((v) => 0.2 * v), x.shape), t, x).prevSample;
    assert.deepEqual(x.toArray(), fresh);
  });

  it('config round trip through schedulerFromConfig; errors', () => {
    const json = new LMSDiscreteScheduler({ use_karras_sigmas: true, prediction_type: 'v_prediction' }).toConfig();
    assert.deepEqual(Object.keys(json), ['_class_name', '_diffusers_version', 'num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'trained_betas', 'use_karras_sigmas', 'prediction_type', 'timestep_spacing', 'steps_offset']);
    assert.deepEqual(schedulerFromConfig(json).toConfig(), json);
    const s = new LMSDiscreteScheduler();
    s.setTimesteps(10);
    const x = randTensor([2, 4], 1);
    assert.throws(() => s.step(x, s.timesteps[0]!, x, { order: 5 }), /'order' must be an integer in \[1, 4\], found 5/);
    assert.throws(() => s.step(x, s.timesteps[0]!, x, { order: 1.5 }), /'order' must be an integer in \[1, 4\], found 1.5/);
  });
});

describe('LMSDiscreteScheduler vs the pure lms sampler (src/samplers, k-diffusion form)', () => {
  it('the same sigmas give the same samples for orders 1-4 (to float64 rounding)', async () => {
    const { lms } = await import('../../src/samplers/index.js');
    const { idealDenoiser, inputSigma } = await import('./sigma_helpers.js');
    for (let order = 1; order <= 4; order++) {
      const s = new LMSDiscreteScheduler({ use_karras_sigmas: true, prediction_type: 'sample' });
      s.setTimesteps(15);
      const xT = randTensor([2, 5], 3, { dtype: 'float64', lo: -100, hi: 100 });
      let x = xT;
      for (const t of s.timesteps) x = s.step(idealDenoiser(x, inputSigma(s, t)), t, x, { order }).prevSample;
      const b = lms(idealDenoiser, xT, s.sigmas, { order });
      assertClose(hostBuffer(x), hostBuffer(b), { nmseTol: 1e-24, absTol: 1e-10, what: `order ${order}` });
    }
  });
});
