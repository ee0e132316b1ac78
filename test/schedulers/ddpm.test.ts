/**
 * DDPMScheduler: reproduces diffusers 0.25.1 sampling loops step by step (test/fixtures/diffusers/
 * sampling_ddpm.json), closed forms (true epsilon recovers x_0; posterior mean and each variance
 * type), run-state independence, custom timesteps and errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, zeros } from '../../src/tensor/create.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { DDPMScheduler, dynamicThreshold } from '../../src/schedulers/index.js';
import { addNoise, getVelocity, posteriorStep, type PredictionType } from '../../src/diffusion/forward.js';
import { assertClose } from '../helpers/closeness.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { randTensor } from '../helpers/data.js';
import { readVectors } from '../helpers/vectors.js';
import { MU, S, discreteExactMoments as exactMoments } from '../helpers/gaussian_moments.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

interface SamplingStep {
  i: number;
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
  step_kwargs: Record<string, unknown>;
  timesteps: number[];
  init_noise_sigma: number;
  initial_sample: number[];
  steps: SamplingStep[];
  final_sample: number[];
}

/** The vectors are NCHW [2, 1, 8, 8]; with C = 1 the same data is NHWC [2, 8, 8, 1]. */
const SHAPE = [2, 8, 8, 1];

/**
 * The vectors' stand-in model: x * fp32(0.3 cos(t / 1000 * pi / 2)) + fp32(0.05 sin(k)), float32
 * arithmetic, evaluated left to right as Python does.
 */
function standInModel(x: ArrayLike<number>, t: number): Tensor {
  const c = Math.fround((0.3 * Math.cos(((t / 1000) * Math.PI) / 2)));
  return tensor(Float32Array.from({ length: x.length }, (_, k) => Math.fround(Math.fround(x[k]! * c) + Math.fround(0.05 * Math.sin(k)))), SHAPE);
}

// Tolerances: diffusers computes alphas_cumprod (a cumulative product of up to 1000 float32
// factors) and every step coefficient in float32; we compute them in float64 and round once. The
// ~1e-6 relative difference in abar_t shows as nmse ~1e-11..1e-10 per step (measured max 1.3e-10)
// and max-abs ~5e-6 of the sample's scale: we allow 1e-9 and 2e-5. Predicted x_0 agrees to
// nmse <= 1e-12 (measured 8e-13). The model output is compared to 1e-6 relative: the stand-in's
// float32 products differ from PyTorch by at most one float32 rounding.
const STEP_TOL = { nmseTol: 1e-9, absTol: 2e-5 };
const X0_TOL = { nmseTol: 1e-11, absTol: 2e-5 };

const cases: SamplingCase[] = readVectors<{ cases: SamplingCase[] }>('sampling_ddpm.json').cases;

describe('DDPMScheduler vs diffusers 0.25.1 (sampling_ddpm.json)', () => {
  for (const c of cases) {
    it(`${c.name}: config round trip, timesteps, every step and the full loop`, () => {
      const s = new DDPMScheduler(c.config);
      const { _diffusers_version: _v, ...json } = s.toConfig();
      assert.deepEqual(json, { _class_name: 'DDPMScheduler', ...c.config });
      s.setTimesteps(c.num_inference_steps);
      assert.deepEqual(s.timesteps, c.timesteps);
      assert.equal(s.initNoiseSigma, c.init_noise_sigma);
      // Step by step from the stored inputs, so errors do not compound.
      c.steps.forEach((st, i) => {
        const x = tensor(i === 0 ? c.initial_sample : c.steps[i - 1]!.prev_sample, SHAPE);
        assertClose(hostBuffer(standInModel(hostBuffer(x), st.t)), st.model_output, { nmseTol: 1e-12, absTol: 1e-6, what: `step ${i} model output` });
        const r = s.step(tensor(st.model_output, SHAPE), st.t, x, st.noise ? { noise: tensor(st.noise, SHAPE) } : {});
        assertClose(hostBuffer(r.predOriginalSample), st.pred_original_sample, { ...X0_TOL, what: `step ${i} (t=${st.t}) pred_original_sample` });
        assertClose(hostBuffer(r.prevSample), st.prev_sample, { ...STEP_TOL, what: `step ${i} (t=${st.t}) prev_sample` });
      });
      // The whole loop with our own model evaluations (errors may compound: 1e-9 still, measured 2.3e-11).
      let x = tensor(c.initial_sample, SHAPE);
      s.timesteps.forEach((t, i) => {
        const noise = c.steps[i]!.noise;
        x = s.step(standInModel(hostBuffer(x), t), t, x, noise ? { noise: tensor(noise, SHAPE) } : {}).prevSample;
      });
      assertClose(hostBuffer(x), c.final_sample, { ...STEP_TOL, what: 'final sample' });
    });
  }
});

