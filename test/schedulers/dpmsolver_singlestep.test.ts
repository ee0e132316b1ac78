/**
 * DPMSolverSinglestepScheduler: diffusers' order list, the steps of a group against an independent
 * float64 oracle (heun variants: the exponential integrator of the Lagrange interpolant through the
 * group's model outputs, integrated by Simpson quadrature; midpoint variants: the DPM-Solver-2/3
 * formulas written out by hand), config round trip, no state leaking between runs, and the
 * Gaussian-data oracle at orders 1-3 for both algorithm types and solver types.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { DPMSolverSinglestepScheduler, singlestepOrders, schedulerFromConfig } from '../../src/schedulers/index.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { gaussianRun, observedOrders } from '../helpers/gaussian_moments.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** diffusers 0.25.1's DPMSolverSinglestepScheduler() config. */
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
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: true,
  use_karras_sigmas: false,
  lambda_min_clipped: '-inf',
  variance_type: null,
};

function simpson(f: (u: number) => number, a: number, b: number): number {
  const n = 2000;
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

describe('DPMSolverSinglestepScheduler: config and order list', () => {
  it('defaults in diffusers 0.25.1 key order; round trip through JSON text and schedulerFromConfig', () => {
    const { _diffusers_version: _v, ...rest } = new DPMSolverSinglestepScheduler().toConfig();
    assert.deepEqual(rest, { _class_name: 'DPMSolverSinglestepScheduler', ...DEFAULTS });
    assert.deepEqual(Object.keys(rest), ['_class_name', ...Object.keys(DEFAULTS)]);
    const s = new DPMSolverSinglestepScheduler({ solver_order: 3, algorithm_type: 'dpmsolver', solver_type: 'heun', use_karras_sigmas: true, lambda_min_clipped: -5.1 });
    const back = schedulerFromConfig(JSON.parse(JSON.stringify(s.toConfig())));
    assert.ok(back instanceof DPMSolverSinglestepScheduler);
    assert.deepEqual(back.toConfig(), s.toConfig());
    assert.throws(() => new DPMSolverSinglestepScheduler({ algorithm_type: 'sde-dpmsolver++' }), /config key "algorithm_type" has value "sde-dpmsolver\+\+"; allowed: one of "dpmsolver", "dpmsolver\+\+"/);
  });

  it("order list is diffusers' get_order_list (lower_order_final forced on when N is not a multiple of the order)", () => {
    assert.deepEqual(singlestepOrders(6, 3, true), [1, 2, 3, 1, 2, 1]);
    assert.deepEqual(singlestepOrders(7, 3, true), [1, 2, 3, 1, 2, 3, 1]);
    assert.deepEqual(singlestepOrders(8, 3, true), [1, 2, 3, 1, 2, 3, 1, 2]);
    assert.deepEqual(singlestepOrders(6, 3, false), [1, 2, 3, 1, 2, 3]);
    assert.deepEqual(singlestepOrders(7, 3, false), [1, 2, 3, 1, 2, 3, 1]);
    assert.deepEqual(singlestepOrders(5, 2, true), [1, 2, 1, 2, 1]);
    assert.deepEqual(singlestepOrders(4, 2, false), [1, 2, 1, 2]);
    assert.deepEqual(singlestepOrders(3, 1, true), [1, 1, 1]);
    const s = new DPMSolverSinglestepScheduler({ solver_order: 3 });
    s.setTimesteps(9);
    assert.deepEqual(s.orderList, [1, 2, 3, 1, 2, 3, 1, 2, 1]);
    assert.deepEqual(s.timesteps, [999, 888, 777, 666, 555, 444, 333, 222, 111]);
  });
});

describe('DPMSolverSinglestepScheduler: a group of steps against hand-derived oracles (float64)', () => {
  const shape = [2, 3, 1];
  const xS = randTensor(shape, 1, { dtype: 'float64' });
  const outs = [2, 3, 4].map((seed) => randTensor(shape, seed, { dtype: 'float64' }));

  /** Runs the first `k` steps (one group of order k) and returns each step's prevSample. */
  function group(s: DPMSolverSinglestepScheduler, k: number): Tensor[] {
    let x = xS;
    const res: Tensor[] = [];
    for (let i = 0; i < k; i++) {
      const r = s.step(outs[i]!, s.timesteps[i]!, x);
      res.push(r.prevSample);
      x = r.prevSample;
    }
    return res;
  }

  for (const algorithm_type of ['dpmsolver++', 'dpmsolver'] as const) {
    it(`${algorithm_type}, heun, order 3: each step is the exponential integrator of the interpolant from the group start`, () => {
      const s = new DPMSolverSinglestepScheduler({ solver_order: 3, solver_type: 'heun', algorithm_type });
      s.setTimesteps(9);
      const sg = s.sigmas;
      const vp = (i: number): { a: number; s: number; l: number } => {
        const a = 1 / Math.sqrt(sg[i]! ** 2 + 1);
        return { a, s: sg[i]! * a, l: -Math.log(sg[i]!) };
      };
      const samples = group(s, 3);
      // The converted outputs (x_0 or eps) at points 0, 1, 2; x at point j is the previous step's result.
      const xs = [hostBuffer(xS), hostBuffer(samples[0]!), hostBuffer(samples[1]!)];
      const conv = (j: number, e: number): number => {
        const p = vp(j);
        const o = hostBuffer(outs[j]!)[e]!;
        return algorithm_type === 'dpmsolver++' ? (xs[j]![e]! - p.s * o) / p.a : o;
      };
      for (let k = 1; k <= 3; k++) {
        const p0 = vp(0);
        const pt = vp(k);
        const h = pt.l - p0.l;
        const nodes = Array.from({ length: k }, (_, j) => vp(j).l - p0.l); // u_j
        const expected = hostBuffer(xS).map((v, e) => {
          const interp = (u: number): number => nodes.reduce((acc, uj, j) => acc + conv(j, e) * nodes.reduce((pr, um, m) => (m === j ? pr : (pr * (u - um)) / (uj - um)), 1), 0);
          if (algorithm_type === 'dpmsolver++') return (pt.s / p0.s) * v + pt.a * simpson((u) => Math.exp(-(h - u)) * interp(u), 0, h);
          return (pt.a / p0.a) * v - pt.s * simpson((u) => Math.exp(h - u) * interp(u), 0, h);
        });
        assertClose(hostBuffer(samples[k - 1]!), expected, { nmseTol: 1e-22, absTol: 1e-10, what: `step ${k - 1} (order ${k})` });
      }
    });
  }

  it('dpmsolver++, midpoint: DPM-Solver++(2S) and the DPM-Solver-3 midpoint formula written out', () => {
    for (const order of [2, 3]) {
      const s = new DPMSolverSinglestepScheduler({ solver_order: order, solver_type: 'midpoint' });
      s.setTimesteps(12);
      const sg = s.sigmas;
      const vp = (i: number): { a: number; s: number; l: number } => {
        const a = 1 / Math.sqrt(sg[i]! ** 2 + 1);
        return { a, s: sg[i]! * a, l: -Math.log(sg[i]!) };
      };
      const samples = group(s, order);
      const xs = [hostBuffer(xS), hostBuffer(samples[0]!), samples[1] !== undefined ? hostBuffer(samples[1]) : undefined];
      const x0 = (j: number, e: number): number => (xs[j]![e]! - vp(j).s * hostBuffer(outs[j]!)[e]!) / vp(j).a;
      const pt = vp(order);
      const p0 = vp(0);
      const h = pt.l - p0.l;
      const expected = hostBuffer(xS).map((v, e) => {
        // Last node j = order - 1 at r = (lambda_j - lambda_0) / h.
        const j = order - 1;
        const r = (vp(j).l - p0.l) / h;
        const D1 = (x0(j, e) - x0(0, e)) / r;
        const base = (pt.s / p0.s) * v - pt.a * Math.expm1(-h) * x0(0, e);
        return order === 2 ? base - 0.5 * pt.a * Math.expm1(-h) * D1 : base + pt.a * (Math.expm1(-h) / h + 1) * D1;
      });
      assertClose(hostBuffer(samples[order - 1]!), expected, { nmseTol: 1e-24, absTol: 1e-11, what: `order ${order}` });
    }
  });
});

describe('DPMSolverSinglestepScheduler: Gaussian data with the ideal denoiser', () => {
  // Exact final moments, Karras sigmas, 24/48/96/192 steps. Measured orders (last two): order 1
  // 0.99, 1.00; order 2 midpoint 1.97, 1.99 (dpmsolver 2.04, 2.02), heun 1.99, 1.99; order 3
  // midpoint 3.01, 3.01 (dpmsolver 2.94, 2.98), heun 3.00, 3.00 (dpmsolver 3.20, 3.11).
  for (const algorithm_type of ['dpmsolver++', 'dpmsolver']) {
    for (const solver_type of ['midpoint', 'heun']) {
      for (const order of [1, 2, 3]) {
        if (order === 1 && solver_type === 'heun') continue;
        it(`${algorithm_type} ${solver_type} order ${order}: converges at order ${order}`, () => {
          const errs = [24, 48, 96, 192].map((n) => {
            const s = new DPMSolverSinglestepScheduler({ solver_order: order, algorithm_type, solver_type, use_karras_sigmas: true });
            s.setTimesteps(n);
            return gaussianRun(s).error;
          });
          const orders = observedOrders(errs);
          assert.ok(Math.abs(orders[orders.length - 1]! - order) < 0.25, `orders ${orders.map((o) => o.toFixed(2)).join(', ')} (errors ${errs.map((e) => e.toExponential(2)).join(', ')})`);
        });
      }
    }
  }
});

describe('DPMSolverSinglestepScheduler: run state and errors', () => {
  it('a second run, one after a different run, or a chain starting mid-group equals the fresh behaviour', () => {
    const run = (s: DPMSolverSinglestepScheduler, n: number, seed: number, from = 0, batch = 2): number[] => {
      s.setTimesteps(n);
      let x = new Generator(seed).normal([batch, 3, 2, 1]);
      for (const t of s.timesteps.slice(from)) x = s.step(tensor(hostBuffer(x).map((v) => 0.2 * v + 0.1), x.shape), t, x).prevSample;
      return Array.from(hostBuffer(x));
    };
    const fresh = run(new DPMSolverSinglestepScheduler({ solver_order: 3 }), 12, 5);
    const reused = new DPMSolverSinglestepScheduler({ solver_order: 3 });
    run(reused, 7, 1, 0, 4);
    assert.deepEqual(run(reused, 12, 5), fresh);
    // img2img-style start at step 1 (order 2 in the list): lowered to order 1, no stale memory.
    const a = run(new DPMSolverSinglestepScheduler({ solver_order: 3 }), 12, 6, 1);
    const b = new DPMSolverSinglestepScheduler({ solver_order: 3 });
    run(b, 12, 9);
    assert.deepEqual(run(b, 12, 6, 1), a);
  });

  it('errors name the op, the argument and what was expected', () => {
    const x = randTensor([2, 4], 1);
    assert.throws(() => new DPMSolverSinglestepScheduler().step(x, 999, x), /DPMSolverSinglestepScheduler.step: call setTimesteps\(numInferenceSteps\) before step/);
    const s = new DPMSolverSinglestepScheduler({ variance_type: 'learned' });
    s.setTimesteps(4);
    assert.throws(() => s.step(x, 999, x), /input 'modelOutput' has shape \[2, 4\], expected \[2, 8\]/);
  });
});
