/**
 * PNDMScheduler: diffusers 0.25.1's timesteps (test/fixtures/diffusers/timesteps_table.json, with and
 * without the PRK warm-up); closed forms (the transfer phi of Liu et al. 2022 eq. 9 with the true
 * noise lands exactly on q(x_s | x_0)'s mean path, through every PRK and PLMS combination); the
 * first PRK step (eq. 13) and the first PLMS steps (eq. 12 and skip_prk's pseudo improved Euler)
 * by hand in float64; Gaussian data with the ideal denoiser; run state; config; errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { PNDMScheduler, schedulerFromConfig } from '../../src/schedulers/index.js';
import { addNoise, getVelocity } from '../../src/diffusion/forward.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { readVectors } from '../helpers/vectors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

interface TableRow { scheduler: string; options: Record<string, unknown>; num_inference_steps: number; timesteps: number[]; init_noise_sigma: number }
const table: TableRow[] = readVectors<{ rows: TableRow[] }>('timesteps_table.json').rows;

describe('PNDMScheduler vs diffusers 0.25.1 (timesteps_table.json)', () => {
  it('timesteps (PRK warm-up and skip_prk_steps) and init_noise_sigma for every N', () => {
    const rows = table.filter((r) => r.scheduler === 'PNDMScheduler');
    assert.ok(rows.length >= 23);
    for (const r of rows) {
      const s = new PNDMScheduler(r.options);
      s.setTimesteps(r.num_inference_steps);
      assert.deepEqual(s.timesteps, r.timesteps, `${JSON.stringify(r.options)} N=${r.num_inference_steps}`);
      assert.equal(s.initNoiseSigma, r.init_noise_sigma);
    }
  });
});

/** The transfer phi of eq. 9: x_t -> x_s along noise estimate e. */
function phi(acp: Float64Array, finalAbar: number, x: ArrayLike<number>, t: number, s: number, e: ArrayLike<number>): number[] {
  const a = acp[t]!;
  const b = s >= 0 ? acp[s]! : finalAbar;
  return Array.from(x, (v, i) => Math.sqrt(b / a) * v - ((b - a) * e[i]!) / (a * Math.sqrt(1 - b) + Math.sqrt(a * (1 - a) * b)));
}

describe('PNDMScheduler: closed forms', () => {
  const shape = [2, 3, 2, 1];
  const x0 = randTensor(shape, 1, { dtype: 'float64' });
  const eps = randTensor(shape, 2, { dtype: 'float64' });
  for (const skip of [true, false]) {
    // Only epsilon is constant along the path, so only it makes every combination exact (a v
    // estimate changes with t; diffusers converts the combined v at each step's start).
    for (const type of ['epsilon'] as const) {
      it(`${skip ? 'skip_prk_steps' : 'PRK warm-up'}, ${type}: the true model output moves x along sqrt(abar) x_0 + sqrt(1 - abar) eps at every call`, () => {
        const s = new PNDMScheduler({ skip_prk_steps: skip, prediction_type: type, set_alpha_to_one: true });
        s.setTimesteps(10);
        const ts = s.timesteps;
        let x = addNoise(s.alphasCumprod, x0, eps, ts[0]!);
        ts.forEach((t, c) => {
          const truth = type === 'epsilon' ? eps : getVelocity(s.alphasCumprod, x0, eps, t);
          // The model is called at (x, t): x must sit at level t for the truth to be the truth.
          assertClose(hostBuffer(x), hostBuffer(addNoise(s.alphasCumprod, x0, eps, t)), { nmseTol: 1e-24, absTol: 1e-11, what: `input at call ${c}` });
          const r = s.step(truth, t, x);
          assertClose(hostBuffer(r.predOriginalSample), hostBuffer(x0), { nmseTol: 1e-24, absTol: 1e-11, what: `x0 at call ${c}` });
          x = r.prevSample;
        });
        assertClose(hostBuffer(x), hostBuffer(x0), { nmseTol: 1e-24, absTol: 1e-11, what: 'final sample' });
      });
    }
  }
});

