/**
 * DPMSolverMultistepScheduler: reproduces diffusers 0.25.1 step by step
 * (test/fixtures/diffusers/sampling_dpmsolver_multistep.json: DPM-Solver++ 2M/3M, DPM-Solver 2M, heun,
 * Karras sigmas, lower_order_final at 10 steps, v_prediction, SDE-DPM-Solver++ 2M with recorded
 * noise), the timesteps and sigmas of timesteps_table.json, config round trip, no state leaking
 * between runs, and the Gaussian-data oracle (exact moments with the ideal denoiser; observed
 * convergence orders) for every algorithm type and order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { DPMSolverMultistepScheduler, dynamicThreshold, schedulerFromConfig } from '../../src/schedulers/index.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { readVectors } from '../helpers/vectors.js';
import { gaussianRun, observedOrders } from '../helpers/gaussian_moments.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

interface SamplingCase {
  name: string;
  config: Record<string, unknown>;
  num_inference_steps: number;
  timesteps: number[];
  sigmas: number[];
  init_noise_sigma: number;
  initial_sample: number[];
  steps: { t: number; noise?: number[]; model_output: number[]; prev_sample: number[] }[];
  final_sample: number[];
}
interface TableRow {
  scheduler: string;
  options: Record<string, unknown>;
  num_inference_steps: number;
  timesteps: number[];
  sigmas?: number[];
  init_noise_sigma: number;
}

/** The vectors are NCHW [2, 1, 8, 8]; with C = 1 the same data is NHWC [2, 8, 8, 1]. */
const SHAPE = [2, 8, 8, 1];

/** The vectors' stand-in model (see test/fixtures/diffusers/README.md), float32 arithmetic. */
export function standInModel(x: ArrayLike<number>, t: number): Tensor {
  const c = Math.fround(0.3 * Math.cos(((t / 1000) * Math.PI) / 2));
  return tensor(Float32Array.from({ length: x.length }, (_, k) => Math.fround(Math.fround(x[k]! * c) + Math.fround(0.05 * Math.sin(k)))), SHAPE);
}

// Tolerances. diffusers computes alphas_cumprod, sigmas, alpha_t, sigma_t and lambda_t in float32,
// we in float64. The one visible difference is the final sigma, sigma(t = 0) = sqrt(beta_0 / (1 -
// beta_0)): 1 - 0.9999 loses 4 digits in float32, so diffusers' 0.01000133 is 8.3e-5 above the
// exact 0.0100005 (measured max relative sigma difference 8.30e-5; all others < 1e-6). Per-step
// prev_sample: measured max nmse 2.2e-11 (Karras), max-abs / scale 4.6e-6; we allow 1e-10 and 2e-5.
const TOL = { nmseTol: 1e-10, absTol: 2e-5 };
const SIGMA_RTOL = 1e-4;

const vectorCases: SamplingCase[] = readVectors<{ cases: SamplingCase[] }>('sampling_dpmsolver_multistep.json').cases;
const tableRows: TableRow[] = readVectors<{ rows: TableRow[] }>('timesteps_table.json').rows;

