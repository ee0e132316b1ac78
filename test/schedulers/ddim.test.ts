/**
 * DDIMScheduler: reproduces diffusers 0.25.1 sampling loops step by step (test/fixtures/diffusers/
 * sampling_ddim.json: leading/trailing/linspace, eta 0/0.5/1, clipping with the clipped model
 * output, v_prediction, Stable Diffusion's set_alpha_to_one=false + steps_offset=1), closed forms
 * (eta = 0 with the true epsilon lands exactly on q(x_s | x_0)'s mean path; eta = 1's sigma is
 * DDPM's posterior std), run-state independence and errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { DDIMScheduler, type DDIMStepOptions } from '../../src/schedulers/index.js';
import { addNoise, getVelocity, posteriorStep, type PredictionType } from '../../src/diffusion/forward.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { readVectors } from '../helpers/vectors.js';
import { MU, S, discreteExactMoments as exactMoments } from '../helpers/gaussian_moments.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

interface SamplingStep {
  t: number;
  noise?: number[];
  model_output: number[];
  pred_original_sample: number[];
  prev_sample: number[];
}
interface SamplingCase {
  name: string;
  config: Record<string, unknown>;
  num_inference_steps: number;
  step_kwargs: { eta?: number; use_clipped_model_output?: boolean };
  timesteps: number[];
  init_noise_sigma: number;
  initial_sample: number[];
  steps: SamplingStep[];
  final_sample: number[];
}

/** The vectors are NCHW [2, 1, 8, 8]; with C = 1 the same data is NHWC [2, 8, 8, 1]. */
const SHAPE = [2, 8, 8, 1];

/** The vectors' stand-in model (see test/fixtures/diffusers/README.md), float32 arithmetic. */
function standInModel(x: ArrayLike<number>, t: number): Tensor {
  const c = Math.fround(0.3 * Math.cos(((t / 1000) * Math.PI) / 2));
  return tensor(Float32Array.from({ length: x.length }, (_, k) => Math.fround(Math.fround(x[k]! * c) + Math.fround(0.05 * Math.sin(k)))), SHAPE);
}

// Tolerances: diffusers computes alphas_cumprod and the step coefficients in float32, we in
// float64 (see ddpm.test.ts). DDIM's per-step nmse is ~1e-13 (measured max 6.7e-13, with eta 0.5
// and the clipped model output), max-abs ~2e-6 of the sample's scale: we allow 1e-11 and 1e-5.
const TOL = { nmseTol: 1e-11, absTol: 1e-5 };

const cases: SamplingCase[] = readVectors<{ cases: SamplingCase[] }>('sampling_ddim.json').cases;

function stepOptions(c: SamplingCase, noise: number[] | undefined): DDIMStepOptions {
  const o: DDIMStepOptions = {};
  if (c.step_kwargs.eta !== undefined) o.eta = c.step_kwargs.eta;
  if (c.step_kwargs.use_clipped_model_output !== undefined) o.useClippedModelOutput = c.step_kwargs.use_clipped_model_output;
  if (noise) o.noise = tensor(noise, SHAPE);
  return o;
}

describe('DDIMScheduler vs diffusers 0.25.1 (sampling_ddim.json)', () => {
  for (const c of cases) {
    it(`${c.name}: config round trip, timesteps, every step and the full loop`, () => {
      const s = new DDIMScheduler(c.config);
      const { _diffusers_version: _v, ...json } = s.toConfig();
      assert.deepEqual(json, { _class_name: 'DDIMScheduler', ...c.config });
      s.setTimesteps(c.num_inference_steps);
      assert.deepEqual(s.timesteps, c.timesteps);
      assert.equal(s.initNoiseSigma, c.init_noise_sigma);
      c.steps.forEach((st, i) => {
        const x = tensor(i === 0 ? c.initial_sample : c.steps[i - 1]!.prev_sample, SHAPE);
        assertClose(hostBuffer(standInModel(hostBuffer(x), st.t)), st.model_output, { nmseTol: 1e-12, absTol: 1e-6, what: `step ${i} model output` });
        const r = s.step(tensor(st.model_output, SHAPE), st.t, x, stepOptions(c, st.noise));
        assertClose(hostBuffer(r.predOriginalSample), st.pred_original_sample, { ...TOL, what: `step ${i} (t=${st.t}) pred_original_sample` });
        assertClose(hostBuffer(r.prevSample), st.prev_sample, { ...TOL, what: `step ${i} (t=${st.t}) prev_sample` });
      });
      let x = tensor(c.initial_sample, SHAPE);
      s.timesteps.forEach((t, i) => {
        x = s.step(standInModel(hostBuffer(x), t), t, x, stepOptions(c, c.steps[i]!.noise)).prevSample;
      });
      assertClose(hostBuffer(x), c.final_sample, { ...TOL, what: 'final sample' });
    });
  }
});