describe('PNDMScheduler: v_prediction', () => {
  it('the first call with the true v lands on q(x_s | x_0) (v = sqrt(abar) eps - sqrt(1 - abar) x_0 converted at x_t)', () => {
    const shape = [2, 3];
    const x0 = randTensor(shape, 1, { dtype: 'float64' });
    const eps = randTensor(shape, 2, { dtype: 'float64' });
    for (const skip of [true, false]) {
      const s = new PNDMScheduler({ skip_prk_steps: skip, prediction_type: 'v_prediction' });
      s.setTimesteps(10);
      const [t, next] = [s.timesteps[0]!, s.timesteps[1]!];
      const r = s.step(getVelocity(s.alphasCumprod, x0, eps, t), t, addNoise(s.alphasCumprod, x0, eps, t));
      assertClose(hostBuffer(r.prevSample), hostBuffer(addNoise(s.alphasCumprod, x0, eps, next)), { nmseTol: 1e-24, absTol: 1e-11 });
      assertClose(hostBuffer(r.predOriginalSample), hostBuffer(x0), { nmseTol: 1e-24, absTol: 1e-11 });
    }
  });
});

describe('PNDMScheduler: steps by hand', () => {
  const shape = [1, 2, 3, 1];
  const xT = randTensor(shape, 3, { dtype: 'float64' });
  const e = [4, 5, 6, 7, 8, 9].map((seed) => randTensor(shape, seed, { dtype: 'float64' }));

  it('skip_prk_steps: Euler-like first step, its pseudo improved Euler redo, then Adams–Bashforth 2 and 3', () => {
    const s = new PNDMScheduler({ skip_prk_steps: true });
    s.setTimesteps(10);
    const acp = s.alphasCumprod;
    const f = s.finalAlphaCumprod;
    assert.deepEqual(s.timesteps.slice(0, 5), [900, 800, 800, 700, 600]);
    const x1 = phi(acp, f, hostBuffer(xT), 900, 800, hostBuffer(e[0]!));
    const r0 = s.step(e[0]!, 900, xT);
    assertClose(hostBuffer(r0.prevSample), x1, { nmseTol: 1e-26, absTol: 1e-12, what: 'call 0' });
    // Call 1 re-takes 900 -> 800 from x_900 with (e_0 + e_1) / 2.
    const x1b = phi(acp, f, hostBuffer(xT), 900, 800, hostBuffer(e[0]!).map((v, i) => (v + hostBuffer(e[1]!)[i]!) / 2));
    const r1 = s.step(e[1]!, 800, r0.prevSample);
    assertClose(hostBuffer(r1.prevSample), x1b, { nmseTol: 1e-26, absTol: 1e-12, what: 'call 1' });
    // Call 2: (3 e_2 - e_0) / 2 from 800 to 700 (e_1 is not kept as a past estimate).
    const x2 = phi(acp, f, x1b, 800, 700, hostBuffer(e[2]!).map((v, i) => (3 * v - hostBuffer(e[0]!)[i]!) / 2));
    const r2 = s.step(e[2]!, 800, r1.prevSample);
    assertClose(hostBuffer(r2.prevSample), x2, { nmseTol: 1e-26, absTol: 1e-12, what: 'call 2' });
    // Call 3: (23 e_3 - 16 e_2 + 5 e_0) / 12.
    const x3 = phi(acp, f, x2, 700, 600, hostBuffer(e[3]!).map((v, i) => (23 * v - 16 * hostBuffer(e[2]!)[i]! + 5 * hostBuffer(e[0]!)[i]!) / 12));
    const r3 = s.step(e[3]!, 700, r2.prevSample);
    assertClose(hostBuffer(r3.prevSample), x3, { nmseTol: 1e-26, absTol: 1e-12, what: 'call 3' });
  });

  it('PRK warm-up: one RK4 step (start, mid, mid, end), then PLMS with 4 estimates', () => {
    const s = new PNDMScheduler();
    s.setTimesteps(10);
    const acp = s.alphasCumprod;
    const f = s.finalAlphaCumprod;
    assert.deepEqual(s.timesteps.slice(0, 5), [900, 850, 850, 800, 800]);
    const r0 = s.step(e[0]!, 900, xT);
    assertClose(hostBuffer(r0.prevSample), phi(acp, f, hostBuffer(xT), 900, 850, hostBuffer(e[0]!)), { nmseTol: 1e-26, absTol: 1e-12, what: 'k1 to the midpoint' });
    const r1 = s.step(e[1]!, 850, r0.prevSample);
    assertClose(hostBuffer(r1.prevSample), phi(acp, f, hostBuffer(xT), 900, 850, hostBuffer(e[1]!)), { nmseTol: 1e-26, absTol: 1e-12, what: 'k2 to the midpoint' });
    const r2 = s.step(e[2]!, 850, r1.prevSample);
    assertClose(hostBuffer(r2.prevSample), phi(acp, f, hostBuffer(xT), 900, 800, hostBuffer(e[2]!)), { nmseTol: 1e-26, absTol: 1e-12, what: 'k3 to the end' });
    const rk4 = hostBuffer(e[0]!).map((v, i) => v / 6 + hostBuffer(e[1]!)[i]! / 3 + hostBuffer(e[2]!)[i]! / 3 + hostBuffer(e[3]!)[i]! / 6);
    const r3 = s.step(e[3]!, 800, r2.prevSample);
    assertClose(hostBuffer(r3.prevSample), phi(acp, f, hostBuffer(xT), 900, 800, rk4), { nmseTol: 1e-26, absTol: 1e-12, what: 'RK4 combination' });
    assert.deepEqual(s.prkTimesteps.length, 12);
  });
});