describe('DDPMScheduler: closed forms', () => {
  const shape = [3, 4, 5, 3]; // batch 3, H != W, 3 channels
  // float64, so the check is exact up to double rounding (float32 x_t loses ~1e-7 relative, which
  // 1 / sqrt(abar_t) ~ 100 amplifies at t = 950).
  const x0 = randTensor(shape, 1, { dtype: 'float64' });
  const eps = randTensor(shape, 2, { dtype: 'float64' });

  for (const type of ['epsilon', 'sample', 'v_prediction'] as PredictionType[]) {
    it(`${type}: the true model output recovers x_0 exactly and the step is the posterior mean`, () => {
      const s = new DDPMScheduler({ prediction_type: type, clip_sample: false });
      s.setTimesteps(20);
      for (const t of [950, 500, 50, 0]) {
        const xt = addNoise(s.alphasCumprod, x0, eps, t);
        const truth = type === 'epsilon' ? eps : type === 'sample' ? x0 : getVelocity(s.alphasCumprod, x0, eps, t);
        const r = s.step(truth, t, xt, { noise: zeros(shape, { dtype: 'float64' }) });
        assertClose(hostBuffer(r.predOriginalSample), hostBuffer(x0), { nmseTol: 1e-24, absTol: 1e-11, what: `x0 at t=${t}` });
        // Posterior mean of the jump t -> t - 50 (Ho et al. eq. 7), computed here from abar alone.
        const a = s.alphasCumprod[t]!;
        const ap = t - 50 >= 0 ? s.alphasCumprod[t - 50]! : 1;
        const c1 = (Math.sqrt(ap) * (1 - a / ap)) / (1 - a);
        const c2 = (Math.sqrt(a / ap) * (1 - ap)) / (1 - a);
        const mean = hostBuffer(x0).map((v, i) => c1 * v + c2 * hostBuffer(xt)[i]!);
        assertClose(hostBuffer(r.prevSample), mean, { nmseTol: 1e-24, absTol: 1e-11, what: `mean at t=${t}` });
      }
    });
  }

  it('variance types: std is sqrt(beta-tilde), sqrt(beta), their log forms, learned and learned_range', () => {
    const t = 600;
    const noise = randTensor(shape, 3);
    const out = randTensor(shape, 4);
    const xt = randTensor(shape, 5);
    const p = posteriorStep(new DDPMScheduler().alphasCumprod, t, t - 100);
    const stdOf = (config: Record<string, unknown>, modelOutput: Tensor): number => {
      const s = new DDPMScheduler({ clip_sample: false, ...config });
      s.setTimesteps(10);
      const withNoise = hostBuffer(s.step(modelOutput, t, xt, { noise }).prevSample);
      const without = hostBuffer(s.step(modelOutput, t, xt, { noise: zeros(shape) }).prevSample);
      // (x_prev - mean) / noise, averaged over elements.
      let sum = 0;
      for (let i = 0; i < noise.size; i++) sum += (withNoise[i]! - without[i]!) / hostBuffer(noise)[i]!;
      return sum / noise.size;
    };
    const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-5 * b, `${what}: ${a} vs ${b}`);
    close(stdOf({ variance_type: 'fixed_small' }, out), Math.sqrt(p.posteriorVariance), 'fixed_small');
    close(stdOf({ variance_type: 'fixed_small_log' }, out), Math.sqrt(p.posteriorVariance), 'fixed_small_log');
    close(stdOf({ variance_type: 'fixed_large' }, out), Math.sqrt(p.beta), 'fixed_large');
    close(stdOf({ variance_type: 'fixed_large_log' }, out), Math.sqrt(p.beta), 'fixed_large_log');
    // learned: the second C channels hold the variance itself; learned_range: v in [-1, 1].
    const withVar = (v: number): Tensor => {
      const data = new Float32Array(out.size * 2);
      for (let r = 0; r < out.size / 3; r++) for (let c = 0; c < 3; c++) {
        data[r * 6 + c] = hostBuffer(out)[r * 3 + c]!;
        data[r * 6 + 3 + c] = v;
      }
      return tensor(data, [3, 4, 5, 6]);
    };
    close(stdOf({ variance_type: 'learned' }, withVar(0.25)), 0.5, 'learned');
    close(stdOf({ variance_type: 'learned_range' }, withVar(-1)), Math.sqrt(p.posteriorVariance), 'learned_range v=-1');
    close(stdOf({ variance_type: 'learned_range' }, withVar(1)), Math.sqrt(p.beta), 'learned_range v=+1');
    close(stdOf({ variance_type: 'learned_range' }, withVar(0)), Math.sqrt(Math.sqrt(p.beta * p.posteriorVariance)), 'learned_range v=0');
    // The learned split must not change the mean: same as fixed_small's mean.
    const s1 = new DDPMScheduler({ clip_sample: false, variance_type: 'learned_range' });
    const s2 = new DDPMScheduler({ clip_sample: false });
    s1.setTimesteps(10);
    s2.setTimesteps(10);
    const z = { noise: zeros(shape) };
    assertClose(hostBuffer(s1.step(withVar(0.3), t, xt, z).prevSample), hostBuffer(s2.step(out, t, xt, z).prevSample), { nmseTol: 0, absTol: 0 });
  });

  it('clipping bounds x_0 to clip_sample_range; dynamic thresholding matches a hand computation', () => {
    const s = new DDPMScheduler({ prediction_type: 'sample', clip_sample: true, clip_sample_range: 0.5 });
    const r = s.step(tensor([-2, -0.25, 0.3, 9, NaN, 0.5], [1, 6]), 0, zeros([1, 6]));
    assert.deepEqual(Array.from(hostBuffer(r.predOriginalSample)), [-0.5, -0.25, Math.fround(0.3), 0.5, NaN, 0.5]);
    // 5 values, |x| sorted = [0, 1, 2, 3, 4]; the 0.75 quantile is at rank 3 -> s = 3 (<= max 10).
    const d = new Float32Array([4, -3, 2, -1, 0, /* sample 2: all small -> s clamps to 1 */ 0.5, -0.2, 0.1, 0, 0.3]);
    dynamicThreshold(d, 2, 0.75, 10);
    assertClose(d, [1, -1, 2 / 3, -1 / 3, 0, 0.5, -0.2, 0.1, 0, 0.3], { nmseTol: 1e-14, absTol: 1e-7 });
    // sample_max_value caps s; a NaN makes its whole sample NaN (as torch.quantile).
    const e = new Float64Array([4, -3, 2, -1, 0, 1, NaN]);
    dynamicThreshold(e.subarray(0, 5), 1, 0.75, 2);
    assert.deepEqual(Array.from(e.subarray(0, 5)), [1, -1, 1, -0.5, 0]);
    const f = new Float64Array([1, NaN]);
    dynamicThreshold(f, 1, 0.5, 2);
    assert.ok(f.every(Number.isNaN));
  });

  it('t = 0 draws no noise; a NaN in the model output stays in its element', () => {
    const s = new DDPMScheduler({ clip_sample: false });
    const gen = new Generator(7);
    const before = gen.getState();
    s.step(randTensor([2, 3], 1), 0, randTensor([2, 3], 2), { generator: gen });
    assert.deepEqual(gen.getState(), before);
    const out = randTensor([2, 3], 3);
    hostBuffer(out)[4] = NaN;
    const r = s.step(out, 500, randTensor([2, 3], 4), { generator: gen });
    assert.deepEqual(Array.from(hostBuffer(r.prevSample), Number.isNaN), [false, false, false, false, true, false]);
  });
});