describe('DDIMScheduler: closed forms', () => {
  const shape = [2, 3, 5, 3];
  // float64 so the identities hold to double rounding.
  const x0 = randTensor(shape, 1, { dtype: 'float64' });
  const eps = randTensor(shape, 2, { dtype: 'float64' });

  for (const type of ['epsilon', 'sample', 'v_prediction'] as PredictionType[]) {
    it(`${type}, eta = 0: the true model output moves x_t to exactly sqrt(abar_s) x_0 + sqrt(1 - abar_s) eps`, () => {
      const s = new DDIMScheduler({ prediction_type: type, clip_sample: false });
      s.setTimesteps(10);
      for (const t of s.timesteps) {
        const xt = addNoise(s.alphasCumprod, x0, eps, t);
        const truth = type === 'epsilon' ? eps : type === 'sample' ? x0 : getVelocity(s.alphasCumprod, x0, eps, t);
        const r = s.step(truth, t, xt);
        assertClose(hostBuffer(r.predOriginalSample), hostBuffer(x0), { nmseTol: 1e-24, absTol: 1e-11, what: `x0 at t=${t}` });
        const prevT = t - 100;
        const expected = prevT >= 0 ? hostBuffer(addNoise(s.alphasCumprod, x0, eps, prevT)) : hostBuffer(x0); // abar before t = 0 is 1
        assertClose(hostBuffer(r.prevSample), expected, { nmseTol: 1e-24, absTol: 1e-11, what: `x_prev at t=${t}` });
      }
    });
  }

  it('eta = 1: sigma equals the DDPM posterior std of the same jump; eta scales it', () => {
    const s = new DDIMScheduler({ clip_sample: false });
    s.setTimesteps(20);
    const t = 700;
    const p = posteriorStep(s.alphasCumprod, t, t - 50);
    assert.ok(Math.abs(s.variance(t, t - 50) - p.posteriorVariance) < 1e-15);
    const xt = randTensor(shape, 3, { dtype: 'float64' });
    const out = randTensor(shape, 4, { dtype: 'float64' });
    const noise = randTensor(shape, 5, { dtype: 'float64' });
    const zero = tensor(new Float64Array(xt.size), shape, { dtype: 'float64' });
    for (const eta of [0.5, 1]) {
      const a = hostBuffer(s.step(out, t, xt, { eta, noise }).prevSample);
      const b = hostBuffer(s.step(out, t, xt, { eta, noise: zero }).prevSample);
      const std = (a[0]! - b[0]!) / hostBuffer(noise)[0]!;
      assert.ok(Math.abs(std - eta * Math.sqrt(p.posteriorVariance)) < 1e-12, `eta ${eta}: std ${std}`);
    }
  });

  it('set_alpha_to_one = false: the last step lands on abar_0, not 1', () => {
    const s = new DDIMScheduler({ clip_sample: false, set_alpha_to_one: false });
    assert.equal(s.finalAlphaCumprod, s.alphasCumprod[0]);
    s.setTimesteps(10);
    const r = s.step(eps, 0, addNoise(s.alphasCumprod, x0, eps, 0));
    assertClose(hostBuffer(r.prevSample), hostBuffer(addNoise(s.alphasCumprod, x0, eps, 0)), { nmseTol: 1e-24, absTol: 1e-11 });
  });

  it('eta = 0 draws no noise; a NaN in the model output stays in its element', () => {
    const s = new DDIMScheduler({ clip_sample: false });
    s.setTimesteps(10);
    const gen = new Generator(3);
    const before = gen.getState();
    const out = randTensor([2, 3], 1);
    hostBuffer(out)[2] = NaN;
    const r = s.step(out, 500, randTensor([2, 3], 2), { generator: gen });
    assert.deepEqual(gen.getState(), before);
    assert.deepEqual(Array.from(hostBuffer(r.prevSample), Number.isNaN), [false, false, true, false, false, false]);
  });
});