function assertSigmas(actual: Float64Array, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} sigmas, expected ${expected.length}`);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) <= SIGMA_RTOL * e, `${what}: sigma[${i}] = ${actual[i]}, diffusers ${e}`));
}

describe('DPMSolverMultistepScheduler vs diffusers 0.25.1 (sampling_dpmsolver_multistep.json)', () => {
  for (const c of vectorCases) {
    it(`${c.name}: config round trip, timesteps, sigmas, every step and the full loop`, () => {
      const s = new DPMSolverMultistepScheduler(c.config);
      const { _diffusers_version: _v, ...json } = s.toConfig();
      assert.deepEqual(json, { _class_name: 'DPMSolverMultistepScheduler', ...c.config });
      assert.deepEqual(Object.keys(json), ['_class_name', ...Object.keys(c.config)]);
      s.setTimesteps(c.num_inference_steps);
      assert.deepEqual(s.timesteps, c.timesteps);
      assertSigmas(s.sigmas, c.sigmas, c.name);
      assert.equal(s.initNoiseSigma, c.init_noise_sigma);
      // Step by step on diffusers' own inputs (the multistep memory holds our conversions of them).
      c.steps.forEach((st, i) => {
        const x = tensor(i === 0 ? c.initial_sample : c.steps[i - 1]!.prev_sample, SHAPE);
        assertClose(hostBuffer(standInModel(hostBuffer(s.scaleModelInput(x, st.t)), st.t)), st.model_output, { nmseTol: 1e-12, absTol: 1e-6, what: `step ${i} model output` });
        const r = s.step(tensor(st.model_output, SHAPE), st.t, x, st.noise ? { noise: tensor(st.noise, SHAPE) } : {});
        assertClose(hostBuffer(r.prevSample), st.prev_sample, { ...TOL, what: `step ${i} (t=${st.t}) prev_sample` });
      });
      // The whole loop on our own trajectory (a second run of the same scheduler: no reset needed).
      let x = tensor(c.initial_sample, SHAPE);
      s.timesteps.forEach((t, i) => {
        const noise = c.steps[i]!.noise;
        x = s.step(standInModel(hostBuffer(x), t), t, x, noise ? { noise: tensor(noise, SHAPE) } : {}).prevSample;
      });
      assertClose(hostBuffer(x), c.final_sample, { ...TOL, what: 'final sample' });
    });
  }
});

describe('DPMSolverMultistepScheduler: timesteps_table.json', () => {
  it('timesteps (not de-duplicated, as 0.25.1), sigmas and init_noise_sigma for linspace/leading/trailing and N = 1..1000', () => {
    const rows = tableRows.filter((r) => r.scheduler === 'DPMSolverMultistepScheduler');
    assert.ok(rows.length >= 30, `found ${rows.length} rows`);
    for (const r of rows) {
      const s = new DPMSolverMultistepScheduler(r.options);
      s.setTimesteps(r.num_inference_steps);
      const what = `${JSON.stringify(r.options)} N=${r.num_inference_steps}`;
      assert.deepEqual(s.timesteps, r.timesteps, what);
      assert.equal(s.initNoiseSigma, r.init_noise_sigma);
      if (r.sigmas) assertSigmas(s.sigmas, r.sigmas, what);
    }
  });
});

describe('DPMSolverMultistepScheduler: config', () => {
  it('defaults are diffusers 0.25.1 defaults; round trip through JSON text and schedulerFromConfig', () => {
    const json = new DPMSolverMultistepScheduler().toConfig();
    assert.equal(json['algorithm_type'], 'dpmsolver++');
    assert.equal(json['solver_order'], 2);
    assert.equal(json['timestep_spacing'], 'linspace');
    assert.equal(json['lambda_min_clipped'], '-inf');
    assert.equal(json['variance_type'], null);
    const s = new DPMSolverMultistepScheduler({ algorithm_type: 'sde-dpmsolver', solver_order: 3, solver_type: 'heun', lambda_min_clipped: -5.1, variance_type: 'learned_range', use_karras_sigmas: true, timestep_spacing: 'trailing' });
    const back = schedulerFromConfig(JSON.parse(JSON.stringify(s.toConfig())));
    assert.ok(back instanceof DPMSolverMultistepScheduler);
    assert.deepEqual(back.toConfig(), s.toConfig());
  });

  it('reads other DPM-family configs as diffusers does (deis -> dpmsolver++, bh2/logrho -> midpoint)', () => {
    const s = new DPMSolverMultistepScheduler({ algorithm_type: 'deis', solver_type: 'logrho' });
    assert.equal(s.config.algorithmType, 'dpmsolver++');
    assert.equal(s.config.solverType, 'midpoint');
  });

  it('errors name the key, the value and what is allowed', () => {
    assert.throws(() => new DPMSolverMultistepScheduler({ solver_order: 4 }), /DPMSolverMultistepScheduler: config key "solver_order" has value 4; allowed: an integer in \[1, 3\]/);
    assert.throws(() => new DPMSolverMultistepScheduler({ algorithm_type: 'dpm' }), /config key "algorithm_type" has value "dpm"; allowed: one of "dpmsolver", "dpmsolver\+\+", "sde-dpmsolver", "sde-dpmsolver\+\+"/);
    assert.throws(() => new DPMSolverMultistepScheduler({ lambda_min_clipped: 'low' }), /config key "lambda_min_clipped" has value "low"; allowed: a number, or "-inf"/);
    // A DDPM model's fixed variance means "no variance channels" here, as in diffusers (the bundled models' configs say fixed_small).
    assert.equal(new DPMSolverMultistepScheduler({ variance_type: 'fixed_small' }).config.varianceType, null);
    assert.throws(() => new DPMSolverMultistepScheduler({ variance_type: 'small' }), /config key "variance_type" has value "small"; allowed: null, "learned" or "learned_range"/);
  });

  it('lambda_min_clipped drops the timesteps whose lambda is below it (cosine schedule)', () => {
    const s = new DPMSolverMultistepScheduler({ beta_schedule: 'squaredcos_cap_v2', lambda_min_clipped: -5.1 });
    s.setTimesteps(10);
    const lambda = (t: number): number => -Math.log(s.trainSigmas[t]!);
    const last = s.timesteps[0]!;
    assert.ok(lambda(last) >= -5.1, `first timestep ${last} has lambda ${lambda(last)}`);
    assert.ok(lambda(last + 2) < -5.1 || last + 2 >= 1000);
    assert.ok(last < 999);
  });
});

describe('DPMSolverMultistepScheduler: closed forms', () => {
  it('first order is DDIM: x_s = sqrt(abar_s) x0 + sqrt(1 - abar_s) eps for the true x0 and eps', () => {
    for (const algorithm_type of ['dpmsolver', 'dpmsolver++']) {
      const s = new DPMSolverMultistepScheduler({ solver_order: 1, algorithm_type });
      s.setTimesteps(10);
      const x0 = randTensor([2, 3, 2, 1], 1, { dtype: 'float64' });
      const eps = randTensor([2, 3, 2, 1], 2, { dtype: 'float64' });
      const ts = s.timesteps;
      ts.forEach((t, i) => {
        const a = s.alphasCumprod[t]!;
        const xt = tensor(hostBuffer(x0).map((v, k) => Math.sqrt(a) * v + Math.sqrt(1 - a) * hostBuffer(eps)[k]!), x0.shape, { dtype: 'float64' });
        const r = s.step(eps, t, xt);
        const sig = s.sigmas[i + 1]!;
        const aPrev = 1 / (1 + sig * sig);
        assertClose(hostBuffer(r.prevSample), hostBuffer(x0).map((v, k) => Math.sqrt(aPrev) * v + Math.sqrt(1 - aPrev) * hostBuffer(eps)[k]!), { nmseTol: 1e-24, absTol: 1e-11, what: `${algorithm_type} t=${t}` });
        assertClose(hostBuffer(r.predOriginalSample), hostBuffer(x0), { nmseTol: 1e-24, absTol: 1e-11 });
      });
    }
  });

  it('Karras sigmas repeat the last sigma: the final step is the identity (no 0/0, also with heun)', () => {
    const s = new DPMSolverMultistepScheduler({ use_karras_sigmas: true, solver_type: 'heun' });
    s.setTimesteps(20);
    const sig = s.sigmas;
    assert.equal(sig[20], sig[19]);
    let x = randTensor([1, 4], 3);
    for (const t of s.timesteps.slice(0, 19)) x = s.step(tensor(hostBuffer(x).map((v) => 0.1 * v), x.shape), t, x).prevSample;
    const last = s.step(randTensor([1, 4], 4), s.timesteps[19]!, x).prevSample;
    assert.deepEqual(Array.from(hostBuffer(last)), Array.from(hostBuffer(x)));
  });

  it('custom timesteps: sigmas are the training sigmas there, then sigma(t = 0)', () => {
    const s = new DPMSolverMultistepScheduler();
    s.setTimesteps({ timesteps: [999, 500, 20] });
    assert.deepEqual(s.timesteps, [999, 500, 20]);
    assert.deepEqual(Array.from(s.sigmas), [s.trainSigmas[999]!, s.trainSigmas[500]!, s.trainSigmas[20]!, s.trainSigmas[0]!]);
    let x = randTensor([1, 4], 1);
    for (const t of s.timesteps) x = s.step(tensor(hostBuffer(x).map((v) => 0.5 * v), x.shape), t, x).prevSample;
    assert.ok(x.toArray().every(Number.isFinite));
  });

  it('learned variance: the model output carries 2C channels and only the first C are used', () => {
    const a = new DPMSolverMultistepScheduler({ variance_type: 'learned_range' });
    const b = new DPMSolverMultistepScheduler();
    a.setTimesteps(5);
    b.setTimesteps(5);
    const x = randTensor([2, 3, 2], 1);
    const out = randTensor([2, 3, 2], 2);
    const both = tensor(Array.from({ length: 24 }, (_, k) => (k % 4 < 2 ? hostBuffer(out)[Math.floor(k / 4) * 2 + (k % 4)]! : 9)), [2, 3, 4]);
    assert.deepEqual(Array.from(hostBuffer(a.step(both, a.timesteps[0]!, x).prevSample)), Array.from(hostBuffer(b.step(out, b.timesteps[0]!, x).prevSample)));
  });
});

describe('DPMSolverMultistepScheduler: thresholding and euler_at_final', () => {
  const shape = [2, 4, 3, 1];
  for (const algorithm_type of ['dpmsolver++', 'dpmsolver']) {
    it(`${algorithm_type}: dynamic thresholding acts on x_0 (and eps is recomputed from it): a first-order step lands on alpha_t x0_thr + sigma_t eps'`, () => {
      const s = new DPMSolverMultistepScheduler({ algorithm_type, solver_order: 1, thresholding: true, sample_max_value: 1.5, dynamic_thresholding_ratio: 0.9 });
      s.setTimesteps(10);
      const x = randTensor(shape, 1, { dtype: 'float64', lo: -3, hi: 3 });
      const eps = randTensor(shape, 2, { dtype: 'float64' });
      const t = s.timesteps[6]!;
      const r = s.step(eps, t, x);
      const a = (sg: number): [number, number] => [1 / Math.sqrt(sg * sg + 1), sg / Math.sqrt(sg * sg + 1)];
      const [aS, sS] = a(s.sigmas[6]!);
      const [aT, sT] = a(s.sigmas[7]!);
      const x0 = Float64Array.from(hostBuffer(x), (v, k) => (v - sS * hostBuffer(eps)[k]!) / aS);
      dynamicThreshold(x0, 2, 0.9, 1.5);
      assert.ok(x0.some((v, k) => Math.abs(v - (hostBuffer(x)[k]! - sS * hostBuffer(eps)[k]!) / aS) > 1e-3), 'thresholding changed x_0');
      assertClose(hostBuffer(r.predOriginalSample), x0, { nmseTol: 1e-26, absTol: 1e-12, what: 'thresholded x0' });
      const expected = x0.map((v, k) => aT * v + sT * ((hostBuffer(x)[k]! - aS * v) / sS));
      assertClose(hostBuffer(r.prevSample), expected, { nmseTol: 1e-24, absTol: 1e-11, what: 'prev sample' });
    });
  }

  it('euler_at_final: the last of 20 steps is first order, the others unchanged', () => {
    const a = new DPMSolverMultistepScheduler({ euler_at_final: true });
    const b = new DPMSolverMultistepScheduler();
    a.setTimesteps(20);
    b.setTimesteps(20);
    let xa = randTensor(shape, 3, { dtype: 'float64' });
    let xb = xa;
    const ts = a.timesteps;
    ts.forEach((t, i) => {
      const out = randTensor(shape, 10 + i, { dtype: 'float64' });
      const ra = a.step(out, t, xa);
      const rb = b.step(out, t, xb);
      if (i < ts.length - 1) assert.deepEqual(Array.from(hostBuffer(ra.prevSample)), Array.from(hostBuffer(rb.prevSample)));
      else {
        assert.notDeepEqual(Array.from(hostBuffer(ra.prevSample)), Array.from(hostBuffer(rb.prevSample)));
        const sg = a.sigmas;
        const [aT, sT] = [1 / Math.sqrt(sg[20]! ** 2 + 1), sg[20]! / Math.sqrt(sg[20]! ** 2 + 1)];
        const sS = sg[19]! / Math.sqrt(sg[19]! ** 2 + 1);
        const h = Math.log(aT / sT) + Math.log(sg[19]!);
        const expected = hostBuffer(xa).map((v, k) => (sT / sS) * v - aT * Math.expm1(-h) * hostBuffer(ra.predOriginalSample)[k]!);
        assertClose(hostBuffer(ra.prevSample), expected, { nmseTol: 1e-24, absTol: 1e-11, what: 'first-order final step' });
      }
      xa = ra.prevSample;
      xb = rb.prevSample;
    });
  });
});

