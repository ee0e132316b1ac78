/**
 * EulerAncestralDiscreteScheduler: reproduces diffusers 0.25.1 sampling loops step by step with
 * their recorded noise (test/fixtures/diffusers/sampling_euler.json: epsilon and v_prediction); one step
 * by hand (k-diffusion's sigma_up / sigma_down split); Gaussian data with the ideal denoiser (the
 * exact mean, the std converging); run-state independence; config; errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { EulerAncestralDiscreteScheduler, schedulerFromConfig } from '../../src/schedulers/index.js';
import type { PredictionType } from '../../src/diffusion/forward.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { readVectors } from '../helpers/vectors.js';
import { MU, S, SHAPE, assertSigmasClose, gaussianMoments, observedOrders, standInModel, type SamplingCase } from './sigma_helpers.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const cases: SamplingCase[] = readVectors<{ cases: SamplingCase[] }>('sampling_euler.json').cases;

// Tolerances as for Euler (float32 vs float64 schedules; see euler_discrete.test.ts).
const TOL = { nmseTol: 1e-11, absTol: 2e-6 };

describe('EulerAncestralDiscreteScheduler vs diffusers 0.25.1 (sampling_euler.json)', () => {
  for (const c of cases.filter((k) => k.scheduler === 'EulerAncestralDiscreteScheduler')) {
    it(`${c.name}: config round trip, timesteps, sigmas, every step with its noise and the full loop`, () => {
      const s = new EulerAncestralDiscreteScheduler(c.config);
      const { _diffusers_version: _v, ...json } = s.toConfig();
      assert.deepEqual(json, { _class_name: 'EulerAncestralDiscreteScheduler', ...c.config });
      s.setTimesteps(c.num_inference_steps);
      assert.deepEqual(s.timesteps, c.timesteps);
      assertSigmasClose(s.sigmas, c.sigmas, 'sigmas');
      assertSigmasClose([s.initNoiseSigma], [c.init_noise_sigma], 'init_noise_sigma');
      c.steps.forEach((st, i) => {
        const x = tensor(i === 0 ? c.initial_sample : c.steps[i - 1]!.prev_sample, SHAPE);
        assertClose(hostBuffer(s.scaleModelInput(x, st.t)), st.model_input, { ...TOL, what: `step ${i} model input` });
        const r = s.step(tensor(st.model_output, SHAPE), st.t, x, { noise: tensor(st.noise!, SHAPE) });
        assertClose(hostBuffer(r.predOriginalSample), st.pred_original_sample, { ...TOL, what: `step ${i} (t=${st.t}) pred_original_sample` });
        assertClose(hostBuffer(r.prevSample), st.prev_sample, { ...TOL, what: `step ${i} (t=${st.t}) prev_sample` });
      });
      let x = tensor(c.initial_sample, SHAPE);
      s.timesteps.forEach((t, i) => {
        x = s.step(standInModel(hostBuffer(s.scaleModelInput(x, t)), t), t, x, { noise: tensor(c.steps[i]!.noise!, SHAPE) }).prevSample;
      });
      assertClose(hostBuffer(x), c.final_sample, { ...TOL, what: 'final sample' });
    });
  }
});

describe('EulerAncestralDiscreteScheduler: a step by hand', () => {
  it('sigma_up = sqrt(s1^2 (s0^2 - s1^2) / s0^2), sigma_down = sqrt(s1^2 - sigma_up^2), x1 = x + (sigma_down - s0) eps + sigma_up z', () => {
    const shape = [2, 3, 1, 2];
    const x = randTensor(shape, 1, { dtype: 'float64', lo: -30, hi: 30 });
    const eps = randTensor(shape, 2, { dtype: 'float64' });
    const z = randTensor(shape, 3, { dtype: 'float64' });
    const s = new EulerAncestralDiscreteScheduler({ timestep_spacing: 'leading' });
    s.setTimesteps(10);
    const [s0, s1] = [s.sigmas[4]!, s.sigmas[5]!];
    const up = Math.sqrt((s1 * s1 * (s0 * s0 - s1 * s1)) / (s0 * s0));
    const down = Math.sqrt(s1 * s1 - up * up);
    const r = s.step(eps, s.timesteps[4]!, x, { noise: z });
    assertClose(hostBuffer(r.predOriginalSample), Array.from(hostBuffer(x), (v, i) => v - s0 * hostBuffer(eps)[i]!), { nmseTol: 1e-28, absTol: 1e-13 });
    assertClose(hostBuffer(r.prevSample), Array.from(hostBuffer(x), (v, i) => v + (down - s0) * hostBuffer(eps)[i]! + up * hostBuffer(z)[i]!), { nmseTol: 1e-26, absTol: 1e-12 });
    // Marginal noise level: sigma_down^2 + sigma_up^2 = sigma_next^2.
    assert.ok(Math.abs(down * down + up * up - s1 * s1) < 1e-12 * s1 * s1);
    // The last step (to sigma = 0) adds no noise and asks for none.
    const last = s.timesteps[9]!;
    const r2 = s.step(eps, last, x);
    assertClose(hostBuffer(r2.prevSample), hostBuffer(r2.predOriginalSample), { nmseTol: 1e-28, absTol: 1e-12 });
  });
});

describe('EulerAncestralDiscreteScheduler: Gaussian data with the ideal denoiser', () => {
  // Every step keeps the exact marginal mean; the std error shrinks (measured, epsilon: 0.136,
  // 0.088, 0.056, 0.034 at 10, 20, 40, 80 steps; observed order 0.63-0.74, rising towards 1).
  for (const type of ['epsilon', 'v_prediction', 'sample'] as PredictionType[]) {
    it(`${type}: the mean is exact; the std error shrinks with the steps`, () => {
      const ms = [10, 20, 40, 80].map((n) => gaussianMoments(new EulerAncestralDiscreteScheduler({ prediction_type: type }), n, type, true));
      for (const m of ms) assert.ok(Math.abs(m.mean - MU) < 1e-5, `mean ${m.mean}`);
      const stdErr = ms.map((m) => Math.abs(m.std - S));
      assert.ok(stdErr[3]! < 0.04, `std error ${stdErr[3]} at 80 steps`);
      for (const o of observedOrders(stdErr)) assert.ok(o > 0.55 && o < 1.1, `observed order ${o.toFixed(3)} (${stdErr.join(', ')})`);
    });
  }
});

describe('EulerAncestralDiscreteScheduler: run state, config and errors', () => {
  it('no state leaks: a second run, or setTimesteps again, equals a fresh scheduler', () => {
    const run = (s: EulerAncestralDiscreteScheduler, n: number, seed: number): Float32Array => {
      s.setTimesteps(n);
      const gen = new Generator(seed);
      let x = gen.normal([1, 4, 3, 2], 0, s.initNoiseSigma);
      for (const t of s.timesteps) x = s.step(tensor(hostBuffer(s.scaleModelInput(x, t)).map((v) => 0.2 * v), x.shape), t, x, { generator: gen }).prevSample;
      return x.toArray();
    };
    const fresh = run(new EulerAncestralDiscreteScheduler(), 12, 5);
    const reused = new EulerAncestralDiscreteScheduler();
    run(reused, 4, 1);
    assert.deepEqual(run(reused, 12, 5), fresh);
    assert.deepEqual(run(reused, 12, 5), fresh);
  });

  it('config round trip through schedulerFromConfig; errors', () => {
    const json = new EulerAncestralDiscreteScheduler({ timestep_spacing: 'trailing', prediction_type: 'v_prediction' }).toConfig();
    assert.deepEqual(schedulerFromConfig(json).toConfig(), json);
    assert.throws(() => new EulerAncestralDiscreteScheduler({ timestep_spacing: 'uniform' }), /config key "timestep_spacing" has value "uniform"; allowed: one of "leading", "trailing", "linspace"/);
    const s = new EulerAncestralDiscreteScheduler();
    s.setTimesteps(10);
    const x = randTensor([2, 4], 1);
    assert.throws(() => s.step(x, 999, x), /this step adds Gaussian noise; pass \{ generator \}/);
    assert.throws(() => s.step(x, 999, x, { noise: randTensor([2, 3], 2) }), /input 'noise' has shape \[2, 3\], expected the shape of x \[2, 4\]/);
  });
});