describe('DDPMScheduler: Gaussian data with the ideal denoiser', () => {
  it('recovers the data mean, and the std with an error that shrinks with the step count', () => {
    const run = (steps: number, varianceType: string): { mean: number; std: number } => {
      const s = new DDPMScheduler({ clip_sample: false, variance_type: varianceType });
      s.setTimesteps(steps);
      return exactMoments(s);
    };
    // Measured: fixed_small std 0.172 / 0.272 / 0.2963 at 10 / 100 / 1000 steps (beta-tilde leaves
    // out the x_0 uncertainty, so it under-disperses by O(1/steps)); fixed_large 0.3009 at 1000.
    let prevErr = Infinity;
    for (const steps of [10, 100, 1000]) {
      const m = run(steps, 'fixed_small');
      assert.ok(Math.abs(m.mean - MU) < 1e-4, `mean ${m.mean} at ${steps} steps`);
      const err = Math.abs(m.std - S);
      assert.ok(err < prevErr / 3, `std error ${err} at ${steps} steps, previous ${prevErr}`);
      prevErr = err;
    }
    assert.ok(prevErr < 0.02 * S, `fixed_small std error ${prevErr} at 1000 steps`);
    const large = run(1000, 'fixed_large');
    assert.ok(Math.abs(large.std - S) < 0.01 * S && Math.abs(large.mean - MU) < 1e-4, `fixed_large ${JSON.stringify(large)}`);
  });
});