describe('DDIMScheduler: Gaussian data with the ideal denoiser', () => {
  it('eta = 0 recovers the data mean, and the std with first-order convergence', () => {
    // Measured std error (leading spacing): 0.110, 0.059, 0.031, 0.015 at 10, 20, 40, 80 steps:
    // it halves when the steps double (DDIM is a first-order solver of the probability-flow ODE).
    // The mean is off by ~1.5e-3 at every N: leading spacing starts below T - 1 (Lin et al. 2023).
    const errs = [10, 20, 40, 80].map((steps) => {
      const s = new DDIMScheduler({ clip_sample: false });
      s.setTimesteps(steps);
      const m = exactMoments(s);
      assert.ok(Math.abs(m.mean - MU) < 3e-3, `mean ${m.mean} at ${steps} steps`);
      return Math.abs(m.std - S);
    });
    for (let i = 1; i < errs.length; i++) {
      const order = Math.log2(errs[i - 1]! / errs[i]!);
      assert.ok(order > 0.8 && order < 1.2, `convergence order ${order.toFixed(3)} between ${errs[i - 1]} and ${errs[i]}`);
    }
  });
});

describe('DDIMScheduler: run state and errors', () => {
  it('no state leaks: a second run, or setTimesteps again, equals a fresh scheduler', () => {
    const run = (s: DDIMScheduler, n: number, seed: number): Float32Array => {
      s.setTimesteps(n);
      const gen = new Generator(seed);
      let x = gen.normal([1, 4, 3, 2]);
      for (const t of s.timesteps) x = s.step(tensor(hostBuffer(x).map((v) => 0.2 * v), x.shape), t, x, { eta: 0.7, generator: gen }).prevSample;
      return x.toArray();
    };
    const fresh = run(new DDIMScheduler({ timestep_spacing: 'trailing' }), 15, 5);
    const reused = new DDIMScheduler({ timestep_spacing: 'trailing' });
    run(reused, 4, 1);
    assert.deepEqual(run(reused, 15, 5), fresh);
  });

  it('custom timesteps jump to the next listed one', () => {
    const s = new DDIMScheduler({ clip_sample: false });
    s.setTimesteps({ timesteps: [900, 450, 20] });
    assert.equal(s.previousTimestep(900), 450);
    assert.equal(s.previousTimestep(20), -1);
  });

  it('errors name the op, the argument and what was expected', () => {
    const x = randTensor([2, 4], 1);
    assert.throws(() => new DDIMScheduler().step(x, 500, x), /DDIMScheduler.step: call setTimesteps\(numInferenceSteps\) before step/);
    const s = new DDIMScheduler();
    s.setTimesteps(10);
    assert.throws(() => s.step(x, 500, x, { eta: -1 }), /'eta' must be a finite number >= 0/);
    assert.throws(() => s.step(x, 500, x, { eta: 1 }), /this step adds Gaussian noise; pass \{ generator \}/);
    assert.throws(() => s.step(x, -1, x), /timestep must be an integer in \[0, num_train_timesteps = 1000\), found -1/);
    assert.throws(() => s.step(randTensor([2, 5], 2), 500, x), /input 'modelOutput' has shape \[2, 5\], expected \[2, 4\]/);
    assert.throws(() => s.step(x, 500, x, { useClippedModelOutput: 'yes' as never }), /'useClippedModelOutput' must be true or false/);
    assert.throws(() => s.setTimesteps(0), /num_inference_steps must be an integer in \[1, num_train_timesteps = 1000\], found 0/);
  });
});