describe('PNDMScheduler: Gaussian data with the ideal denoiser', () => {
  // Data N(MU, S^2); x_T ~ N(0, 1) at the first timestep T0. The exact probability-flow map to
  // the final level f (abar_f = final_alpha_cumprod) is x_f = sqrt(abar_f) MU + g_f (x_T - sqrt(abar_T0) MU) / g_T0,
  // g = sqrt(abar S^2 + 1 - abar). Measured std errors at 10, 20, 40 steps: 3.7e-2, 4.2e-3, 3.3e-4
  // (observed orders 3.1, 3.7, for both modes); mean 3.0e-4, 2.2e-5, ~1e-6.
  const MU = 0.5;
  const S = 0.3;
  const ideal = (acp: Float64Array, x: Tensor, t: number): Tensor => {
    const a = acp[t]!;
    const k = (Math.sqrt(a) * S * S) / (a * S * S + 1 - a);
    return tensor(Float64Array.from(hostBuffer(x), (v) => (v - Math.sqrt(a) * (MU + k * (v - Math.sqrt(a) * MU))) / Math.sqrt(1 - a)), x.shape, { dtype: 'float64' });
  };
  for (const skip of [true, false]) {
    it(`${skip ? 'skip_prk_steps' : 'PRK warm-up'}: the error shrinks faster than third order`, () => {
      const errs = [10, 20, 40].map((n) => {
        const s = new PNDMScheduler({ skip_prk_steps: skip });
        s.setTimesteps(n);
        let x = tensor([0, 1], [2, 1], { dtype: 'float64' });
        for (const t of s.timesteps) x = s.step(ideal(s.alphasCumprod, x, t), t, x).prevSample;
        const [b, b1] = [hostBuffer(x)[0]!, hostBuffer(x)[1]!];
        const aT = s.alphasCumprod[s.timesteps[0]!]!;
        const af = s.finalAlphaCumprod;
        const gT = Math.sqrt(aT * S * S + 1 - aT);
        const gf = Math.sqrt(af * S * S + 1 - af);
        return { mean: Math.abs(b - (Math.sqrt(af) * MU - (gf * Math.sqrt(aT) * MU) / gT)), std: Math.abs(b1 - b - gf / gT) };
      });
      assert.ok(errs[2]!.std < 5e-4 && errs[2]!.mean < 2e-5, `at 40 steps: ${JSON.stringify(errs[2])}`);
      for (let i = 1; i < errs.length; i++) {
        const order = Math.log2(errs[i - 1]!.std / errs[i]!.std);
        assert.ok(order > 2.8, `observed order ${order.toFixed(3)} (${errs.map((e) => e.std).join(', ')})`);
      }
    });
  }
});