describe('DPMSolverMultistepScheduler: Gaussian data with the ideal denoiser', () => {
  // Exact moments of the final sample (test/helpers/gaussian_moments.ts); uniform steps in lambda
  // (use_lu_lambdas) so the observed order is clean. Measured errors (mean + std) at 20/40/80/160
  // steps and the orders between them:
  //   dpmsolver++ 1: 1.0; 2M midpoint / heun: -> 2.0; 3M: 4.1, 2.5, 2.2, 2.1 (the first, warm-up
  //   step is first order, local error O(h^2), which caps the global order at 2; 3M's error stays
  //   below 2M's: 9.9e-5 vs 2.8e-4 at 80 steps); SDE variants the same orders.
  const kinds: [Record<string, unknown>, number][] = [];
  for (const algorithm_type of ['dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'sde-dpmsolver']) {
    // SDE-DPM-Solver-1 (noise prediction) is observed second order on Gaussian moments (errors
    // 7.4e-3, 1.7e-3, 4.0e-4, 1.0e-4): its variance error cancels at first order for this model.
    kinds.push([{ algorithm_type, solver_order: 1 }, algorithm_type === 'sde-dpmsolver' ? 2 : 1]);
    kinds.push([{ algorithm_type, solver_order: 2, solver_type: 'midpoint' }, 2]);
    kinds.push([{ algorithm_type, solver_order: 2, solver_type: 'heun' }, 2]);
    kinds.push([{ algorithm_type, solver_order: 3 }, 2]);
  }
  for (const [cfg, order] of kinds) {
    it(`${JSON.stringify(cfg)}: recovers the marginal's mean and std, error order ~${order}`, () => {
      const sde = String(cfg['algorithm_type']).startsWith('sde');
      const runs = [20, 40, 80, 160].map((n) => {
        const s = new DPMSolverMultistepScheduler({ ...cfg, use_lu_lambdas: true });
        s.setTimesteps(n);
        return gaussianRun(s, 'epsilon', sde);
      });
      const last = runs[runs.length - 1]!;
      assert.ok(Math.abs(last.mean - last.targetMean) < 1e-3 && Math.abs(last.std - last.targetStd) < 1e-2, `160 steps: mean ${last.mean} (target ${last.targetMean}), std ${last.std} (target ${last.targetStd})`);
      const orders = observedOrders(runs.map((r) => r.error));
      const tail = orders.slice(-2);
      assert.ok(tail.every((o) => Math.abs(o - order) < 0.35), `observed orders ${orders.map((o) => o.toFixed(2)).join(', ')}, expected ~${order} (errors ${runs.map((r) => r.error.toExponential(2)).join(', ')})`);
      if (cfg['solver_order'] === 3) {
        const second = new DPMSolverMultistepScheduler({ ...cfg, solver_order: 2, use_lu_lambdas: true });
        second.setTimesteps(80);
        assert.ok(runs[2]!.error < gaussianRun(second, 'epsilon', sde).error, 'third order beats second order at 80 steps');
      }
    });
  }

  it('default config (linspace timesteps, 2M), v_prediction and sample prediction, Karras sigmas: second order', () => {
    for (const cfg of [{}, { prediction_type: 'v_prediction' }, { prediction_type: 'sample' }, { use_karras_sigmas: true }] as Record<string, unknown>[]) {
      const errs = [40, 80, 160, 320].map((n) => {
        const s = new DPMSolverMultistepScheduler(cfg);
        s.setTimesteps(n);
        return gaussianRun(s, (cfg['prediction_type'] as 'epsilon' | undefined) ?? 'epsilon').error;
      });
      const orders = observedOrders(errs);
      assert.ok(Math.abs(orders[orders.length - 1]! - 2) < 0.3, `${JSON.stringify(cfg)}: orders ${orders.map((o) => o.toFixed(2)).join(', ')}`);
    }
  });
});

describe('DPMSolverMultistepScheduler: run state and errors', () => {
  const run = (s: DPMSolverMultistepScheduler, n: number, seed: number, batch = 2): number[] => {
    s.setTimesteps(n);
    const gen = new Generator(seed);
    let x = gen.normal([batch, 3, 2, 1]);
    for (const t of s.timesteps) x = s.step(tensor(hostBuffer(x).map((v) => 0.2 * v + 0.1), x.shape), t, x, { generator: gen }).prevSample;
    return Array.from(hostBuffer(x));
  };

  for (const cfg of [{ solver_order: 3 }, { algorithm_type: 'sde-dpmsolver++' }] as Record<string, unknown>[]) {
    it(`${JSON.stringify(cfg)}: a second run, or one after a different run, equals a fresh scheduler`, () => {
      const fresh = run(new DPMSolverMultistepScheduler(cfg), 12, 5);
      const reused = new DPMSolverMultistepScheduler(cfg);
      run(reused, 7, 1, 4);
      assert.deepEqual(run(reused, 12, 5), fresh);
      // Two batches in a row without setTimesteps: the second starts a new chain at timesteps[0].
      const twice = new DPMSolverMultistepScheduler(cfg);
      run(twice, 12, 5);
      const gen = new Generator(5);
      let x = gen.normal([2, 3, 2, 1]);
      for (const t of twice.timesteps) x = twice.step(tensor(hostBuffer(x).map((v) => 0.2 * v + 0.1), x.shape), t, x, { generator: gen }).prevSample;
      assert.deepEqual(Array.from(hostBuffer(x)), fresh);
    });
  }

  it('errors name the op, the argument and what was expected', () => {
    const x = randTensor([2, 4], 1);
    assert.throws(() => new DPMSolverMultistepScheduler().step(x, 999, x), /DPMSolverMultistepScheduler.step: call setTimesteps\(numInferenceSteps\) before step/);
    const s = new DPMSolverMultistepScheduler();
    s.setTimesteps(10);
    assert.throws(() => s.step(x, 998, x), /timestep 998 is not one of this run's timesteps \[999, 899/);
    assert.throws(() => s.step(randTensor([2, 5], 2), 999, x), /input 'modelOutput' has shape \[2, 5\], expected \[2, 4\]/);
    s.step(x, 999, x);
    assert.throws(() => s.step(randTensor([3, 4], 2), 899, randTensor([3, 4], 3)), /input 'x' has shape \[3, 4\] but the previous step of this run had \[2, 4\]/);
    const sde = new DPMSolverMultistepScheduler({ algorithm_type: 'sde-dpmsolver++' });
    sde.setTimesteps(10);
    assert.throws(() => sde.step(x, 999, x), /this step adds Gaussian noise; pass \{ generator \}/);
    assert.throws(() => s.setTimesteps(0), /num_inference_steps must be an integer in \[1, num_train_timesteps = 1000\], found 0/);
  });
});
