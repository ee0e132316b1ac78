// Tests of AdamW (torch.optim.AdamW semantics): closed-form steps in float64, decoupled weight
// decay, native vs reference over several steps, state round trip, and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW } from '../../src/nn/adamw.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { ArgumentError, DTypeError, ShapeError } from '../../src/tensor/errors.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor, uniformValues } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const f64 = (values: number[], shape = [values.length]): Tensor => tensor(values, shape, { dtype: 'float64', requiresGrad: true });
const withGrad = (p: Tensor, g: ArrayLike<number>): void => {
  p.grad = tensor(g, p.shape, { dtype: p.dtype });
};

describe('AdamW', () => {
  it('first step, by hand: p1 = p0 (1 - lr wd) - lr g / (|g| + eps) (torch defaults otherwise)', () => {
    withBackend('reference', () => {
      const p0 = [0.5, -1.25, 2, 0.125, -0.75];
      const g = [0.3, -2, 1e-9, 0, -5e-4];
      const lr = 0.1;
      const wd = 0.05;
      const eps = 1e-8;
      const p = f64(p0);
      const opt = new AdamW([p], { lr, weightDecay: wd });
      withGrad(p, g);
      opt.step();
      // m1 = (1-b1) g and v1 = (1-b2) g^2, so the bias-corrected m/sqrt(v) is g/|g| up to eps.
      const expected = p0.map((x, i) => x * (1 - lr * wd) - (lr * g[i]!) / (Math.abs(g[i]!) + eps));
      assertClose(hostBuffer(p), expected, { nmseTol: 1e-28, absTol: 1e-15, what: 'p after one step' });
      assert.deepEqual(opt.getState().step, [1]);
      assertClose(hostBuffer(opt.getState().expAvg[0]!), g.map((x) => 0.1 * x), { nmseTol: 1e-28, absTol: 1e-16, what: 'exp_avg' });
      assertClose(hostBuffer(opt.getState().expAvgSq[0]!), g.map((x) => 0.001 * x * x), { nmseTol: 1e-28, absTol: 1e-16, what: 'exp_avg_sq' });
    });
  });

  it('constant gradient for t steps, by hand: p_t = a^t p0 - c (1 - a^t) / (1 - a), a = 1 - lr wd, c = lr g / (|g| + eps)', () => {
    // With a constant g the bias corrections make m_hat = g and v_hat = g^2 exactly at every step.
    withBackend('reference', () => {
      const p0 = [1, -2, 0.5];
      const g = [0.25, -4, 1e-3];
      const lr = 0.01;
      const wd = 0.1;
      const eps = 1e-8;
      const steps = 7;
      const p = f64(p0);
      const opt = new AdamW([p], { lr, betas: [0.8, 0.95], eps, weightDecay: wd });
      for (let t = 0; t < steps; t++) {
        withGrad(p, g);
        opt.step();
      }
      const a = 1 - lr * wd;
      const expected = p0.map((x, i) => a ** steps * x - ((lr * g[i]!) / (Math.abs(g[i]!) + eps)) * ((1 - a ** steps) / (1 - a)));
      assertClose(hostBuffer(p), expected, { nmseTol: 1e-26, absTol: 1e-13, what: `p after ${steps} steps` });
    });
  });

  it('weight decay is decoupled: a zero gradient only shrinks p by (1 - lr wd) per step, on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      withBackend(b, () => {
        const p = tensor([1, -3, 0.25, 8], [2, 2], { requiresGrad: true });
        const opt = new AdamW([p], { lr: 0.5, weightDecay: 0.2 });
        for (let t = 0; t < 3; t++) {
          withGrad(p, [0, 0, 0, 0]);
          opt.step();
        }
        assertClose(hostBuffer(p), [1, -3, 0.25, 8].map((x) => x * 0.9 ** 3), { nmseTol: 1e-13, absTol: 1e-6, what: `${b}: decayed p` });
      });
    }
  });

  it('native matches reference over several steps (odd shapes, one large enough for threads)', () => {
    const shapes = [[3, 5, 7, 3], [13], [1, 1], [2, 129, 130, 1]];
    const run = (b: 'native' | 'reference'): Tensor[] =>
      withBackend(b, () => {
        const params = shapes.map((s, i) => randTensor(s, 100 + i, { requiresGrad: true }));
        const opt = new AdamW(params, { lr: 3e-3, weightDecay: 0.05 });
        for (let t = 0; t < 5; t++) {
          params.forEach((p, i) => withGrad(p, uniformValues(p.size, 1000 * t + i, -2, 2)));
          opt.step();
        }
        const st = opt.getState();
        return [...params, ...st.expAvg, ...st.expAvgSq];
      });
    const n = run('native');
    const r = run('reference');
    n.forEach((t, i) => assertClose(hostBuffer(t), hostBuffer(r[i]!), { nmseTol: 1e-12, absTol: 1e-6, what: `buffer ${i}` }));
  });

  it('NaN gradients propagate into the parameter on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      withBackend(b, () => {
        const p = tensor([1, 2], [2], { requiresGrad: true });
        const opt = new AdamW([p]);
        withGrad(p, [NaN, 1]);
        opt.step();
        assert.ok(Number.isNaN(hostBuffer(p)[0]) && !Number.isNaN(hostBuffer(p)[1]), `${b}: ${hostBuffer(p)}`);
      });
    }
  });

  it('skips parameters without a gradient (their step count stays), zeroGrad drops gradients', () => {
    const a = tensor([1, 2], [2], { requiresGrad: true });
    const b = tensor([3], [1], { requiresGrad: true });
    const opt = new AdamW([a, b]);
    withGrad(a, [1, 1]);
    opt.step();
    assert.deepEqual([...hostBuffer(b)], [3]);
    assert.deepEqual(opt.getState().step, [1, 0]);
    opt.zeroGrad();
    assert.equal(a.grad, null);
    opt.step();
    assert.deepEqual(opt.getState().step, [1, 0]);
  });

  it('state round trip: a restored optimizer continues exactly like the original', () => {
    const make = (): Tensor[] => [randTensor([4, 3], 7, { requiresGrad: true }), randTensor([5], 8, { requiresGrad: true })];
    const grads = (t: number, ps: Tensor[]): void => ps.forEach((p, i) => withGrad(p, uniformValues(p.size, 50 + 10 * t + i)));
    const pa = make();
    const optA = new AdamW(pa, { lr: 0.02, betas: [0.85, 0.99] });
    for (let t = 0; t < 3; t++) {
      grads(t, pa);
      optA.step();
    }
    const saved = optA.getState();
    const pb = pa.map((p) => new Tensor(hostBuffer(p).slice(), p.shape, true));
    const optB = new AdamW(pb); // default hyperparameters, replaced by the saved ones
    optB.setState(saved);
    assert.equal(optB.lr, 0.02);
    assert.deepEqual(optB.betas, [0.85, 0.99]);
    for (let t = 3; t < 6; t++) {
      grads(t, pa);
      grads(t, pb);
      optA.step();
      optB.step();
    }
    pa.forEach((p, i) => assert.deepEqual(hostBuffer(pb[i]!), hostBuffer(p)));
    // getState returned copies: later steps did not change the saved buffers.
    assert.deepEqual(saved.step, [3, 3]);
    assert.notDeepEqual(hostBuffer(saved.expAvg[0]!), hostBuffer(optA.getState().expAvg[0]!));
  });

  it('rejects bad parameters, hyperparameters, gradients and states with messages naming them', () => {
    const p = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    assert.throws(() => new AdamW('x' as never), /AdamW: 'params' must be an array of Tensors, found string/);
    assert.throws(() => new AdamW([p, [1] as never]), /AdamW: params\[1\] must be a Tensor/);
    assert.throws(() => new AdamW([p, p]), /AdamW: params\[1\] appears more than once/);
    assert.throws(() => new AdamW([p], { lr: -1 }), /AdamW: 'lr' must be a number in \[0, inf\], found -1/);
    assert.throws(() => new AdamW([p], { betas: [0.9, 1] }), /AdamW: 'betas\[1\]' must be a number in \[0, 1\), found 1/);
    assert.throws(() => new AdamW([p], { eps: NaN }), /'eps' must be a number/);
    assert.throws(() => new AdamW([p], { weightDecay: '0.1' as never }), /'weightDecay' must be a number in \[0, inf\], found string/);
    const opt = new AdamW([p]);
    p.grad = tensor([1, 2, 3], [3]);
    assert.throws(() => opt.step(), (e: Error) => e instanceof ShapeError && /AdamW.step: params\[0\] has shape \[2, 2\] but its grad has shape \[3\]/.test(e.message));
    p.grad = tensor([1, 2, 3, 4], [2, 2], { dtype: 'float64' });
    assert.throws(() => opt.step(), DTypeError);
    assert.deepEqual([...hostBuffer(p)], [1, 2, 3, 4], 'a rejected step leaves the parameters untouched');
    assert.throws(() => opt.setState({ ...opt.getState(), expAvg: [] }), /AdamW.setState: state.expAvg must be an array of 1 entries/);
    assert.throws(() => opt.setState({ ...opt.getState(), expAvgSq: [tensor([1], [1])] }), /state.expAvgSq\[0\] has shape \[1\], expected params\[0\]'s \[2, 2\]/);
    assert.throws(() => opt.setState(null as never), ArgumentError);
    // float64 parameters run on the reference kernels, whichever backend is current.
    const q = f64([1, 2]);
    const q2 = f64([1, 2]);
    const optQ = new AdamW([q]);
    const optQ2 = new AdamW([q2]);
    withGrad(q, [1, 1]);
    withGrad(q2, [1, 1]);
    withBackend('native', () => optQ.step());
    withBackend('reference', () => optQ2.step());
    assert.deepEqual([...hostBuffer(q)], [...hostBuffer(q2)]);
  });
});
