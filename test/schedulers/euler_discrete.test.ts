/**
 * EulerDiscreteScheduler: reproduces diffusers 0.25.1 sampling loops step by step (test/fixtures/diffusers/
 * sampling_euler.json: linspace/leading/trailing spacing, Karras sigmas, v_prediction, Stable
 * Diffusion's scaled_linear betas) and the Euler rows of timesteps_table.json (timesteps, sigmas,
 * init_noise_sigma); the churn step against Karras et al.'s Algorithm 2 by hand; Gaussian data
 * with the ideal denoiser (first-order convergence); run-state independence; config; errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { EulerDiscreteScheduler, LMSDiscreteScheduler, schedulerFromConfig } from '../../src/schedulers/index.js';
import { sigmaX0, sigmaX0Tensor } from '../../src/schedulers/euler_discrete.js';
import type { PredictionType } from '../../src/diffusion/forward.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { readVectors } from '../helpers/vectors.js';
import { MU, S, SHAPE, assertSigmasClose, gaussianMoments, observedOrders, standInModel, type SamplingCase } from './sigma_helpers.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const cases: SamplingCase[] = readVectors<{ cases: SamplingCase[] }>('sampling_euler.json').cases;
interface TableRow { scheduler: string; options: Record<string, unknown>; num_inference_steps: number; timesteps: number[]; sigmas?: number[]; init_noise_sigma: number }
const table: TableRow[] = readVectors<{ rows: TableRow[] }>('timesteps_table.json').rows;

// Tolerances. diffusers computes alphas_cumprod in float32, we in float64; its small sigmas carry
// float32 cancellation in 1 - abar (sigma_0 = 0.01000133 vs our 0.0100005: 8.3e-5 relative).
// Measured per-step nmse: <= 6.4e-14 (5.9e-13 for v_prediction's x_0), final nmse <= 1.5e-13,
// max-abs / scale <= 4e-7. With Karras sigmas diffusers' end points come from those float32
// sigmas: model input nmse 3.6e-10, x_0 5.1e-11, timesteps off by up to 0.0056 (at t < 5).
const TOL = { nmseTol: 1e-11, absTol: 2e-6 };
const KARRAS_TOL = { nmseTol: 1e-8, absTol: 2e-5 };

describe('EulerDiscreteScheduler vs diffusers 0.25.1 (sampling_euler.json)', () => {
  for (const c of cases.filter((k) => k.scheduler === 'EulerDiscreteScheduler')) {
    const karras = c.config['use_karras_sigmas'] === true;
    const tol = karras ? KARRAS_TOL : TOL;
    it(`${c.name}: config round trip, timesteps, sigmas, every step and the full loop`, () => {
      const s = new EulerDiscreteScheduler(c.config);
      const { _diffusers_version: _v, ...json } = s.toConfig();
      assert.deepEqual(json, { _class_name: 'EulerDiscreteScheduler', ...c.config });
      s.setTimesteps(c.num_inference_steps);
      if (karras) assertClose(s.timesteps, c.timesteps, { nmseTol: 1e-10, absTol: 1e-5, what: 'timesteps' });
      else assert.deepEqual(s.timesteps, c.timesteps);
      assertSigmasClose(s.sigmas, c.sigmas, 'sigmas');
      assert.ok(Math.abs(s.initNoiseSigma / c.init_noise_sigma - 1) < 1e-6, `init_noise_sigma ${s.initNoiseSigma} vs ${c.init_noise_sigma}`);
      c.steps.forEach((st, i) => {
        const t = s.timesteps[i]!;
        const x = tensor(i === 0 ? c.initial_sample : c.steps[i - 1]!.prev_sample, SHAPE);
        assertClose(hostBuffer(s.scaleModelInput(x, t)), st.model_input, { ...tol, what: `step ${i} model input` });
        const r = s.step(tensor(st.model_output, SHAPE), t, x);
        assertClose(hostBuffer(r.predOriginalSample), st.pred_original_sample, { ...tol, what: `step ${i} (t=${t}) pred_original_sample` });
        assertClose(hostBuffer(r.prevSample), st.prev_sample, { ...tol, what: `step ${i} (t=${t}) prev_sample` });
      });
      // The whole loop as the README defines it, from x_T (initial_sample is x_T * init_noise_sigma).
      let x = tensor(c.initial_sample, SHAPE);
      for (const t of s.timesteps) x = s.step(standInModel(hostBuffer(s.scaleModelInput(x, t)), t), t, x).prevSample;
      assertClose(hostBuffer(x), c.final_sample, { ...tol, what: 'final sample' });
    });
  }
});

describe('EulerDiscreteScheduler vs diffusers 0.25.1 (timesteps_table.json)', () => {
  it('timesteps, sigmas and init_noise_sigma for every N and spacing', () => {
    const rows = table.filter((r) => r.scheduler === 'EulerDiscreteScheduler');
    assert.ok(rows.length >= 39);
    for (const r of rows) {
      const s = new EulerDiscreteScheduler(r.options);
      s.setTimesteps(r.num_inference_steps);
      const what = `${JSON.stringify(r.options)} N=${r.num_inference_steps}`;
      assert.deepEqual(s.timesteps, r.timesteps, what);
      if (r.sigmas) assertSigmasClose(s.sigmas, r.sigmas, `${what} sigmas`);
      assertSigmasClose([s.initNoiseSigma], [r.init_noise_sigma], `${what}: init_noise_sigma`);
    }
  });
});

describe('EulerDiscreteScheduler: steps by hand (Karras et al. 2022, Algorithm 2)', () => {
  const shape = [2, 3, 2, 1];
  const x = randTensor(shape, 1, { dtype: 'float64', lo: -20, hi: 20 });
  const out = randTensor(shape, 2, { dtype: 'float64' });
  const z = randTensor(shape, 3, { dtype: 'float64' });

  it('epsilon, no churn: x_0 = x - sigma eps, x_next = x + (sigma_next - sigma) eps', () => {
    const s = new EulerDiscreteScheduler();
    s.setTimesteps(10);
    const [s0, s1] = s.sigmas as [number, number];
    const r = s.step(out, s.timesteps[0]!, x);
    assertClose(hostBuffer(r.predOriginalSample), Array.from(hostBuffer(x), (v, i) => v - s0 * hostBuffer(out)[i]!), { nmseTol: 1e-28, absTol: 1e-13 });
    assertClose(hostBuffer(r.prevSample), Array.from(hostBuffer(x), (v, i) => v + (s1 - s0) * hostBuffer(out)[i]!), { nmseTol: 1e-28, absTol: 1e-13 });
  });

  it('s_churn: sigma_hat = sigma (1 + gamma), x_hat = x + sqrt(sigma_hat^2 - sigma^2) S_noise z; outside [s_tmin, s_tmax] no churn', () => {
    const s = new EulerDiscreteScheduler();
    s.setTimesteps(10);
    const t = s.timesteps[3]!;
    const [sigma, sigmaNext] = [s.sigmas[3]!, s.sigmas[4]!];
    const sChurn = 2;
    const sNoise = 1.003;
    const gamma = Math.min(sChurn / 10, Math.SQRT2 - 1);
    const sigmaHat = sigma * (1 + gamma);
    const xHat = Array.from(hostBuffer(x), (v, i) => v + Math.sqrt(sigmaHat ** 2 - sigma ** 2) * sNoise * hostBuffer(z)[i]!);
    const r = s.step(out, t, x, { sChurn, sNoise, noise: z });
    assertClose(hostBuffer(r.predOriginalSample), xHat.map((v, i) => v - sigmaHat * hostBuffer(out)[i]!), { nmseTol: 1e-26, absTol: 1e-12 });
    assertClose(hostBuffer(r.prevSample), xHat.map((v, i) => v + (sigmaNext - sigmaHat) * hostBuffer(out)[i]!), { nmseTol: 1e-26, absTol: 1e-12 });
    // sigma above s_tmax: a plain Euler step, and no noise is asked for.
    const plain = s.step(out, t, x, { sChurn, sTmax: sigma / 2 });
    assertClose(hostBuffer(plain.prevSample), Array.from(hostBuffer(x), (v, i) => v + (sigmaNext - sigma) * hostBuffer(out)[i]!), { nmseTol: 1e-28, absTol: 1e-13 });
  });

  it('v_prediction and sample: x_0 = x / (sigma^2 + 1) - sigma v / sqrt(sigma^2 + 1); x_0 = output', () => {
    for (const type of ['v_prediction', 'sample'] as PredictionType[]) {
      const s = new EulerDiscreteScheduler({ prediction_type: type });
      s.setTimesteps(7);
      const t = s.timesteps[2]!;
      const sg = s.sigmas[2]!;
      const x0 = Array.from(hostBuffer(x), (v, i) => (type === 'sample' ? hostBuffer(out)[i]! : v / (sg * sg + 1) - (sg * hostBuffer(out)[i]!) / Math.sqrt(sg * sg + 1)));
      const r = s.step(out, t, x);
      assertClose(hostBuffer(r.predOriginalSample), x0, { nmseTol: 1e-26, absTol: 1e-12, what: type });
      assertClose(hostBuffer(r.prevSample), x0.map((v, i) => hostBuffer(x)[i]! + (s.sigmas[3]! - sg) * ((hostBuffer(x)[i]! - v) / sg)), { nmseTol: 1e-26, absTol: 1e-12, what: type });
    }
  });

  it('scaleModelInput divides by sqrt(sigma^2 + 1); addNoise is x_0 + sigma noise', () => {
    const s = new EulerDiscreteScheduler({ use_karras_sigmas: true });
    s.setTimesteps(12);
    const t = s.timesteps[5]!;
    const sg = s.sigmas[5]!;
    assertClose(hostBuffer(s.scaleModelInput(x, t)), Array.from(hostBuffer(x), (v) => v / Math.sqrt(sg * sg + 1)), { nmseTol: 1e-28, absTol: 1e-13 });
    const noisy = s.addNoise(out, z, [t, s.timesteps[0]!]);
    const per = out.size / 2;
    assertClose(hostBuffer(noisy), Array.from(hostBuffer(out), (v, i) => v + (i < per ? sg : s.sigmas[0]!) * hostBuffer(z)[i]!), { nmseTol: 1e-28, absTol: 1e-12 });
  });

  it('timestep_type continuous with v_prediction hands the model 0.25 log sigma', () => {
    const s = new EulerDiscreteScheduler({ timestep_type: 'continuous', prediction_type: 'v_prediction' });
    s.setTimesteps(5);
    s.timesteps.forEach((t, i) => assert.ok(Math.abs(t - 0.25 * Math.log(s.sigmas[i]!)) < 1e-6));
  });
});

describe('EulerDiscreteScheduler: Gaussian data with the ideal denoiser', () => {
  // The exact probability-flow ODE maps x_T ~ N(0, sigma_max^2) to N(MU (1 - k), (sigma_max k)^2),
  // k = S / sqrt(S^2 + sigma_max^2) (x_T's mean is 0, not MU). Measured errors (epsilon, linspace)
  // at 10, 20, 40, 80 steps: std 0.119, 0.062, 0.032, 0.016; mean 3.8e-4 .. 5.1e-5: order ~0.97.
  for (const type of ['epsilon', 'v_prediction', 'sample'] as PredictionType[]) {
    for (const karras of [false, true]) {
      it(`${type}${karras ? ', Karras sigmas' : ''}: mean and std converge at first order`, () => {
        const make = (): EulerDiscreteScheduler => new EulerDiscreteScheduler({ prediction_type: type, use_karras_sigmas: karras });
        const sigmaMax = make().sigmas[0]!;
        const k = S / Math.sqrt(S * S + sigmaMax * sigmaMax);
        const ms = [10, 20, 40, 80].map((n) => gaussianMoments(make(), n, type));
        const stdErr = ms.map((m) => Math.abs(m.std - sigmaMax * k));
        const meanErr = ms.map((m) => Math.abs(m.mean - MU * (1 - k)));
        assert.ok(stdErr[3]! < 0.02 && meanErr[3]! < 1e-4, `at 80 steps: std error ${stdErr[3]}, mean error ${meanErr[3]}`);
        for (const o of [...observedOrders(stdErr), ...observedOrders(meanErr)]) assert.ok(o > 0.85 && o < 1.15, `observed order ${o.toFixed(3)} (std ${stdErr.join(', ')}; mean ${meanErr.join(', ')})`);
      });
    }
  }
});

describe('EulerDiscreteScheduler: run state, config and errors', () => {
  it('no state leaks: a second run, or setTimesteps again, equals a fresh scheduler (with churn noise)', () => {
    const run = (s: EulerDiscreteScheduler, n: number, seed: number): Float32Array => {
      s.setTimesteps(n);
      const gen = new Generator(seed);
      let x = gen.normal([1, 4, 3, 2], 0, s.initNoiseSigma);
      for (const t of s.timesteps) x = s.step(tensor(hostBuffer(s.scaleModelInput(x, t)).map((v) => 0.2 * v), x.shape), t, x, { sChurn: 1, generator: gen }).prevSample;
      return x.toArray();
    };
    const fresh = run(new EulerDiscreteScheduler({ timestep_spacing: 'trailing' }), 15, 5);
    const reused = new EulerDiscreteScheduler({ timestep_spacing: 'trailing' });
    run(reused, 4, 1);
    assert.deepEqual(run(reused, 15, 5), fresh);
    assert.deepEqual(run(reused, 15, 5), fresh);
  });

  it('config: diffusers defaults, round trip through schedulerFromConfig, swapping from another scheduler', () => {
    const s = new EulerDiscreteScheduler({ use_karras_sigmas: true, timestep_spacing: 'trailing', sigma_min: 0.05 });
    const json = s.toConfig();
    assert.equal(json['_class_name'], 'EulerDiscreteScheduler');
    assert.equal(json['interpolation_type'], 'linear');
    assert.equal(json['sigma_max'], null);
    assert.deepEqual(schedulerFromConfig(json).toConfig(), json);
    assert.equal(new EulerDiscreteScheduler().config.timestepSpacing, 'linspace');
    const fromDdim = schedulerFromConfig({ _class_name: 'DDIMScheduler', clip_sample: false, set_alpha_to_one: false, beta_schedule: 'scaled_linear' }, 'EulerDiscreteScheduler');
    assert.equal(fromDdim.className, 'EulerDiscreteScheduler');
    s.setTimesteps(10);
    assert.ok(Math.abs(s.sigmas[9]! - 0.05) < 1e-12, 'sigma_min sets the Karras end point');
  });

  it('rescale_betas_zero_snr: abar_{T-1} = 2^-24 keeps sigma_max finite (4096); steps_offset shifts leading timesteps', () => {
    const s = new EulerDiscreteScheduler({ rescale_betas_zero_snr: true, timestep_spacing: 'trailing' });
    s.setTimesteps(10);
    assert.equal(s.timesteps[0], 999);
    assert.ok(Math.abs(s.sigmas[0]! - Math.sqrt((1 - 2 ** -24) / 2 ** -24)) < 1e-9, `sigma_max ${s.sigmas[0]}`);
    assert.equal(s.initNoiseSigma, s.sigmas[0]);
    const l = new EulerDiscreteScheduler({ timestep_spacing: 'leading', steps_offset: 1 });
    l.setTimesteps(4);
    assert.deepEqual(l.timesteps, [751, 501, 251, 1]);
    assert.ok(Math.abs(l.initNoiseSigma - Math.sqrt(l.sigmas[0]! ** 2 + 1)) < 1e-12);
  });

  it('LMS of order 1 is this Euler step', () => {
    const e = new EulerDiscreteScheduler({ timestep_spacing: 'leading' });
    const l = new LMSDiscreteScheduler({ timestep_spacing: 'leading' });
    e.setTimesteps(8);
    l.setTimesteps(8);
    assert.deepEqual(e.sigmas.map(Math.fround), l.sigmas.map(Math.fround));
    let xe = randTensor([1, 5], 7, { dtype: 'float64' });
    let xl = xe;
    l.timesteps.forEach((t, i) => {
      const out = randTensor([1, 5], 10 + i, { dtype: 'float64' });
      xe = e.step(out, e.timesteps[i]!, xe).prevSample;
      xl = l.step(out, t, xl, { order: 1 }).prevSample;
      assertClose(hostBuffer(xl), hostBuffer(xe), { nmseTol: 1e-20, absTol: 1e-9, what: `step ${i}` });
    });
  });

  it('errors name the argument, the value and what is allowed', () => {
    assert.throws(() => new EulerDiscreteScheduler({ interpolation_type: 'log_linear' }), /config key "interpolation_type" has value "log_linear"; allowed: one of "linear"/);
    assert.throws(() => new EulerDiscreteScheduler({ sigma_min: -1 }), /config key "sigma_min" has value -1; allowed: null or a finite number > 0/);
    const s = new EulerDiscreteScheduler();
    s.setTimesteps(10);
    const x = randTensor([2, 4], 1);
    assert.throws(() => s.step(x, 500, x), /timestep 500 is not one of this run's timesteps \(999, 888, 777, 666, \.\.\., 111, 0\)/);
    assert.throws(() => s.step(x, 999, x, { sChurn: 1 }), /this step adds Gaussian noise; pass \{ generator \}/);
    assert.throws(() => s.step(x, 999, x, { sChurn: -1 }), /'sChurn' must be a finite number >= 0, found -1/);
    assert.throws(() => s.step(randTensor([2, 5], 2), 999, x), /input 'modelOutput' has shape \[2, 5\], expected the shape of x \[2, 4\]/);
    assert.throws(() => s.setTimesteps({ timesteps: [999, 0] }), /custom timesteps are not supported by EulerDiscreteScheduler/);
    assert.throws(() => s.setTimesteps(0), /num_inference_steps must be an integer in \[1, num_train_timesteps = 1000\], found 0/);
  });
});

describe('EulerDiscreteScheduler vs the pure euler sampler (src/samplers, k-diffusion form)', () => {
  it('the same sigmas give the same samples (to float64 rounding)', async () => {
    const { euler } = await import('../../src/samplers/index.js');
    const { idealDenoiser, schedulerRun } = await import('./sigma_helpers.js');
    const s = new EulerDiscreteScheduler({ use_karras_sigmas: true, prediction_type: 'sample' });
    const xT = randTensor([2, 5], 3, { dtype: 'float64', lo: -100, hi: 100 });
    const a = schedulerRun(s, 12, xT);
    assertClose(hostBuffer(a), hostBuffer(euler(idealDenoiser, xT, s.sigmas)), { nmseTol: 1e-26, absTol: 1e-12 });
  });
});

describe('sigmaX0Tensor', () => {
  it('equals sigmaX0 element by element, rounded once into the dtype (float32 bits kept)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const type of ['epsilon', 'v_prediction', 'sample'] as const) {
        const out = randTensor([2, 5, 3, 3], 1, { dtype, lo: -3, hi: 3 });
        const x = randTensor([2, 5, 3, 3], 2, { dtype, lo: -20, hi: 20 });
        const round = dtype === 'float32' ? Math.fround : (v: number): number => v;
        const want = Array.from(hostBuffer(x), (v, i) => round(sigmaX0(type, hostBuffer(out)[i]!, v, 7.3)));
        assert.deepEqual(Array.from(hostBuffer(sigmaX0Tensor(type, out, x, 7.3))), want, `${dtype} ${type}`);
      }
    }
  });
});