describe('PNDMScheduler: run state, config and errors', () => {
  const run = (s: PNDMScheduler, n: number, seed: number, stopAfter = Infinity): Float32Array => {
    s.setTimesteps(n);
    const gen = new Generator(seed);
    let x = gen.normal([1, 4, 3, 2]);
    s.timesteps.forEach((t, i) => {
      if (i < stopAfter) x = s.step(tensor(hostBuffer(x).map((v) => 0.2 * v), x.shape), t, x).prevSample;
    });
    return x.toArray();
  };

  for (const skip of [true, false]) {
    it(`${skip ? 'skip_prk_steps' : 'PRK'}: no state leaks: a second run, an aborted one, or setTimesteps again equals a fresh scheduler`, () => {
      const fresh = run(new PNDMScheduler({ skip_prk_steps: skip }), 12, 5);
      const reused = new PNDMScheduler({ skip_prk_steps: skip });
      run(reused, 6, 1);
      assert.deepEqual(run(reused, 12, 5), fresh);
      assert.deepEqual(run(reused, 12, 5), fresh);
      run(reused, 12, 2, 6);
      assert.deepEqual(run(reused, 12, 5), fresh);
      // Aborted, then stepped again from the first timestep without setTimesteps: a new run.
      reused.setTimesteps(12);
      let y = new Generator(3).normal([1, 4, 3, 2]);
      for (const t of reused.timesteps.slice(0, 5)) y = reused.step(y, t, y).prevSample;
      let x = new Generator(5).normal([1, 4, 3, 2]);
      for (const t of reused.timesteps) x = reused.step(tensor(hostBuffer(x).map((v) => 0.2 * v), x.shape), t, x).prevSample;
      assert.deepEqual(x.toArray(), fresh);
    });
  }

  it('config: diffusers keys and defaults, round trip through schedulerFromConfig', () => {
    const s = new PNDMScheduler({ skip_prk_steps: true, steps_offset: 1, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
    const json = s.toConfig();
    assert.deepEqual(Object.keys(json), ['_class_name', '_diffusers_version', 'num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'trained_betas', 'skip_prk_steps', 'set_alpha_to_one', 'prediction_type', 'timestep_spacing', 'steps_offset']);
    assert.deepEqual(schedulerFromConfig(json).toConfig(), json);
    assert.equal(new PNDMScheduler().finalAlphaCumprod, new PNDMScheduler().alphasCumprod[0]);
    s.setTimesteps(50);
    assert.deepEqual(s.timesteps.slice(0, 3), [981, 961, 961]);
  });

  it('errors name the argument, the value and what is allowed', () => {
    assert.throws(() => new PNDMScheduler({ prediction_type: 'sample' }), /config key "prediction_type" has value "sample"; allowed: one of "epsilon", "v_prediction"/);
    const s = new PNDMScheduler();
    assert.throws(() => s.setTimesteps(3), /the PRK warm-up needs num_inference_steps >= 4, found 3; use more steps or skip_prk_steps: true/);
    assert.throws(() => s.setTimesteps({ timesteps: [900, 100] }), /custom timesteps are not supported by PNDMScheduler/);
    const x = randTensor([2, 4], 1);
    assert.throws(() => s.step(x, 900, x), /call setTimesteps\(numInferenceSteps\) before step/);
    s.setTimesteps(10);
    assert.throws(() => s.step(x, 800, x), /expected timestep 900 \(position 0 of scheduler.timesteps\), found 800; PNDM steps must follow scheduler.timesteps in order/);
    s.step(x, 900, x);
    assert.throws(() => s.step(x, 800, x), /expected timestep 850 \(position 1 of scheduler.timesteps\), found 800/);
    assert.throws(() => s.step(x, 1000, x), /timestep must be an integer in \[0, num_train_timesteps = 1000\), found 1000/);
  });
});
