/**
 * DEISMultistepScheduler: the first steps against an independent float64 oracle (the AB-DEIS
 * update x_t = alpha_t (x_s / alpha_s + int eps(rho) drho) with the Lagrange polynomial in log rho
 * integrated by composite Simpson quadrature instead of the closed forms), DDIM equivalence of
 * order 1, diffusers-style timesteps (same spacing as DPMSolverMultistep / UniPC in 0.25.1), config
 * round trip, no state leaking between runs, and the Gaussian-data oracle at orders 1-3.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { DEISMultistepScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler, schedulerFromConfig } from '../../src/schedulers/index.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { gaussianRun, observedOrders } from '../helpers/gaussian_moments.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** diffusers 0.25.1's DEISMultistepScheduler() config. */
const DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
  algorithm_type: 'deis',
  solver_type: 'logrho',
  lower_order_final: true,
  use_karras_sigmas: false,
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

/** int_a^b f(r) dr by composite Simpson with 2000 panels (float64; f smooth in log r). */
function simpson(f: (r: number) => number, a: number, b: number): number {
  const n = 2000;
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

/** Lagrange basis polynomial j over nodes (in log rho), evaluated at log r. */
function lagrange(nodes: readonly number[], j: number): (r: number) => number {
  return (r) => {
    const L = Math.log(r);
    let p = 1;
    nodes.forEach((n, k) => {
      if (k !== j) p *= (L - Math.log(n)) / (Math.log(nodes[j]!) - Math.log(n));
    });
    return p;
  };
}

describe('DEISMultistepScheduler: config and timesteps', () => {
  it('defaults in diffusers 0.25.1 key order; round trip; other DPM-family configs are read as diffusers does', () => {
    const { _diffusers_version: _v, ...rest } = new DEISMultistepScheduler().toConfig();
    assert.deepEqual(rest, { _class_name: 'DEISMultistepScheduler', ...DEFAULTS });
    assert.deepEqual(Object.keys(rest), ['_class_name', ...Object.keys(DEFAULTS)]);
    const s = new DEISMultistepScheduler({ solver_order: 3, use_karras_sigmas: true, timestep_spacing: 'leading', steps_offset: 1, prediction_type: 'v_prediction' });
    const back = schedulerFromConfig(JSON.parse(JSON.stringify(s.toConfig())));
    assert.ok(back instanceof DEISMultistepScheduler);
    assert.deepEqual(back.toConfig(), s.toConfig());
    const fromDpm = schedulerFromConfig(new DPMSolverMultistepScheduler().toConfig(), 'DEISMultistepScheduler') as DEISMultistepScheduler;
    assert.equal(fromDpm.config.algorithmType, 'deis');
    assert.equal(fromDpm.config.solverType, 'logrho');
    assert.throws(() => new DEISMultistepScheduler({ algorithm_type: 'sde-dpmsolver' }), /DEISMultistepScheduler: config key "algorithm_type" has value "sde-dpmsolver"; allowed: one of "deis"/);
  });

  it('timesteps and sigmas equal UniPC / DPMSolverMultistep ones (one spacing rule in diffusers 0.25.1)', () => {
    for (const timestep_spacing of ['linspace', 'leading', 'trailing']) {
      for (const n of [1, 7, 20, 50]) {
        const d = new DEISMultistepScheduler({ timestep_spacing });
        const u = new UniPCMultistepScheduler({ timestep_spacing });
        d.setTimesteps(n);
        u.setTimesteps(n);
        assert.deepEqual(d.timesteps, u.timesteps);
        assert.deepEqual(Array.from(d.sigmas), Array.from(u.sigmas));
      }
    }
  });
});

describe('DEISMultistepScheduler: first steps against quadrature (float64)', () => {
  const shape = [2, 3, 1];
  const xT = randTensor(shape, 1, { dtype: 'float64' });
  const outs = [2, 3, 4].map((seed) => randTensor(shape, seed, { dtype: 'float64' }));

  for (const order of [2, 3]) {
    it(`order ${order}: DDIM first step, then the Lagrange-in-log-rho integral of the eps outputs`, () => {
      const s = new DEISMultistepScheduler({ solver_order: order });
      s.setTimesteps(10);
      const rho = s.sigmas; // rho = sigma_t / alpha_t is the scheduler's sigma
      const alpha = (i: number): number => 1 / Math.sqrt(rho[i]! ** 2 + 1);
      let x = xT;
      const eps: Float64Array[] = [];
      for (let i = 0; i < 3; i++) {
        const r = s.step(outs[i]!, s.timesteps[i]!, x);
        eps.push(hostBuffer(outs[i]!) as Float64Array);
        const k = Math.min(order, i + 1);
        const nodes = Array.from({ length: k }, (_, j) => rho[i - j]!);
        const w = nodes.map((_, j) => simpson(lagrange(nodes, j), rho[i]!, rho[i + 1]!));
        const expected = hostBuffer(x).map((v, e) => alpha(i + 1) * (v / alpha(i) + w.reduce((acc, wj, j) => acc + wj * eps[i - j]![e]!, 0)));
        assertClose(hostBuffer(r.prevSample), expected, { nmseTol: 1e-22, absTol: 1e-10, what: `step ${i} (order ${k})` });
        x = r.prevSample;
      }
    });
  }

  it('order 1 is DDIM: the true eps moves x_t to sqrt(abar_s) x0 + sqrt(1 - abar_s) eps exactly', () => {
    const s = new DEISMultistepScheduler({ solver_order: 1 });
    s.setTimesteps(10);
    const x0 = randTensor(shape, 5, { dtype: 'float64' });
    const eps = randTensor(shape, 6, { dtype: 'float64' });
    s.timesteps.forEach((t, i) => {
      const a = s.alphasCumprod[t]!;
      const xt = tensor(hostBuffer(x0).map((v, k) => Math.sqrt(a) * v + Math.sqrt(1 - a) * hostBuffer(eps)[k]!), shape, { dtype: 'float64' });
      const aPrev = 1 / (1 + s.sigmas[i + 1]! ** 2);
      const r = s.step(eps, t, xt);
      assertClose(hostBuffer(r.prevSample), hostBuffer(x0).map((v, k) => Math.sqrt(aPrev) * v + Math.sqrt(1 - aPrev) * hostBuffer(eps)[k]!), { nmseTol: 1e-24, absTol: 1e-11 });
      assertClose(hostBuffer(r.predOriginalSample), hostBuffer(x0), { nmseTol: 1e-24, absTol: 1e-11 });
    });
  });
});

describe('DEISMultistepScheduler: Gaussian data with the ideal denoiser', () => {
  // Exact final moments, Karras sigmas. Measured errors at 24/48/96/192 steps: order 1 3.9e-2 ...
  // 5.0e-3 (orders 0.98, 0.99, 1.00); order 2 6.1e-3 ... 8.6e-5 (2.07, 2.05, 2.03); order 3 9.2e-4
  // ... 3.6e-6 (2.31, 2.77, 2.91, then 2.96 at 384).
  for (const [order, expected, tol] of [[1, 1, 0.15], [2, 2, 0.15], [3, 3, 0.25]] as const) {
    it(`order ${order}: converges at order ~${expected}`, () => {
      const errs = [24, 48, 96, 192].map((n) => {
        const s = new DEISMultistepScheduler({ solver_order: order, use_karras_sigmas: true });
        s.setTimesteps(n);
        return gaussianRun(s).error;
      });
      const orders = observedOrders(errs);
      assert.ok(Math.abs(orders[orders.length - 1]! - expected) < tol, `orders ${orders.map((o) => o.toFixed(2)).join(', ')} (errors ${errs.map((e) => e.toExponential(2)).join(', ')})`);
    });
  }

  it('v_prediction and sample prediction give the same trajectory as epsilon for the same ideal model', () => {
    const runs = (['epsilon', 'v_prediction', 'sample'] as const).map((prediction_type) => {
      const s = new DEISMultistepScheduler({ prediction_type, solver_order: 3 });
      s.setTimesteps(20);
      return gaussianRun(s, prediction_type);
    });
    for (const r of runs.slice(1)) assert.ok(Math.abs(r.std - runs[0]!.std) < 1e-9 && Math.abs(r.mean - runs[0]!.mean) < 1e-9);
  });
});

describe('DEISMultistepScheduler: run state and errors', () => {
  it('a second run, or one after a different run, equals a fresh scheduler', () => {
    const run = (s: DEISMultistepScheduler, n: number, seed: number, batch = 2): number[] => {
      s.setTimesteps(n);
      let x = new Generator(seed).normal([batch, 3, 2, 1]);
      for (const t of s.timesteps) x = s.step(tensor(hostBuffer(x).map((v) => 0.2 * v + 0.1), x.shape), t, x).prevSample;
      return Array.from(hostBuffer(x));
    };
    const fresh = run(new DEISMultistepScheduler({ solver_order: 3 }), 12, 5);
    const reused = new DEISMultistepScheduler({ solver_order: 3 });
    run(reused, 7, 1, 4);
    assert.deepEqual(run(reused, 12, 5), fresh);
    assert.deepEqual(run(reused, 12, 5), fresh);
  });

  it('errors name the op, the argument and what was expected', () => {
    const x = randTensor([2, 4], 1);
    assert.throws(() => new DEISMultistepScheduler().step(x, 999, x), /DEISMultistepScheduler.step: call setTimesteps\(numInferenceSteps\) before step/);
    const s = new DEISMultistepScheduler();
    s.setTimesteps(10);
    assert.throws(() => s.step(x, 1, x), /timestep 1 is not one of this run's timesteps/);
  });
});