describe('DDPMScheduler: run state', () => {
  const shape = [2, 5, 3, 1];
  const sample = (s: DDPMScheduler, steps: number, seed: number): Float32Array => {
    s.setTimesteps(steps);
    const gen = new Generator(seed);
    let x = gen.normal(shape);
    for (const t of s.timesteps) x = s.step(standIn(x, t), t, x, { generator: gen }).prevSample;
    return x.toArray();
  };
  const standIn = (x: Tensor, t: number): Tensor => tensor(hostBuffer(x).map((v) => 0.3 * v * Math.cos(t / 700)), x.shape);

  it('no state leaks: a second run, or setTimesteps again, equals a fresh scheduler', () => {
    const fresh = sample(new DDPMScheduler({ variance_type: 'fixed_large' }), 25, 3);
    const reused = new DDPMScheduler({ variance_type: 'fixed_large' });
    sample(reused, 7, 9);
    sample(reused, 25, 4);
    assert.deepEqual(sample(reused, 25, 3), fresh);
    assert.equal(fresh.some(Number.isNaN), false);
  });

  it('generator noise is the same on the native and reference backends', () => {
    assertBackendsAgree(() => {
      const s = new DDPMScheduler();
      s.setTimesteps(10);
      const gen = new Generator(11);
      return s.step(randTensor([2, 3, 3, 2], 1), 500, randTensor([2, 3, 3, 2], 2), { generator: gen }).prevSample;
    }, { nmseTol: 1e-14, absTol: 1e-6 });
  });

  it('custom timesteps: each step jumps to the next listed timestep, the last to x_0', () => {
    const s = new DDPMScheduler({ clip_sample: false, prediction_type: 'sample' });
    s.setTimesteps({ timesteps: [999, 500, 3] });
    assert.deepEqual(s.timesteps, [999, 500, 3]);
    assert.equal(s.previousTimestep(999), 500);
    assert.equal(s.previousTimestep(3), -1);
    // With x_0 predicted exactly and no noise, the last jump (3 -> x_0) returns x_0 itself.
    const x0 = randTensor([1, 4], 5);
    const r = s.step(x0, 3, randTensor([1, 4], 6), { noise: zeros([1, 4]) });
    assertClose(hostBuffer(r.prevSample), hostBuffer(x0), { nmseTol: 1e-12, absTol: 1e-6 });
    assert.throws(() => s.step(x0, 400, x0, { noise: zeros([1, 4]) }), /timestep 400 is not one of the custom timesteps/);
    // setTimesteps(n) switches back to spaced timesteps.
    s.setTimesteps(10);
    assert.equal(s.previousTimestep(900), 800);
  });
});

describe('DDPMScheduler: errors', () => {
  const s = new DDPMScheduler();
  s.setTimesteps(10);
  const x = randTensor([2, 3, 3, 2], 1);
  it('names the op, the argument, and what was expected', () => {
    assert.throws(() => s.step(x, 500, x), /DDPMScheduler.step: this step adds Gaussian noise; pass \{ generator \}/);
    assert.throws(() => s.step(randTensor([2, 3, 3, 1], 2), 500, x, { noise: x }), /input 'modelOutput' has shape \[2, 3, 3, 1\], expected \[2, 3, 3, 2\]/);
    assert.throws(() => s.step(x, 1000, x, { noise: x }), /timestep must be an integer in \[0, num_train_timesteps = 1000\), found 1000/);
    assert.throws(() => s.step(x, 2.5, x, { noise: x }), /found 2.5/);
    assert.throws(() => s.step(x, 500, x, { noise: randTensor([2, 3], 3) }), /input 'noise' has shape \[2, 3\], expected the shape of x \[2, 3, 3, 2\]/);
    assert.throws(() => s.step(x, 500, x, { noise: x, generator: new Generator(1) }), /pass either 'noise' or 'generator', not both/);
    assert.throws(() => s.step([1, 2] as never, 500, x, { noise: x }), /input 'modelOutput' must be a Tensor/);
    assert.throws(() => s.step(x, 500, tensor(Float64Array.from(hostBuffer(x)), x.shape, { dtype: 'float64' }), { noise: x }), /'modelOutput' is float32 but 'x' is float64/);
    const learned = new DDPMScheduler({ variance_type: 'learned_range' });
    assert.throws(() => learned.step(x, 500, x, { noise: x }), /has shape \[2, 3, 3, 2\], expected \[2, 3, 3, 4\]/);
    assert.throws(() => s.setTimesteps(1001), /num_inference_steps must be an integer in \[1, num_train_timesteps = 1000\], found 1001/);
    assert.throws(() => s.setTimesteps({ timesteps: [5, 10] }), /strictly descending/);
  });
});
